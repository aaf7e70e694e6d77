"""Relay connections (SPEC §2.6): page sizes, cursors, counts, and a stable walk through pages.

Every test runs on each of paginatedOffers, paginatedUsers and paginatedContentItems.
"""

import base64
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.content import service as content_service
from offerdesk.content.models import ContentItem, ContentType
from offerdesk.db import Database, Entity
from offerdesk.offers import service as offers_service
from offerdesk.offers.models import Offer
from offerdesk.users import service as users_service
from offerdesk.users.models import User

from .helpers import Api


async def _offer(session: AsyncSession, label: str) -> Entity:
    return await offers_service.create(session, {"title": label})


async def _user(session: AsyncSession, label: str) -> Entity:
    email = f"{label.replace(' ', '.')}@example.com"
    return await users_service.create(session, {"name": label, "email": email})


async def _content(session: AsyncSession, label: str) -> Entity:
    changes: content_service.ContentChanges = {"type": ContentType.COURSE, "title": label}
    return await content_service.create(session, changes)


@dataclass(frozen=True)
class Listing:
    field: str
    model: type[Entity]
    create: Callable[[AsyncSession, str], Awaitable[Entity]]


LISTINGS = [
    Listing("paginatedOffers", Offer, _offer),
    Listing("paginatedUsers", User, _user),
    Listing("paginatedContentItems", ContentItem, _content),
]


@pytest.fixture(params=LISTINGS, ids=lambda listing: listing.field)
def listing(request: pytest.FixtureRequest) -> Listing:
    chosen: Listing = request.param
    return chosen


async def seed(db: Database, listing: Listing, count: int, label: str = "item") -> list[str]:
    """``count`` rows made through the service, in one transaction; their ids in creation order."""
    async with db.transaction() as session:
        rows = [await listing.create(session, f"{label} {n}") for n in range(count)]
    return [str(row.id) for row in rows]


async def page(api: Api, listing: Listing, arguments: str = "") -> dict[str, Any]:
    field = f"{listing.field}({arguments})" if arguments else listing.field
    data = await api.data(
        "query { %s { count edges { cursor node { id createdAt } } "
        "pageInfo { hasNextPage endCursor } } }" % field
    )
    result: dict[str, Any] = data[listing.field]
    return result


def ids_of(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


async def walk(
    api: Api,
    listing: Listing,
    size: int,
    filters: str = "",
    between_pages: Callable[[], Awaitable[None]] | None = None,
) -> tuple[list[str], list[dict[str, Any]]]:
    """Every id met following ``endCursor`` from the first page to the last, and the pages."""
    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    after = ""
    while True:
        current = await page(api, listing, f"{filters}first: {size}{after}")
        pages.append(current)
        seen += ids_of(current)
        if not current["pageInfo"]["hasNextPage"]:
            return seen, pages
        assert len(current["edges"]) == size
        assert current["pageInfo"]["endCursor"] == current["edges"][-1]["cursor"]
        after = ', after: "%s"' % current["pageInfo"]["endCursor"]
        if between_pages is not None:
            await between_pages()


def creation_order(connection_pages: list[dict[str, Any]]) -> list[str]:
    """The ids sorted by (createdAt, id): the order the API promises to page in."""
    nodes = [edge["node"] for current in connection_pages for edge in current["edges"]]
    return [
        node["id"]
        for node in sorted(
            nodes,
            key=lambda node: (datetime.fromisoformat(node["createdAt"]), uuid.UUID(node["id"])),
        )
    ]


async def test_default_page_size_is_50(api: Api, db: Database, listing: Listing) -> None:
    created = await seed(db, listing, 53)
    first = await page(api, listing)
    assert len(first["edges"]) == 50
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["count"] == 53
    assert set(ids_of(first)) < set(created)


async def test_page_size_may_be_100_but_not_101(api: Api, db: Database, listing: Listing) -> None:
    await seed(db, listing, 102)
    largest = await page(api, listing, "first: 100")
    assert len(largest["edges"]) == 100
    assert largest["pageInfo"]["hasNextPage"] is True

    error = await api.error("query { %s(first: 101) { count } }" % listing.field)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "first"


@pytest.mark.parametrize("first", [0, -1])
async def test_page_size_below_1_is_bad_user_input(
    api: Api, db: Database, listing: Listing, first: int
) -> None:
    await seed(db, listing, 2)
    error = await api.error("query { %s(first: %d) { count } }" % (listing.field, first))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "first"


async def test_walking_pages_visits_every_item_once_in_a_stable_order(
    api: Api, db: Database, listing: Listing
) -> None:
    created = await seed(db, listing, 23)
    seen, pages = await walk(api, listing, size=5)

    assert len(pages) == 5
    assert sorted(seen) == sorted(created)
    assert len(set(seen)) == len(seen)
    assert seen == creation_order(pages)
    again, _ = await walk(api, listing, size=7)
    assert again == seen


async def test_items_sharing_a_created_at_are_paged_by_id_without_repeats_or_gaps(
    api: Api, db: Database, listing: Listing
) -> None:
    created = await seed(db, listing, 12)
    # An import can give many rows one timestamp: the id alone must then order them.
    async with db.transaction() as session:
        await session.execute(
            update(listing.model)
            .where(listing.model.id.in_([uuid.UUID(id_) for id_ in created[2:10]]))
            .values(created_at=datetime(2000, 1, 1, 12, tzinfo=UTC))
        )
    seen, pages = await walk(api, listing, size=3)

    assert len(seen) == len(set(seen)) == 12
    assert set(seen) == set(created)
    assert seen == creation_order(pages)
    assert seen[:8] == sorted(created[2:10], key=uuid.UUID)


async def test_has_next_page_is_false_on_the_last_page(
    api: Api, db: Database, listing: Listing
) -> None:
    await seed(db, listing, 10)
    _, pages = await walk(api, listing, size=5)
    assert [current["pageInfo"]["hasNextPage"] for current in pages] == [True, False]
    assert len(pages[-1]["edges"]) == 5

    everything = await page(api, listing, "first: 10")
    assert everything["pageInfo"]["hasNextPage"] is False


async def test_an_empty_list_has_no_next_page_and_no_end_cursor(api: Api, listing: Listing) -> None:
    empty = await page(api, listing)
    assert empty == {"count": 0, "edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}


async def test_count_is_the_total_of_matches_not_of_the_page(
    api: Api, db: Database, listing: Listing
) -> None:
    matching = await seed(db, listing, 7, label="alpha")
    await seed(db, listing, 4, label="beta")

    first = await page(api, listing, 'search: "alpha", first: 3')
    assert first["count"] == 7
    assert len(first["edges"]) == 3
    seen, pages = await walk(api, listing, size=3, filters='search: "alpha", ')
    assert sorted(seen) == sorted(matching)
    assert {current["count"] for current in pages} == {7}
    assert (await page(api, listing))["count"] == 11


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


GARBAGE_CURSORS = [
    pytest.param("garbage", id="not-base64-text"),
    pytest.param("", id="empty"),
    pytest.param("!!!", id="not-base64"),
    pytest.param(_b64("no separator"), id="no-separator"),
    pytest.param(_b64("2025-01-01T00:00:00+00:00|not-a-uuid"), id="bad-uuid"),
    pytest.param(_b64(f"not a time|{uuid.UUID(int=1)}"), id="bad-time"),
    pytest.param(_b64(f"2025-01-01T00:00:00+00:00|{uuid.UUID(int=1)}|x"), id="extra-part"),
    pytest.param(base64.urlsafe_b64encode(b"\xff\xfe|\x00").decode(), id="not-utf8"),
    # Well-formed but without an offset: it must be refused, not reach the database.
    pytest.param(_b64(f"2025-01-01T00:00:00|{uuid.UUID(int=1)}"), id="naive-time"),
]


@pytest.mark.parametrize("cursor", GARBAGE_CURSORS)
async def test_a_garbage_cursor_is_bad_user_input_on_after(
    api: Api, db: Database, listing: Listing, cursor: str
) -> None:
    await seed(db, listing, 2)
    error = await api.error(
        'query { %s(first: 1, after: "%s") { count } }' % (listing.field, cursor)
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "after"


async def test_items_inserted_while_paging_cause_no_repeats(
    api: Api, db: Database, listing: Listing
) -> None:
    created = await seed(db, listing, 15)
    inserted: list[str] = []

    async def insert_some() -> None:
        # One new row as a client would add it now, and one back-dated before every other,
        # as an import of history would: neither may shift what the walk sees next.
        new = await seed(db, listing, 2, label=f"late {len(inserted)}")
        async with db.transaction() as session:
            await session.execute(
                update(listing.model)
                .where(listing.model.id == uuid.UUID(new[1]))
                .values(created_at=datetime(2000, 1, 1, tzinfo=UTC))
            )
        inserted.extend(new)

    seen, pages = await walk(api, listing, size=4, between_pages=insert_some)

    assert len(seen) == len(set(seen))
    assert set(created) <= set(seen)
    assert set(seen) <= set(created) | set(inserted)
    assert seen == creation_order(pages)
    # New rows sort after the cursor and are met; back-dated ones sort before it and are not.
    assert set(inserted[0::2]) <= set(seen)
    assert not set(inserted[1::2]) & set(seen)
