"""The offer events service's rules (SPEC §2.1, §3.5 to 3.9, §3.11), through
``offerdesk.events.service`` with a real database session: no HTTP, no GraphQL.

Covers capacity (``max_participants`` at least 1, ``min_participants`` not negative nor above
the maximum, CAPACITY_BELOW_ENROLLED on ``offer_event.max_participants``), content links and
the content type (§3.8: unknown or archived items on ``offer_event.content_id`` /
``offer_event.content_ids.<i>``, the type taken from the first item or checked against it),
dates (end after start, on ``offer_event.dates.<i>.end`` at creation and
``offer_event_date.<field>`` for a date of its own, partial ``update_date``, ``delete_dates``
reporting unknown ids), refs, ``archive`` and the batched reads (``events_of_offers`` sorted by
first date, ``dates_of_events``, ``content_of_events``). What a capacity change does to the
waiting list is tested in tests/enrollments/test_service.py. Every test runs on both engines.
"""

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.content import service as content
from offerdesk.content.models import ContentType
from offerdesk.db import Database
from offerdesk.errors import ErrorCode
from offerdesk.events import service as events
from offerdesk.events.service import EventFilter

from ..helpers import snapshot
from ..service_helpers import (
    END,
    START,
    enroll,
    in_transaction,
    make_content,
    make_date,
    make_event,
    make_offer,
    make_user,
    reading,
    refusal,
    stored_event,
)

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


async def links_of(db: Database, event_id: uuid.UUID) -> list[uuid.UUID]:
    linked = await reading(db, lambda session: events.content_of_events(session, [event_id]))
    return [item.id for item in linked[0]]


# --- create and update ---


async def test_create_stores_the_event_with_its_dates_and_defaults(db: Database) -> None:
    offer = await make_offer(db)
    event = await make_event(
        db, offer.id, dates=[(START + DAY, END + DAY), (START, END)], title="  Evening  "
    )
    stored = await stored_event(db, event.id)
    assert (stored.offer_id, stored.title, stored.is_active, stored.waiting_list) == (
        offer.id,
        "Evening",
        True,
        False,
    )
    assert (stored.enrolled_count, stored.waitlisted_count, stored.spots_available) == (0, 0, None)
    dates = await reading(db, lambda session: events.dates_of_events(session, [event.id]))
    assert [(date.start, date.end) for date in dates[0]] == [(START, END), (START + DAY, END + DAY)]


async def test_create_for_an_unknown_offer_is_not_found_on_offer_event_offer_id(
    db: Database,
) -> None:
    await refusal(
        db,
        lambda session: events.create(session, {"offer_id": uuid.uuid4(), "title": "Evening"}),
        ErrorCode.NOT_FOUND,
        "offer_event.offer_id",
    )


async def test_create_with_an_empty_title_is_refused_on_offer_event_title(db: Database) -> None:
    offer = await make_offer(db)
    await refusal(
        db,
        lambda session: events.create(session, {"offer_id": offer.id, "title": "  "}),
        ErrorCode.BAD_USER_INPUT,
        "offer_event.title",
    )


async def test_a_ref_in_use_is_conflict_on_offer_event_ref(db: Database) -> None:
    await make_event(db, ref="eg-1")
    other = await make_event(db, ref="eg-2")
    await refusal(
        db,
        lambda session: events.update(session, other.id, {"ref": " eg-1 "}),
        ErrorCode.CONFLICT,
        "offer_event.ref",
    )
    kept = await in_transaction(
        db, lambda session: events.update(session, other.id, {"ref": "eg-2"})
    )
    assert kept.ref == "eg-2"


async def test_update_of_an_unknown_event_is_not_found_on_id(db: Database) -> None:
    await refusal(
        db,
        lambda session: events.update(session, uuid.uuid4(), {"title": "Renamed"}),
        ErrorCode.NOT_FOUND,
        "id",
    )


async def test_update_changes_only_the_fields_given(db: Database) -> None:
    event = await make_event(db, max_participants=10, min_participants=2, waiting_list=True)
    await in_transaction(db, lambda session: events.update(session, event.id, {"title": "New"}))
    stored = await stored_event(db, event.id)
    assert (stored.title, stored.max_participants, stored.min_participants) == ("New", 10, 2)
    assert stored.waiting_list is True


async def test_find_by_ref_and_get_many_in_the_order_of_ids(db: Database) -> None:
    first = await make_event(db, ref="eg-1")
    second = await make_event(db)
    unknown = uuid.uuid4()

    async def look_ups(session: AsyncSession) -> tuple[object, ...]:
        by_ref = await events.find(session, ref="eg-1")
        missing = await events.find(session, ref="eg-9")
        many = await events.get_many(session, [second.id, unknown, first.id])
        return (
            by_ref.id if by_ref else None,
            missing,
            [each.id if each else None for each in many],
        )

    assert await reading(db, look_ups) == (first.id, None, [second.id, None, first.id])


# --- capacity (SPEC §3.5, §3.11) ---


@pytest.mark.parametrize("maximum", [0, -1])
async def test_max_participants_below_one_is_refused_on_create_and_update(
    db: Database, maximum: int
) -> None:
    offer = await make_offer(db)
    await refusal(
        db,
        lambda session: events.create(
            session, {"offer_id": offer.id, "title": "Evening", "max_participants": maximum}
        ),
        ErrorCode.BAD_USER_INPUT,
        "offer_event.max_participants",
    )
    event = await make_event(db, offer.id, max_participants=10)
    await refusal(
        db,
        lambda session: events.update(session, event.id, {"max_participants": maximum}),
        ErrorCode.BAD_USER_INPUT,
        "offer_event.max_participants",
    )
    assert (await stored_event(db, event.id)).max_participants == 10


async def test_negative_min_participants_is_refused_on_offer_event_min_participants(
    db: Database,
) -> None:
    event = await make_event(db)
    await refusal(
        db,
        lambda session: events.update(session, event.id, {"min_participants": -1}),
        ErrorCode.BAD_USER_INPUT,
        "offer_event.min_participants",
    )


async def test_min_above_max_is_refused_on_the_field_that_was_given(db: Database) -> None:
    offer = await make_offer(db)
    await refusal(
        db,
        lambda session: events.create(
            session,
            {"offer_id": offer.id, "title": "E", "max_participants": 10, "min_participants": 11},
        ),
        ErrorCode.BAD_USER_INPUT,
        "offer_event.min_participants",
    )
    event = await make_event(db, offer.id, max_participants=10, min_participants=5)
    error = await refusal(
        db,
        lambda session: events.update(session, event.id, {"max_participants": 4}),
        ErrorCode.BAD_USER_INPUT,
        "offer_event.max_participants",
    )
    assert error.message == "min_participants (5) must not exceed max_participants (4)"
    await refusal(
        db,
        lambda session: events.update(session, event.id, {"min_participants": 11}),
        ErrorCode.BAD_USER_INPUT,
        "offer_event.min_participants",
    )


async def test_no_maximum_allows_any_minimum_and_equal_bounds_are_accepted(
    db: Database,
) -> None:
    event = await make_event(db, max_participants=3)
    await in_transaction(
        db,
        lambda session: events.update(
            session, event.id, {"max_participants": None, "min_participants": 50}
        ),
    )
    await in_transaction(
        db,
        lambda session: events.update(
            session, event.id, {"max_participants": 50, "min_participants": 50}
        ),
    )
    stored = await stored_event(db, event.id)
    assert (stored.max_participants, stored.min_participants) == (50, 50)


async def test_capacity_below_the_enrolled_count_is_refused_and_changes_nothing(
    db: Database,
) -> None:
    event = await make_event(db, max_participants=3)
    for _ in range(2):
        await enroll(db, (await make_user(db)).id, event.id)
    before = await snapshot(db)
    error = await refusal(
        db,
        lambda session: events.update(
            session, event.id, {"title": "Renamed", "max_participants": 1}
        ),
        ErrorCode.CAPACITY_BELOW_ENROLLED,
        "offer_event.max_participants",
    )
    assert "2 people enrolled" in error.message
    assert await snapshot(db) == before
    # Down to exactly the enrolled count is allowed: the event is then full.
    await in_transaction(
        db, lambda session: events.update(session, event.id, {"max_participants": 2})
    )
    stored = await stored_event(db, event.id)
    assert (stored.max_participants, stored.spots_available) == (2, 0)


# --- content links and the content type (SPEC §3.8) ---


async def test_content_type_is_taken_from_the_first_linked_item(db: Database) -> None:
    course = await make_content(db, ContentType.COURSE)
    video = await make_content(db, ContentType.VIDEO)
    event = await make_event(db, content_id=course.id, content_ids=[video.id])
    assert (await stored_event(db, event.id)).content_type is ContentType.COURSE
    assert await links_of(db, event.id) == [course.id, video.id]


async def test_content_type_given_without_a_link_is_stored(db: Database) -> None:
    event = await make_event(db, content_type=ContentType.SCORM)
    assert (await stored_event(db, event.id)).content_type is ContentType.SCORM
    assert await links_of(db, event.id) == []


async def test_unknown_content_id_is_not_found_on_offer_event_content_id(db: Database) -> None:
    offer = await make_offer(db)
    unknown = uuid.uuid4()
    error = await refusal(
        db,
        lambda session: events.create(
            session, {"offer_id": offer.id, "title": "E", "content_id": unknown}
        ),
        ErrorCode.NOT_FOUND,
        "offer_event.content_id",
    )
    assert str(unknown) in error.message


async def test_unknown_extra_content_id_is_not_found_on_its_index(db: Database) -> None:
    offer = await make_offer(db)
    first, second = await make_content(db), await make_content(db)
    before = await snapshot(db)
    await refusal(
        db,
        lambda session: events.create(
            session,
            {
                "offer_id": offer.id,
                "title": "E",
                "content_id": first.id,
                "content_ids": [second.id, uuid.uuid4()],
            },
        ),
        ErrorCode.NOT_FOUND,
        "offer_event.content_ids.1",
    )
    assert await snapshot(db) == before


async def test_archived_content_item_cannot_be_linked_as_first_or_extra(db: Database) -> None:
    offer = await make_offer(db)
    active, archived = await make_content(db), await make_content(db)
    await in_transaction(db, lambda session: content.archive(session, [archived.id], True))
    await refusal(
        db,
        lambda session: events.create(
            session, {"offer_id": offer.id, "title": "E", "content_id": archived.id}
        ),
        ErrorCode.BAD_USER_INPUT,
        "offer_event.content_id",
    )
    await refusal(
        db,
        lambda session: events.create(
            session,
            {
                "offer_id": offer.id,
                "title": "E",
                "content_id": active.id,
                "content_ids": [archived.id],
            },
        ),
        ErrorCode.BAD_USER_INPUT,
        "offer_event.content_ids.0",
    )


async def test_content_type_that_differs_from_the_item_is_refused_on_create_and_update(
    db: Database,
) -> None:
    offer = await make_offer(db)
    training = await make_content(db, ContentType.TRAINING)
    await refusal(
        db,
        lambda session: events.create(
            session,
            {
                "offer_id": offer.id,
                "title": "E",
                "content_id": training.id,
                "content_type": ContentType.COURSE,
            },
        ),
        ErrorCode.BAD_USER_INPUT,
        "offer_event.content_type",
    )
    event = await make_event(db, offer.id, content_id=training.id)
    # A type alone that differs from the item already linked.
    await refusal(
        db,
        lambda session: events.update(session, event.id, {"content_type": ContentType.VIDEO}),
        ErrorCode.BAD_USER_INPUT,
        "offer_event.content_type",
    )
    # The same type as the linked item is accepted.
    await in_transaction(
        db,
        lambda session: events.update(session, event.id, {"content_type": ContentType.TRAINING}),
    )


async def test_changing_only_the_extra_links_keeps_the_first_and_its_type(db: Database) -> None:
    course, video, scorm = (
        await make_content(db, ContentType.COURSE),
        await make_content(db, ContentType.VIDEO),
        await make_content(db, ContentType.SCORM),
    )
    event = await make_event(db, content_id=course.id, content_ids=[video.id])
    await in_transaction(
        db, lambda session: events.update(session, event.id, {"content_ids": [scorm.id]})
    )
    assert await links_of(db, event.id) == [course.id, scorm.id]
    assert (await stored_event(db, event.id)).content_type is ContentType.COURSE


async def test_changing_the_first_link_takes_the_new_items_type(db: Database) -> None:
    course, video = (
        await make_content(db, ContentType.COURSE),
        await make_content(db, ContentType.VIDEO),
    )
    event = await make_event(db, content_id=course.id)
    await in_transaction(
        db, lambda session: events.update(session, event.id, {"content_id": video.id})
    )
    assert await links_of(db, event.id) == [video.id]
    assert (await stored_event(db, event.id)).content_type is ContentType.VIDEO


async def test_removing_every_link_clears_the_content_type(db: Database) -> None:
    course = await make_content(db, ContentType.COURSE)
    event = await make_event(db, content_id=course.id)
    await in_transaction(
        db,
        lambda session: events.update(session, event.id, {"content_id": None, "content_ids": None}),
    )
    assert await links_of(db, event.id) == []
    assert (await stored_event(db, event.id)).content_type is None


async def test_an_item_named_twice_is_linked_once(db: Database) -> None:
    course, video = await make_content(db), await make_content(db)
    event = await make_event(db, content_id=course.id, content_ids=[video.id, course.id, video.id])
    assert await links_of(db, event.id) == [course.id, video.id]


# --- dates (SPEC §3.7) ---


@pytest.mark.parametrize("end", [START, START - HOUR])
async def test_create_with_a_date_not_ending_after_its_start_is_refused_on_its_index(
    db: Database, end: datetime
) -> None:
    offer = await make_offer(db)
    before = await snapshot(db)
    await refusal(
        db,
        lambda session: events.create(
            session,
            {"offer_id": offer.id, "title": "E", "ref": "eg-1"},
            [{"start": START, "end": END}, {"start": START, "end": end}],
        ),
        ErrorCode.BAD_USER_INPUT,
        "offer_event.dates.1.end",
    )
    # Nothing of the event was stored, its ref neither.
    assert await snapshot(db) == before
    await make_event(db, offer.id, ref="eg-1")


async def test_create_date_not_ending_after_its_start_is_refused_on_end(db: Database) -> None:
    event = await make_event(db)
    await refusal(
        db,
        lambda session: events.create_date(
            session, {"offer_event_id": event.id, "start": START, "end": START}
        ),
        ErrorCode.BAD_USER_INPUT,
        "offer_event_date.end",
    )


async def test_create_date_for_an_unknown_event_is_not_found_on_offer_event_id(
    db: Database,
) -> None:
    await refusal(
        db,
        lambda session: events.create_date(
            session, {"offer_event_id": uuid.uuid4(), "start": START, "end": END}
        ),
        ErrorCode.NOT_FOUND,
        "offer_event_date.offer_event_id",
    )


async def test_date_location_is_checked_on_its_path(db: Database) -> None:
    event = await make_event(db)
    await refusal(
        db,
        lambda session: events.create_date(
            session,
            {"offer_event_id": event.id, "start": START, "end": END, "location": "R\x001"},
        ),
        ErrorCode.BAD_USER_INPUT,
        "offer_event_date.location",
    )
    offer = await make_offer(db)
    await refusal(
        db,
        lambda session: events.create(
            session,
            {"offer_id": offer.id, "title": "E"},
            [{"start": START, "end": END, "location": "x" * 501}],
        ),
        ErrorCode.BAD_USER_INPUT,
        "offer_event.dates.0.location",
    )


async def test_update_date_moving_start_past_the_stored_end_is_refused_on_start(
    db: Database,
) -> None:
    date = await make_date(db, (await make_event(db)).id)
    await refusal(
        db,
        lambda session: events.update_date(
            session, date.id, {"start": END + HOUR, "location": "Room 9"}
        ),
        ErrorCode.BAD_USER_INPUT,
        "offer_event_date.start",
    )


async def test_update_date_moving_end_before_the_stored_start_is_refused_on_end(
    db: Database,
) -> None:
    date = await make_date(db, (await make_event(db)).id)
    await refusal(
        db,
        lambda session: events.update_date(session, date.id, {"end": START - HOUR}),
        ErrorCode.BAD_USER_INPUT,
        "offer_event_date.end",
    )


async def test_partial_update_date_keeps_what_it_is_not_given(db: Database) -> None:
    event = await make_event(db)
    date = await make_date(db, event.id)
    await in_transaction(
        db,
        lambda session: events.update_date(
            session, date.id, {"start": END - HOUR, "location": "Room 2"}
        ),
    )
    dates = await reading(db, lambda session: events.dates_of_events(session, [event.id]))
    assert [(d.start, d.end, d.location) for d in dates[0]] == [(END - HOUR, END, "Room 2")]


async def test_update_date_of_an_unknown_date_is_not_found_on_id(db: Database) -> None:
    await refusal(
        db,
        lambda session: events.update_date(session, uuid.uuid4(), {"location": "Room 2"}),
        ErrorCode.NOT_FOUND,
        "id",
    )


async def test_delete_dates_deletes_the_known_and_reports_unknown_ids_failed(
    db: Database,
) -> None:
    event = await make_event(db)
    kept = await make_date(db, event.id, START + DAY, END + DAY)
    gone = await make_date(db, event.id)
    unknown = uuid.uuid4()
    result = await in_transaction(
        db, lambda session: events.delete_dates(session, [gone.id, unknown])
    )
    assert (result.succeeded, result.failed) == ([gone.id], [unknown])
    dates = await reading(db, lambda session: events.dates_of_events(session, [event.id]))
    assert [date.id for date in dates[0]] == [kept.id]


# --- archiving and the batched reads ---


async def test_archive_twice_is_a_success_and_unknown_ids_fail(db: Database) -> None:
    event = await make_event(db)
    unknown = uuid.uuid4()
    for _ in range(2):
        result = await in_transaction(
            db, lambda session: events.archive(session, [event.id, unknown], True)
        )
        assert (result.succeeded, result.failed) == ([event.id], [unknown])
        assert (await stored_event(db, event.id)).is_active is False
    await in_transaction(db, lambda session: events.archive(session, [event.id], False))
    assert (await stored_event(db, event.id)).is_active is True


async def test_events_of_offers_sorts_by_first_date_with_undated_events_last(
    db: Database,
) -> None:
    offer, other, empty = await make_offer(db), await make_offer(db), await make_offer(db)
    undated = await make_event(db, offer.id)
    later = await make_event(db, offer.id, dates=[(START + 2 * DAY, END + 2 * DAY)])
    # Its first date is the earliest, though it was given second.
    earlier = await make_event(
        db, offer.id, dates=[(START + 3 * DAY, END + 3 * DAY), (START + DAY, END + DAY)]
    )
    elsewhere = await make_event(db, other.id, dates=[(START, END)])

    grouped = await reading(
        db, lambda session: events.events_of_offers(session, [empty.id, offer.id, other.id])
    )
    assert [[event.id for event in group] for group in grouped] == [
        [],
        [earlier.id, later.id, undated.id],
        [elsewhere.id],
    ]


async def test_events_of_offers_filters_active_or_archived_events(db: Database) -> None:
    offer = await make_offer(db)
    active = await make_event(db, offer.id)
    archived = await make_event(db, offer.id)
    await in_transaction(db, lambda session: events.archive(session, [archived.id], True))
    for is_active, expected in ((True, [active.id]), (False, [archived.id])):
        grouped = await reading(
            db,
            lambda session, is_active=is_active: events.events_of_offers(
                session, [offer.id], EventFilter(is_active=is_active)
            ),
        )
        assert [event.id for event in grouped[0]] == expected
