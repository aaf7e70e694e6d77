"""The outbox (issue 12 item 1) through the services, without HTTP: every change writes its
event rows in its own transaction (a rolled-back one writes none), and the change feed's
order (item 5) never skips a transaction that commits late. Every test runs on SQLite and
PostgreSQL (on PostgreSQL the enrollment events come from the functions' trigger)."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from offerdesk.content import service as content
from offerdesk.db import Database
from offerdesk.enrollments import service as enrollments
from offerdesk.enrollments.service import BulkEnrollRequest
from offerdesk.errors import DomainError
from offerdesk.events import service as events
from offerdesk.offers import service as offers
from offerdesk.outbox import service as outbox
from offerdesk.outbox.models import OutboxEvent
from offerdesk.users import service as users

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
)


async def written(db: Database) -> list[tuple[str, uuid.UUID]]:
    """(type, object id) of every outbox row, in writing order."""
    rows = await reading(
        db, lambda session: session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq))
    )
    return [(row.type, row.object_id) for row in rows]


async def rows(db: Database) -> list[OutboxEvent]:
    result = await reading(
        db, lambda session: session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq))
    )
    return list(result.all())


async def test_offer_changes_write_created_updated_archived(db: Database) -> None:
    offer = await make_offer(db)
    await in_transaction(db, lambda s: offers.update(s, offer.id, {"title": "New title"}))
    await in_transaction(db, lambda s: offers.archive(s, [offer.id], True))
    # Archiving again changes nothing: no event. Restoring is an update (issue 12).
    await in_transaction(db, lambda s: offers.archive(s, [offer.id, uuid.uuid4()], True))
    await in_transaction(db, lambda s: offers.archive(s, [offer.id], False))
    assert await written(db) == [
        ("OFFER_CREATED", offer.id),
        ("OFFER_UPDATED", offer.id),
        ("OFFER_ARCHIVED", offer.id),
        ("OFFER_UPDATED", offer.id),
    ]


async def test_event_and_date_changes_write_their_events(db: Database) -> None:
    offer = await make_offer(db)
    event = await make_event(db, offer.id, dates=[(START, END)])
    date = await make_date(db, event.id)
    await in_transaction(db, lambda s: events.update(s, event.id, {"title": "Renamed"}))
    await in_transaction(db, lambda s: events.update_date(s, date.id, {"location": "Room 2"}))
    await in_transaction(db, lambda s: events.delete_dates(s, [date.id]))
    await in_transaction(db, lambda s: events.archive(s, [event.id], True))
    await in_transaction(db, lambda s: events.archive(s, [event.id], True))
    await in_transaction(db, lambda s: events.archive(s, [event.id], False))
    types = [(kind, id_ == event.id, id_ == date.id) for kind, id_ in await written(db)][1:]
    assert types == [
        ("OFFER_EVENT_CREATED", True, False),
        ("OFFER_EVENT_DATE_CREATED", False, False),
        ("OFFER_EVENT_DATE_CREATED", False, True),
        ("OFFER_EVENT_UPDATED", True, False),
        ("OFFER_EVENT_DATE_UPDATED", False, True),
        ("OFFER_EVENT_DATE_DELETED", False, True),
        ("OFFER_EVENT_ARCHIVED", True, False),
        ("OFFER_EVENT_UPDATED", True, False),
    ]
    by_type = {row.type: row.data for row in await rows(db)}
    assert by_type["OFFER_EVENT_CREATED"] == {"id": str(event.id), "offerId": str(offer.id)}
    assert by_type["OFFER_EVENT_DATE_DELETED"] == {
        "id": str(date.id),
        "offerEventId": str(event.id),
    }


async def test_user_and_content_changes_write_their_events(db: Database) -> None:
    user = await make_user(db, ref="u-1")
    await in_transaction(db, lambda s: users.update(s, {"name": "Renamed"}, id_=user.id))
    await in_transaction(
        db, lambda s: users.update_or_create(s, {"name": "Again"}, ref="u-1", email=None)
    )
    await in_transaction(db, lambda s: users.archive(s, [user.id], True))
    item = await make_content(db)
    await in_transaction(db, lambda s: content.update(s, item.id, {"title": "Renamed"}))
    await in_transaction(db, lambda s: content.archive(s, [item.id], True))
    await in_transaction(db, lambda s: content.archive(s, [item.id], False))
    assert await written(db) == [
        ("USER_CREATED", user.id),
        ("USER_UPDATED", user.id),
        ("USER_UPDATED", user.id),
        ("USER_ARCHIVED", user.id),
        ("CONTENT_ITEM_CREATED", item.id),
        ("CONTENT_ITEM_UPDATED", item.id),
        ("CONTENT_ITEM_ARCHIVED", item.id),
        ("CONTENT_ITEM_UPDATED", item.id),
    ]


def _enrollment_facts(row: OutboxEvent) -> tuple[Any, ...]:
    data = row.data
    return (row.type, data["status"], data["previousStatus"], data["cause"], data["userId"])


async def test_enrollment_changes_write_the_reference_events(db: Database) -> None:
    event = await make_event(db, max_participants=1, waiting_list=True)
    first, second = await make_user(db), await make_user(db)
    await enroll(db, first.id, event.id)
    waiting = await enroll(db, second.id, event.id)
    before = len(await rows(db))
    await in_transaction(db, lambda s: enrollments.unenroll(s, first.id, event.id))
    await in_transaction(db, lambda s: enrollments.decline(s, [waiting.id]))
    changes = (await rows(db))[before - 2 :]
    assert [_enrollment_facts(row) for row in changes] == [
        ("OFFER_EVENT_ENROLLED", "ENROLLED", None, "ENROLL", str(first.id)),
        ("OFFER_EVENT_ENROLLED", "WAITLISTED", None, "WAITLIST", str(second.id)),
        ("OFFER_EVENT_UNENROLLED", "CANCELLED", "ENROLLED", "UNENROLL", str(first.id)),
        # The promotion that the withdrawal made, in the same transaction (issue 12).
        (
            "OFFER_EVENT_ENROLLMENT_STATUS_UPDATED",
            "ENROLLED",
            "WAITLISTED",
            "PROMOTION",
            str(second.id),
        ),
        (
            "OFFER_EVENT_ENROLLMENT_STATUS_UPDATED",
            "DECLINED",
            "ENROLLED",
            "DECLINE",
            str(second.id),
        ),
    ]
    assert {row.data["offerEventId"] for row in changes} == {str(event.id)}
    assert changes[-1].object_id == waiting.id
    # The triggers (migrations 0009, 0010) give each event a random id, as services do.
    assert len({row.id for row in changes}) == len(changes)
    assert {(row.id.version, row.id.variant) for row in changes} == {(4, uuid.RFC_4122)}
    # Enrolling again after withdrawing is a new enrollment for an integrator.
    await enroll(db, first.id, event.id)
    assert _enrollment_facts((await rows(db))[-1]) == (
        "OFFER_EVENT_ENROLLED",
        "ENROLLED",
        "CANCELLED",
        "ENROLL",
        str(first.id),
    )


async def test_a_bulk_enrollment_writes_one_event_per_user(db: Database) -> None:
    event = await make_event(db)
    people = [await make_user(db) for _ in range(3)]
    before = len(await rows(db))
    request = BulkEnrollRequest(offer_event_id=event.id, user_ids=[p.id for p in people])
    await in_transaction(db, lambda s: enrollments.enroll_many(s, request))
    new = (await rows(db))[before:]
    assert [(row.type, row.data["userId"]) for row in new] == [
        ("OFFER_EVENT_ENROLLED", str(p.id)) for p in people
    ]


async def test_a_rolled_back_change_writes_no_event(db: Database) -> None:
    event = await make_event(db)
    user = await make_user(db)
    before = await written(db)
    # One unknown user: the whole bulk call is refused, and so are its events.
    request = BulkEnrollRequest(offer_event_id=event.id, user_ids=[user.id, uuid.uuid4()])
    with pytest.raises(DomainError):
        await in_transaction(db, lambda s: enrollments.enroll_many(s, request))

    async def create_then_fail(session: Any) -> None:
        await offers.create(session, {"title": "Never"})
        await enrollments.enroll(
            session, enrollments.EnrollRequest(user_id=user.id, offer_event_id=event.id)
        )
        raise RuntimeError("the mutation fails after its writes")

    with pytest.raises(RuntimeError):
        await in_transaction(db, create_then_fail)
    assert await written(db) == before


async def _read_all(db: Database, cursor: str | None) -> tuple[list[uuid.UUID], str | None]:
    """Every event the feed hands out now, from ``cursor``, and the cursor to go on from."""
    seen: list[uuid.UUID] = []
    while True:
        page = await reading(db, lambda s, c=cursor: outbox.feed(s, c, 100))  # type: ignore[misc]
        seen += [row.id for row, _ in page.items]
        cursor = page.end_cursor or cursor
        if not page.has_next_page:
            return seen, cursor


async def test_the_feed_never_skips_a_transaction_that_commits_late(db: Database) -> None:
    """A long transaction writes first (the smaller sequence number), a short one writes and
    commits after it; a reader polling between the two commits, then with its last cursor,
    gets both. A feed ordered by sequence number alone would have moved past the long one's
    row before it was committed, and missed it."""
    _, cursor = await _read_all(db, None)
    long_written, long_may_commit = asyncio.Event(), asyncio.Event()

    async def long_transaction() -> uuid.UUID:
        async with db.transaction() as session:
            offer = await offers.create(session, {"title": "Long"})
            await session.flush()
            long_written.set()
            await long_may_commit.wait()
            return offer.id

    async def short_transaction() -> uuid.UUID:
        return (await make_offer(db, title="Short")).id

    long_task = asyncio.create_task(long_transaction())
    await long_written.wait()
    # SQLite has one writer: the short transaction waits for the long one there, and the
    # order is commit order anyway. PostgreSQL runs it to its commit now.
    short_task = asyncio.create_task(short_transaction())
    if db.dialect == "postgresql":
        await short_task
    first_poll, cursor = await _read_all(db, cursor)
    long_may_commit.set()
    await long_task
    await short_task
    # Every transaction of the PostgreSQL cluster (other databases' too) below the horizon
    # must have ended; on a shared server one may still be running: poll as a reader would.
    second_poll: list[uuid.UUID] = []
    for _ in range(600):
        more, cursor = await _read_all(db, cursor)
        second_poll += more
        if len(first_poll + second_poll) >= 2:
            break
        await asyncio.sleep(0.05)
    stored = await rows(db)
    all_ids = [row.id for row in stored[-2:]]
    assert sorted(first_poll + second_poll) == sorted(all_ids)
    assert len(first_poll + second_poll) == 2
    if db.dialect == "postgresql":
        # The long transaction's row has the smaller sequence number, and the short one had
        # committed while the reader polled: the feed held it back rather than skip the other.
        by_object = {row.object_id: row for row in stored[-2:]}
        assert by_object[long_task.result()].seq < by_object[short_task.result()].seq
        assert first_poll == []


async def test_events_older_than_the_retention_are_pruned(db: Database) -> None:
    old = await make_offer(db)
    async with db.transaction() as session:
        stored = await session.scalar(select(OutboxEvent).where(OutboxEvent.object_id == old.id))
        assert stored is not None
        stored.occurred_at -= timedelta(days=31)
    new = await make_offer(db)
    pruned = await in_transaction(db, lambda s: outbox.prune(s, timedelta(days=30)))
    assert pruned == 1
    assert await written(db) == [("OFFER_CREATED", new.id)]
