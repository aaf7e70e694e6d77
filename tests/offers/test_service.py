"""The offers service's rules (SPEC §2.2, §2.6, §3.6, §3.9, §3.11), through
``offerdesk.offers.service`` with a real database session: no HTTP, no GraphQL.

Covers create and update (titles trimmed, empty ones refused on ``offer.title``, refs unique
with CONFLICT on ``offer.ref``, fields left out stay), the look-ups (``get``, ``find``,
``get_many``), the listings (``find_many``, ``page``) and ``archive`` (twice is a success that
keeps the first ``archived_at``; unknown ids fail). Every test runs on SQLite and PostgreSQL.
"""

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.bulk import MAX_BULK_IDS
from offerdesk.db import Database
from offerdesk.errors import ErrorCode
from offerdesk.offers import service as offers
from offerdesk.offers.service import OfferFilter

from ..helpers import snapshot
from ..service_helpers import in_transaction, make_offer, reading, refusal


async def test_create_trims_the_title_and_stores_an_active_offer(db: Database) -> None:
    created = await in_transaction(
        db,
        lambda session: offers.create(
            session, {"title": "  Project management \n", "description": "Plan", "ref": " pm-1 "}
        ),
    )
    stored = await reading(db, lambda session: offers.get(session, created.id))
    assert (stored.title, stored.description, stored.ref) == ("Project management", "Plan", "pm-1")
    assert stored.is_active is True
    assert stored.archived_at is None


@pytest.mark.parametrize("title", ["", "   ", "\t\n "])
async def test_create_refuses_an_empty_title_on_offer_title(db: Database, title: str) -> None:
    before = await snapshot(db)
    await refusal(
        db,
        lambda session: offers.create(session, {"title": title}),
        ErrorCode.BAD_USER_INPUT,
        "offer.title",
    )
    assert await snapshot(db) == before


async def test_title_of_501_characters_is_refused_and_500_accepted(db: Database) -> None:
    await refusal(
        db,
        lambda session: offers.create(session, {"title": "x" * 501}),
        ErrorCode.BAD_USER_INPUT,
        "offer.title",
    )
    offer = await make_offer(db, title=" " + "é" * 500 + " ")
    assert offer.title == "é" * 500


async def test_nul_character_in_a_description_is_refused_on_offer_description(
    db: Database,
) -> None:
    await refusal(
        db,
        lambda session: offers.create(session, {"title": "Plan", "description": "a\x00b"}),
        ErrorCode.BAD_USER_INPUT,
        "offer.description",
    )


@pytest.mark.parametrize("ref", ["pm-1", "  pm-1  "])
async def test_create_with_a_ref_in_use_is_conflict_on_offer_ref(db: Database, ref: str) -> None:
    await make_offer(db, ref="pm-1")
    before = await snapshot(db)
    error = await refusal(
        db,
        lambda session: offers.create(session, {"title": "Other", "ref": ref}),
        ErrorCode.CONFLICT,
        "offer.ref",
    )
    assert "pm-1" in error.message
    assert await snapshot(db) == before


async def test_update_to_a_ref_in_use_is_conflict_and_keeping_its_own_ref_is_not(
    db: Database,
) -> None:
    await make_offer(db, ref="taken")
    mine = await make_offer(db, ref="mine")
    await refusal(
        db,
        lambda session: offers.update(session, mine.id, {"ref": "taken"}),
        ErrorCode.CONFLICT,
        "offer.ref",
    )
    kept = await in_transaction(
        db, lambda session: offers.update(session, mine.id, {"ref": "mine"})
    )
    assert kept.ref == "mine"


async def test_blank_ref_is_refused_on_offer_ref_and_none_clears_it(db: Database) -> None:
    offer = await make_offer(db, ref="pm-1")
    await refusal(
        db,
        lambda session: offers.update(session, offer.id, {"ref": "   "}),
        ErrorCode.BAD_USER_INPUT,
        "offer.ref",
    )
    cleared = await in_transaction(
        db, lambda session: offers.update(session, offer.id, {"ref": None})
    )
    assert cleared.ref is None


async def test_update_changes_only_the_fields_given(db: Database) -> None:
    offer = await make_offer(db, title="Plan", description="Kept", ref="pm-1")
    await in_transaction(db, lambda session: offers.update(session, offer.id, {"title": " New "}))
    stored = await reading(db, lambda session: offers.get(session, offer.id))
    assert (stored.title, stored.description, stored.ref, stored.is_active) == (
        "New",
        "Kept",
        "pm-1",
        True,
    )


async def test_update_of_an_unknown_offer_is_not_found_on_id(db: Database) -> None:
    await refusal(
        db,
        lambda session: offers.update(session, uuid.uuid4(), {"title": "New"}),
        ErrorCode.NOT_FOUND,
        "id",
    )


async def test_get_of_an_unknown_offer_is_not_found_on_the_path_given(db: Database) -> None:
    error = await refusal(
        db,
        lambda session: offers.get(session, uuid.uuid4(), "offer_event.offer_id"),
        ErrorCode.NOT_FOUND,
        "offer_event.offer_id",
    )
    assert error.message == "offer not found"


async def test_find_by_id_or_ref_and_none_when_nothing_matches(db: Database) -> None:
    offer = await make_offer(db, ref="pm-1")

    async def look_ups(session: AsyncSession) -> list[uuid.UUID | None]:
        found = [
            await offers.find(session, id_=offer.id),
            await offers.find(session, ref="pm-1"),
            await offers.find(session, ref="pm-2"),
            await offers.find(session, id_=uuid.uuid4()),
        ]
        return [each.id if each else None for each in found]

    assert await reading(db, look_ups) == [offer.id, offer.id, None, None]


async def test_find_with_neither_key_is_bad_input_on_id_naming_both(db: Database) -> None:
    error = await refusal(db, lambda session: offers.find(session), ErrorCode.BAD_USER_INPUT, "id")
    assert error.mentions == ("id", "ref")


async def test_find_with_both_keys_is_bad_input_on_id(db: Database) -> None:
    await refusal(
        db,
        lambda session: offers.find(session, id_=uuid.uuid4(), ref="pm-1"),
        ErrorCode.BAD_USER_INPUT,
        "id",
    )


async def test_get_many_keeps_the_order_of_ids_with_none_where_missing(db: Database) -> None:
    first, second = await make_offer(db), await make_offer(db)
    unknown = uuid.uuid4()
    found = await reading(
        db, lambda session: offers.get_many(session, [second.id, unknown, first.id])
    )
    assert [each.id if each else None for each in found] == [second.id, None, first.id]


async def test_find_many_shows_active_unarchived_offers_by_title_unless_archived_asked(
    db: Database,
) -> None:
    bravo = await make_offer(db, title="Bravo")
    alpha = await make_offer(db, title="Alpha")
    inactive = await make_offer(db, title="Charlie", is_active=False)
    archived = await make_offer(db, title="Delta")
    await in_transaction(db, lambda session: offers.archive(session, [archived.id], True))

    shown = await reading(db, lambda session: offers.find_many(session, OfferFilter()))
    assert [offer.id for offer in shown] == [alpha.id, bravo.id]
    everything = await reading(
        db, lambda session: offers.find_many(session, OfferFilter(include_archived=True))
    )
    assert [offer.id for offer in everything] == [alpha.id, bravo.id, inactive.id, archived.id]


async def test_find_many_search_matches_title_or_description_case_insensitively_and_literally(
    db: Database,
) -> None:
    discount = await make_offer(db, title="Save 50% now")
    described = await make_offer(db, title="Other", description="a 50% DISCOUNT")
    await make_offer(db, title="Save 500 now")
    found = await reading(
        db, lambda session: offers.find_many(session, OfferFilter(search=" 50% "))
    )
    assert {offer.id for offer in found} == {discount.id, described.id}
    by_case = await reading(
        db, lambda session: offers.find_many(session, OfferFilter(search="discount"))
    )
    assert [offer.id for offer in by_case] == [described.id]


async def test_page_walks_the_offers_in_creation_order_with_cursors_and_a_count(
    db: Database,
) -> None:
    made = [await make_offer(db, title=f"Offer {index}") for index in range(5)]
    first = await reading(db, lambda session: offers.page(session, OfferFilter(), 2, None))
    assert [offer.id for offer, _ in first.items] == [made[0].id, made[1].id]
    assert first.has_next_page is True
    count = await reading(db, first.count)
    assert count == 5
    rest = await reading(
        db, lambda session: offers.page(session, OfferFilter(), 50, first.end_cursor)
    )
    assert [offer.id for offer, _ in rest.items] == [each.id for each in made[2:]]
    assert rest.has_next_page is False


@pytest.mark.parametrize(
    ("first", "after", "field"),
    [(0, None, "first"), (101, None, "first"), (10, "nonsense", "after")],
)
async def test_page_refuses_a_size_outside_1_to_100_or_a_foreign_cursor(
    db: Database, first: int, after: str | None, field: str
) -> None:
    await refusal(
        db,
        lambda session: offers.page(session, OfferFilter(), first, after),
        ErrorCode.BAD_USER_INPUT,
        field,
    )


async def test_archive_twice_is_a_success_that_keeps_the_first_archived_at(db: Database) -> None:
    offer = await make_offer(db)
    result = await in_transaction(db, lambda session: offers.archive(session, [offer.id], True))
    assert (result.succeeded, result.failed) == ([offer.id], [])
    first_archived_at = (
        await reading(db, lambda session: offers.get(session, offer.id))
    ).archived_at
    assert first_archived_at is not None

    again = await in_transaction(db, lambda session: offers.archive(session, [offer.id], True))
    assert (again.succeeded, again.failed) == ([offer.id], [])
    stored = await reading(db, lambda session: offers.get(session, offer.id))
    assert stored.archived_at == first_archived_at


async def test_restore_clears_archived_at_and_restoring_twice_is_a_success(db: Database) -> None:
    offer = await make_offer(db)
    await in_transaction(db, lambda session: offers.archive(session, [offer.id], True))
    for _ in range(2):
        result = await in_transaction(
            db, lambda session: offers.archive(session, [offer.id], False)
        )
        assert result.succeeded == [offer.id]
    stored = await reading(db, lambda session: offers.get(session, offer.id))
    assert stored.archived_at is None


async def test_archive_reports_unknown_ids_failed_once_each_and_archives_the_known(
    db: Database,
) -> None:
    offer = await make_offer(db)
    unknown = uuid.uuid4()
    result = await in_transaction(
        db, lambda session: offers.archive(session, [unknown, offer.id, unknown, offer.id], True)
    )
    assert (result.succeeded, result.failed) == ([offer.id], [unknown])
    stored = await reading(db, lambda session: offers.get(session, offer.id))
    assert stored.archived_at is not None


async def test_archive_of_more_than_1000_ids_is_bad_input_on_ids(db: Database) -> None:
    offer = await make_offer(db)
    ids = [offer.id] + [uuid.uuid4() for _ in range(MAX_BULK_IDS)]
    await refusal(
        db, lambda session: offers.archive(session, ids, True), ErrorCode.BAD_USER_INPUT, "ids"
    )
    stored = await reading(db, lambda session: offers.get(session, offer.id))
    assert stored.archived_at is None
