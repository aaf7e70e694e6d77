"""Offer events and their dates (SPEC §2.1, §3.5, §3.7, §3.8): the domain's whole API.

Knows nothing of GraphQL: takes a session, returns models, names bad input by domain paths
(``offer_event.max_participants``, ``offer_event.dates.0.end``). Capacity *changes* are checked
here against the stored counters; what happens to enrollments when capacity changes is the
enrollments service's business (``enrollments.service.promote_waiting_list``).
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from offerdesk import locking
from offerdesk.bulk import BulkResult, bulk_apply, set_active
from offerdesk.content import service as content
from offerdesk.content.models import ContentType
from offerdesk.db import group_by_key
from offerdesk.enrollments.service import promote_waiting_list
from offerdesk.errors import DomainError, ErrorCode, bad_input, not_found
from offerdesk.events.models import OfferEvent, OfferEventContent, OfferEventDate
from offerdesk.list_limits import (
    MAX_DATES_PER_EVENT,
    MAX_EVENTS_PER_OFFER,
    check_content_links,
    check_list_length,
)
from offerdesk.offers import service as offers
from offerdesk.outbox import service as outbox
from offerdesk.outbox.models import EventType
from offerdesk.repository import ensure_unique_ref, find_row, get_row, rows_by_ids
from offerdesk.validation import clean_ref, clean_text, clean_title, one_key

if TYPE_CHECKING:
    from offerdesk.content.models import ContentItem

MAX_LOCATION_LENGTH = 500
# The field names capacity messages mention (the API layer writes them its own way).
_CAPACITY = ("max_participants", "min_participants")


class DateChanges(TypedDict, total=False):
    """The fields of a date a create or update sets (``offer_event_id`` only at creation)."""

    offer_event_id: uuid.UUID
    start: datetime
    end: datetime
    location: str | None


class EventChanges(TypedDict, total=False):
    """The fields of an event a create or update sets; a key left out stays as it is."""

    offer_id: uuid.UUID
    title: str
    ref: str | None
    content_id: uuid.UUID | None
    content_ids: list[uuid.UUID] | None
    content_type: ContentType | None
    max_participants: int | None
    min_participants: int | None
    waiting_list: bool
    closing_date: datetime | None
    is_active: bool


@dataclass(frozen=True)
class EventFilter:
    """Which of an offer's events a listing shows: all, or only active or archived ones."""

    is_active: bool | None = None


async def get(session: AsyncSession, id_: uuid.UUID, path: str = "id") -> OfferEvent:
    """The event; NOT_FOUND on ``path`` when there is none."""
    return await get_row(session, OfferEvent, id_, "offer event", path)


async def lock(session: AsyncSession, id_: uuid.UUID, path: str = "id") -> OfferEvent:
    """The event, row-locked for a change of its counters (locking.py, kind 3); NOT_FOUND."""
    event = await locking.lock_row(session, OfferEvent, id_)
    if event is None:
        raise not_found("offer event", path)
    return event


async def find(
    session: AsyncSession, *, id_: uuid.UUID | None = None, ref: str | None = None
) -> OfferEvent | None:
    """The event with this id or ref (exactly one of them), or None."""
    one_key(id=id_, ref=ref)
    return await find_row(session, OfferEvent, id_, ref)


async def get_many(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[OfferEvent | None]:
    """Events in the order of ``ids``, None where missing (the shape a DataLoader needs)."""
    return await rows_by_ids(session, OfferEvent, ids)


async def create(
    session: AsyncSession, changes: EventChanges, dates: Sequence[DateChanges] = ()
) -> OfferEvent:
    """A new event with its content links and ``dates`` (sessions), in this transaction.

    ``changes`` must hold ``offer_id`` and ``title``. BAD_USER_INPUT, NOT_FOUND and CONFLICT
    name ``offer_event.<field>`` (``offer_event.dates.<i>.<field>`` for a date).
    """
    check_list_length(len(dates), MAX_DATES_PER_EVENT, "offer_event.dates", "dates per event")
    event = OfferEvent(is_active=True, waiting_list=False, enrolled_count=0, waitlisted_count=0)
    await _apply(session, event, changes, links=[])
    session.add(event)
    await session.flush()
    outbox.record(
        session, EventType.OFFER_EVENT_CREATED, [event.id], {"offerId": str(event.offer_id)}
    )
    await _replace_links(session, event, changes, current=[])
    for index, date in enumerate(dates):
        await _insert_date(session, event.id, date, f"offer_event.dates.{index}")
    return event


async def update(session: AsyncSession, id_: uuid.UUID, changes: EventChanges) -> OfferEvent:
    """The event with ``changes`` applied; NOT_FOUND on ``id``.

    Capacity is checked against the enrolled count under the row lock
    (CAPACITY_BELOW_ENROLLED, SPEC §3.5); a raised or removed capacity is filled from the
    waiting list in this same transaction (SPEC §3.4).
    """
    event = await lock(session, id_)
    links = await _linked_content_ids(session, event.id)
    await _apply(session, event, changes, links=links)
    await _replace_links(session, event, changes, current=links)
    await session.flush()
    outbox.record(
        session, EventType.OFFER_EVENT_UPDATED, [event.id], {"offerId": str(event.offer_id)}
    )
    if "max_participants" in changes:
        await promote_waiting_list(session, event)
    return event


async def _apply(
    session: AsyncSession, event: OfferEvent, changes: EventChanges, links: list[uuid.UUID]
) -> None:
    if _links_change(changes):
        check_content_links(_wanted_links(changes, links), "offer_event.content_ids")
    if "offer_id" in changes:
        if changes["offer_id"] != event.offer_id:
            await _check_room_for_event(session, changes["offer_id"], "offer_event.offer_id")
        event.offer_id = changes["offer_id"]
    if "title" in changes:
        event.title = clean_title(changes["title"], "offer_event.title")
    if "ref" in changes:
        ref = clean_ref(changes["ref"], "offer_event.ref")
        await ensure_unique_ref(session, OfferEvent, ref, "offer_event.ref", exclude_id=event.id)
        event.ref = ref
    for key in ("waiting_list", "closing_date", "is_active"):
        if key in changes:
            setattr(event, key, changes[key])
    _apply_capacity(event, changes)
    await _apply_content_type(session, event, changes, links)


def _apply_capacity(event: OfferEvent, changes: EventChanges) -> None:
    maximum = changes.get("max_participants", event.max_participants)
    minimum = changes.get("min_participants", event.min_participants)
    if maximum is not None and maximum < 1:
        raise bad_input(
            "offer_event.max_participants", "max_participants must be at least 1", _CAPACITY
        )
    if minimum is not None and minimum < 0:
        raise bad_input(
            "offer_event.min_participants", "min_participants must not be negative", _CAPACITY
        )
    if minimum is not None and maximum is not None and minimum > maximum:
        field = "min_participants" if "min_participants" in changes else "max_participants"
        raise bad_input(
            f"offer_event.{field}",
            f"min_participants ({minimum}) must not exceed max_participants ({maximum})",
            _CAPACITY,
        )
    if maximum is not None and maximum < (event.enrolled_count or 0):
        raise DomainError(
            ErrorCode.CAPACITY_BELOW_ENROLLED,
            f"max_participants ({maximum}) is below the {event.enrolled_count} people enrolled; "
            "unenroll or decline enrollments first",
            field="offer_event.max_participants",
            mentions=_CAPACITY,
        )
    event.max_participants = maximum
    event.min_participants = minimum


def _wanted_links(changes: EventChanges, current: list[uuid.UUID]) -> list[uuid.UUID]:
    primary = (
        changes["content_id"] if "content_id" in changes else (current[0] if current else None)
    )
    extras = changes["content_ids"] if "content_ids" in changes else current[1:]
    wanted = ([primary] if primary is not None else []) + list(extras or [])
    return list(dict.fromkeys(wanted))


def _links_change(changes: EventChanges) -> bool:
    return "content_id" in changes or "content_ids" in changes


async def _linkable_items(
    session: AsyncSession,
    changes: EventChanges,
    wanted: list[uuid.UUID],
    current: list[uuid.UUID],
) -> list["ContentItem"]:
    """The content items of ``wanted``, each existing, and active when the call creates its
    link, else NOT_FOUND or BAD_USER_INPUT on the field that named it (``content_id`` or
    ``content_ids.<i>``). A link the event already has is kept whatever became of its item
    (an item archived since is not a reason to refuse an update that keeps or drops it)."""
    extras = list(changes.get("content_ids") or [])
    items = []
    for id_, item in zip(wanted, await content.get_many(session, wanted), strict=True):
        if id_ in extras and changes.get("content_id") != id_:
            field = f"offer_event.content_ids.{extras.index(id_)}"
        else:
            field = "offer_event.content_id"
        if item is None:
            raise not_found(f"content item {id_}", field)
        if not item.is_active and id_ not in current:
            raise bad_input(field, f"content item {id_} is archived and cannot be linked")
        items.append(item)
    return items


async def _apply_content_type(
    session: AsyncSession, event: OfferEvent, changes: EventChanges, links: list[uuid.UUID]
) -> None:
    """The event's content type is its first item's type: given and checked, or taken from it."""
    if not _links_change(changes) and "content_type" not in changes:
        return
    wanted = _wanted_links(changes, links) if _links_change(changes) else links
    primary = None
    if wanted:
        if _links_change(changes):
            primary = (await _linkable_items(session, changes, wanted, links))[0]
        else:
            primary = await content.get(session, wanted[0])
    given = changes.get("content_type")
    if primary is not None and given is not None and given != primary.type:
        raise bad_input(
            "offer_event.content_type",
            f"content_type {given.value} does not match the content item's type "
            f"{primary.type.value}",
            ("content_type",),
        )
    event.content_type = primary.type if primary is not None else given


async def _replace_links(
    session: AsyncSession, event: OfferEvent, changes: EventChanges, current: list[uuid.UUID]
) -> None:
    if not _links_change(changes):
        return
    wanted = _wanted_links(changes, current)
    if wanted == current:
        return
    await session.execute(
        delete(OfferEventContent).where(OfferEventContent.offer_event_id == event.id)
    )
    session.add_all(
        OfferEventContent(offer_event_id=event.id, position=position, content_item_id=id_)
        for position, id_ in enumerate(wanted)
    )
    await session.flush()


async def _linked_content_ids(session: AsyncSession, event_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(OfferEventContent.content_item_id)
        .where(OfferEventContent.offer_event_id == event_id)
        .order_by(OfferEventContent.position)
    )
    return list(rows.all())


async def archive(session: AsyncSession, ids: Sequence[uuid.UUID], archive: bool) -> BulkResult:
    """Archive (``is_active`` false) or restore events (SPEC §3.6); unknown ids fail. Each
    event changed writes OFFER_EVENT_ARCHIVED (restored: OFFER_EVENT_UPDATED)."""
    result = await set_active(session, OfferEvent, ids, archive)
    kind = EventType.OFFER_EVENT_ARCHIVED if archive else EventType.OFFER_EVENT_UPDATED
    outbox.record(session, kind, result.changed)
    return result


def _check_date(start: datetime, end: datetime, path: str, end_given: bool = True) -> None:
    if end <= start:
        field = f"{path}.end" if end_given else f"{path}.start"
        raise bad_input(field, "end must be after start")


async def _insert_date(
    session: AsyncSession, offer_event_id: uuid.UUID, changes: DateChanges, path: str
) -> OfferEventDate:
    _check_date(changes["start"], changes["end"], path)
    date = OfferEventDate(
        offer_event_id=offer_event_id,
        start=changes["start"],
        end=changes["end"],
        location=clean_text(changes.get("location"), f"{path}.location", MAX_LOCATION_LENGTH),
    )
    session.add(date)
    await session.flush()
    _record_date(session, EventType.OFFER_EVENT_DATE_CREATED, date)
    return date


def _record_date(session: AsyncSession, kind: EventType, date: OfferEventDate) -> None:
    outbox.record(session, kind, [date.id], {"offerEventId": str(date.offer_event_id)})


async def create_date(session: AsyncSession, changes: DateChanges) -> OfferEventDate:
    """A new date of the event ``changes["offer_event_id"]`` (SPEC §3.7: end after start; at
    most ``MAX_DATES_PER_EVENT``, counted under the event's lock). NOT_FOUND and
    BAD_USER_INPUT name ``offer_event_date.<field>``."""
    event_id = changes["offer_event_id"]
    path = "offer_event_date.offer_event_id"
    await lock(session, event_id, path)
    count = await session.scalar(
        select(func.count()).where(OfferEventDate.offer_event_id == event_id)
    )
    check_list_length(int(count or 0) + 1, MAX_DATES_PER_EVENT, path, "dates per event")
    return await _insert_date(session, event_id, changes, "offer_event_date")


async def _check_room_for_event(session: AsyncSession, offer_id: uuid.UUID, path: str) -> None:
    """Before putting one more event on an offer: the offer locked (NOT_FOUND on ``path``),
    its events counted (at most ``MAX_EVENTS_PER_OFFER``)."""
    await offers.lock(session, offer_id, path)
    count = await session.scalar(select(func.count()).where(OfferEvent.offer_id == offer_id))
    check_list_length(int(count or 0) + 1, MAX_EVENTS_PER_OFFER, path, "events per offer")


async def update_date(
    session: AsyncSession, id_: uuid.UUID, changes: DateChanges
) -> OfferEventDate:
    """The date with ``changes`` applied; the result must still end after it starts.
    NOT_FOUND on ``id``; BAD_USER_INPUT names ``offer_event_date.<field>``."""
    date = await get_row(session, OfferEventDate, id_, "offer event date")
    start = changes.get("start", date.start)
    end = changes.get("end", date.end)
    _check_date(start, end, "offer_event_date", end_given="end" in changes)
    date.start, date.end = start, end
    if "location" in changes:
        date.location = clean_text(
            changes["location"], "offer_event_date.location", MAX_LOCATION_LENGTH
        )
    await session.flush()
    _record_date(session, EventType.OFFER_EVENT_DATE_UPDATED, date)
    return date


async def delete_dates(session: AsyncSession, ids: Sequence[uuid.UUID]) -> BulkResult:
    """Delete dates by id; unknown ids are reported as failed. Each deleted date writes
    OFFER_EVENT_DATE_DELETED."""

    async def change(found: list[uuid.UUID]) -> None:
        deleted = await session.execute(
            delete(OfferEventDate)
            .where(OfferEventDate.id.in_(found))
            .returning(OfferEventDate.id, OfferEventDate.offer_event_id)
        )
        for id_, event_id in deleted.all():
            outbox.record(
                session, EventType.OFFER_EVENT_DATE_DELETED, [id_], {"offerEventId": str(event_id)}
            )

    return await bulk_apply(session, OfferEventDate, ids, change)


# --- the orders and filters of reads, on the models or on aliases of them: the one
# definition for the service's reads and the compiled ones (events/graphql_map.py) ---


def event_conditions(event: Any, where: EventFilter) -> list[ColumnElement[bool]]:
    """What ``where`` admits of ``event`` (the model or an alias of it)."""
    if where.is_active is None:
        return []
    return [event.is_active.is_(where.is_active)]


def event_order(event: Any) -> list[ColumnElement[Any]]:
    """An offer's events: by first date, events without dates last (SPEC §2.2), then by
    creation."""
    date = aliased(OfferEventDate)
    first_start = (
        select(func.min(date.start)).where(date.offer_event_id == event.id).scalar_subquery()
    )
    return [first_start.asc().nulls_last(), event.created_at, event.id]


def date_order(date: Any) -> list[ColumnElement[Any]]:
    """An event's dates: by start (SPEC §3.7), id breaking ties."""
    return [date.start, date.id]


def content_link_order(link: Any) -> list[ColumnElement[Any]]:
    """An event's content links in link order: the first is the event's ``contentId``."""
    return [link.position]


# --- batched reads, in the shape DataLoaders need: one list per key, in key order ---


async def events_of_offers(
    session: AsyncSession, offer_ids: Sequence[uuid.UUID], where: EventFilter = EventFilter()
) -> list[list[OfferEvent]]:
    """Every event of each offer, sorted by its first date (events without dates last)."""
    stmt = select(OfferEvent).where(
        OfferEvent.offer_id.in_(offer_ids), *event_conditions(OfferEvent, where)
    )
    events = await session.scalars(stmt.order_by(*event_order(OfferEvent)))
    return group_by_key(((event.offer_id, event) for event in events), offer_ids)


async def dates_of_events(
    session: AsyncSession, event_ids: Sequence[uuid.UUID]
) -> list[list[OfferEventDate]]:
    """Each event's dates, sorted by start (SPEC §3.7)."""
    stmt = (
        select(OfferEventDate)
        .where(OfferEventDate.offer_event_id.in_(event_ids))
        .order_by(*date_order(OfferEventDate))
    )
    dates = await session.scalars(stmt)
    return group_by_key(((date.offer_event_id, date) for date in dates), event_ids)


async def content_of_events(
    session: AsyncSession, event_ids: Sequence[uuid.UUID]
) -> list[list["ContentItem"]]:
    """Each event's linked content items in link order (the first is ``contentId``)."""
    links = (
        await session.execute(
            select(OfferEventContent.offer_event_id, OfferEventContent.content_item_id)
            .where(OfferEventContent.offer_event_id.in_(event_ids))
            .order_by(OfferEventContent.offer_event_id, *content_link_order(OfferEventContent))
        )
    ).all()
    item_ids = list(dict.fromkeys(item_id for _, item_id in links))
    items = dict(zip(item_ids, await content.get_many(session, item_ids), strict=True))
    return group_by_key(
        ((event_id, item) for event_id, item_id in links if (item := items[item_id])), event_ids
    )
