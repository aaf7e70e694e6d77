"""The content items service's rules (SPEC §2.4, §2.6, §3.6, §3.9, §3.11), through
``offerdesk.content.service`` with a real database session: no HTTP, no GraphQL.

Covers the URL rule (http or https with a host, at most 2048 characters, trimmed; refused on
``content_item.url``), the type fixed at creation, titles and refs (``content_item.title``,
CONFLICT on ``content_item.ref``), the look-ups, ``page`` by type and search, and ``archive``
(twice is a success; unknown ids fail). Every test runs on SQLite and PostgreSQL.
"""

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.content import service as content
from offerdesk.content.models import ContentType
from offerdesk.content.service import MAX_URL_LENGTH, ContentFilter
from offerdesk.db import Database
from offerdesk.errors import ErrorCode

from ..helpers import snapshot
from ..service_helpers import in_transaction, make_content, reading, refusal


async def stored_url(db: Database, id_: uuid.UUID) -> str | None:
    return (await reading(db, lambda session: content.get(session, id_))).url


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/file",
        "example.com/page",
        "https://",
        "javascript:alert(1)",
        "https://example.com/" + "a" * (MAX_URL_LENGTH - len("https://example.com/") + 1),
        "https://example.com/\x00",
    ],
)
async def test_url_that_is_not_http_with_a_host_or_too_long_is_refused_on_content_item_url(
    db: Database, url: str
) -> None:
    before = await snapshot(db)
    await refusal(
        db,
        lambda session: content.create(
            session, {"type": ContentType.VIDEO, "title": "Clip", "url": url}
        ),
        ErrorCode.BAD_USER_INPUT,
        "content_item.url",
    )
    assert await snapshot(db) == before


async def test_url_is_stored_trimmed_up_to_2048_characters_and_none_clears_it(
    db: Database,
) -> None:
    longest = "http://example.com/" + "a" * (MAX_URL_LENGTH - len("http://example.com/"))
    item = await make_content(db, ContentType.VIDEO, url=f"  {longest}\n")
    assert await stored_url(db, item.id) == longest
    await in_transaction(db, lambda session: content.update(session, item.id, {"url": None}))
    assert await stored_url(db, item.id) is None


async def test_update_refuses_a_bad_url_and_keeps_the_stored_one(db: Database) -> None:
    item = await make_content(db, url="https://example.com/a")
    await refusal(
        db,
        lambda session: content.update(session, item.id, {"url": "mailto:ada@example.com"}),
        ErrorCode.BAD_USER_INPUT,
        "content_item.url",
    )
    assert await stored_url(db, item.id) == "https://example.com/a"


async def test_the_type_is_fixed_at_creation_and_update_does_not_change_it(
    db: Database,
) -> None:
    item = await make_content(db, ContentType.SCORM)
    await in_transaction(
        db,
        lambda session: content.update(
            session, item.id, {"type": ContentType.VIDEO, "title": "Renamed"}
        ),
    )
    stored = await reading(db, lambda session: content.get(session, item.id))
    assert (stored.type, stored.title) == (ContentType.SCORM, "Renamed")


async def test_create_trims_the_title_and_refuses_an_empty_one_on_content_item_title(
    db: Database,
) -> None:
    item = await make_content(db, title="  Intro  ", description="About")
    assert (item.title, item.description, item.is_active) == ("Intro", "About", True)
    await refusal(
        db,
        lambda session: content.update(session, item.id, {"title": " \t"}),
        ErrorCode.BAD_USER_INPUT,
        "content_item.title",
    )


async def test_a_ref_in_use_is_conflict_on_content_item_ref(db: Database) -> None:
    await make_content(db, ref="c-1")
    await refusal(
        db,
        lambda session: content.create(
            session, {"type": ContentType.COURSE, "title": "Other", "ref": "c-1 "}
        ),
        ErrorCode.CONFLICT,
        "content_item.ref",
    )


async def test_update_of_an_unknown_item_is_not_found_on_id(db: Database) -> None:
    error = await refusal(
        db,
        lambda session: content.update(session, uuid.uuid4(), {"title": "New"}),
        ErrorCode.NOT_FOUND,
        "id",
    )
    assert error.message == "content item not found"


async def test_find_by_id_or_ref_and_get_many_in_the_order_of_ids(db: Database) -> None:
    first = await make_content(db, ref="c-1")
    second = await make_content(db)
    unknown = uuid.uuid4()

    async def look_ups(session: AsyncSession) -> tuple[object, ...]:
        by_ref = await content.find(session, ref="c-1")
        by_id = await content.find(session, id_=second.id)
        missing = await content.find(session, ref="c-9")
        many = await content.get_many(session, [unknown, second.id, first.id])
        return (
            by_ref.id if by_ref else None,
            by_id.id if by_id else None,
            missing,
            [each.id if each else None for each in many],
        )

    assert await reading(db, look_ups) == (first.id, second.id, None, [None, second.id, first.id])


async def test_page_filters_by_type_and_searches_title_or_ref(db: Database) -> None:
    video = await make_content(db, ContentType.VIDEO, title="Welcome clip")
    course = await make_content(db, ContentType.COURSE, title="Basics", ref="WELCOME-2")
    await make_content(db, ContentType.COURSE, title="Advanced")

    async def ids(where: ContentFilter) -> list[uuid.UUID]:
        page = await reading(db, lambda session: content.page(session, where, None, None))
        return [item.id for item, _ in page.items]

    assert await ids(ContentFilter(type=ContentType.VIDEO)) == [video.id]
    assert await ids(ContentFilter(search="welcome")) == [video.id, course.id]
    assert await ids(ContentFilter(type=ContentType.COURSE, search="welcome")) == [course.id]
    assert len(await ids(ContentFilter(search="   "))) == 3


async def test_archive_twice_is_a_success_unknown_ids_fail_and_restore_reactivates(
    db: Database,
) -> None:
    item = await make_content(db)
    unknown = uuid.uuid4()
    for _ in range(2):
        result = await in_transaction(
            db, lambda session: content.archive(session, [item.id, unknown], True)
        )
        assert (result.succeeded, result.failed) == ([item.id], [unknown])
        assert (await reading(db, lambda session: content.get(session, item.id))).is_active is False
    await in_transaction(db, lambda session: content.archive(session, [item.id], False))
    assert (await reading(db, lambda session: content.get(session, item.id))).is_active is True


# KNOWN BUG (reported, src not fixed here): urlsplit raises ValueError("Invalid IPv6 URL") on
# an unmatched bracket, and content/service.py _clean_url does not catch it, so the client gets
# INTERNAL_SERVER_ERROR instead of BAD_USER_INPUT on contentItem.url (SPEC §3.10). This test
# fails until _clean_url refuses such a URL as bad input.
@pytest.mark.parametrize("url", ["http://[example.com", "https://[::1/x", "http://a]b/"])
async def test_url_that_urlsplit_cannot_parse_is_refused_on_content_item_url(
    db: Database, url: str
) -> None:
    await refusal(
        db,
        lambda session: content.create(
            session, {"type": ContentType.VIDEO, "title": "Clip", "url": url}
        ),
        ErrorCode.BAD_USER_INPUT,
        "content_item.url",
    )
