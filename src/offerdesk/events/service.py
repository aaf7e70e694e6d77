"""The rules for offer events and their dates (SPEC §2.1, §3.5, §3.7, §3.8).

Capacity *changes* are checked here against the stored counters; what happens to enrollments
when capacity changes is the enrollments package's business.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TypedDict

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.bulk import BulkResult, bulk_ids, existing_ids, set_active, split_found
from offerdesk.content.models import ContentItem, ContentType
from offerdesk.db import group_by_key
from offerdesk.enrollments.service import promote_waiting_list
from offerdesk.errors import DomainError, ErrorCode, bad_input, not_found
from offerdesk.events.models import OfferEvent, OfferEventContent, OfferEventDate
from offerdesk.list_limits import (
    MAX_DATES_PER_EVENT,
    check_content_links,
    check_list_length,
    check_room_for_date,
    check_room_for_event,
)
from offerdesk.offers.models import Offer
from offerdesk.validation import clean_ref, clean_text, clean_title, ensure_unique_ref

MAX_LOCATION_LENGTH = 500


class DateChanges(TypedDict, total=False):
    start: datetime
    end: datetime
    location: str | None


class EventChanges(TypedDict, total=False):
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


async def get_event(
    session: AsyncSession, id_: uuid.UUID, field: str = "id", *, lock: bool = False
) -> OfferEvent:
    """The event, optionally row-locked (PostgreSQL) for a change that depends on its counters."""
    stmt = select(OfferEvent).where(OfferEvent.id == id_)
    if lock:
        stmt = stmt.with_for_update()
    event = await session.scalar(stmt)
    if event is None:
        raise not_found("offer event", field)
    return event


async def create_event(
    session: AsyncSession, changes: EventChanges, dates: Sequence[DateChanges], prefix: str
) -> OfferEvent:
    check_list_length(len(dates), MAX_DATES_PER_EVENT, f"{prefix}.dates", "dates per event")
    event = OfferEvent(is_active=True, waiting_list=False, enrolled_count=0, waitlisted_count=0)
    await _apply(session, event, changes, prefix, links=[])
    session.add(event)
    await session.flush()
    await _replace_links(session, event, changes, prefix, current=[])
    for index, date in enumerate(dates):
        await create_date(session, event.id, date, f"{prefix}.dates.{index}")
    return event


async def update_event(
    session: AsyncSession, id_: uuid.UUID, changes: EventChanges, prefix: str
) -> OfferEvent:
    """Change an event. Capacity is checked against the enrolled count under the row lock;
    a raised or removed capacity is filled from the waiting list in this same transaction."""
    event = await get_event(session, id_, lock=True)
    links = await linked_content_ids(session, event.id)
    await _apply(session, event, changes, prefix, links=links)
    await _replace_links(session, event, changes, prefix, current=links)
    await session.flush()
    if "max_participants" in changes:
        await promote_waiting_list(session, event)
    return event


async def _apply(
    session: AsyncSession,
    event: OfferEvent,
    changes: EventChanges,
    prefix: str,
    links: list[uuid.UUID],
) -> None:
    if _links_change(changes):
        check_content_links(_wanted_links(changes, links), f"{prefix}.contentIds")
    if "offer_id" in changes:
        if await session.get(Offer, changes["offer_id"]) is None:
            raise not_found("offer", f"{prefix}.offerId")
        if changes["offer_id"] != event.offer_id:
            await check_room_for_event(session, changes["offer_id"], f"{prefix}.offerId")
        event.offer_id = changes["offer_id"]
    if "title" in changes:
        event.title = clean_title(changes["title"], f"{prefix}.title")
    if "ref" in changes:
        ref = clean_ref(changes["ref"], f"{prefix}.ref")
        await ensure_unique_ref(session, OfferEvent, ref, f"{prefix}.ref", exclude_id=event.id)
        event.ref = ref
    for key in ("waiting_list", "closing_date", "is_active"):
        if key in changes:
            setattr(event, key, changes[key])
    _apply_capacity(event, changes, prefix)
    await _apply_content_type(session, event, changes, prefix, links)


def _apply_capacity(event: OfferEvent, changes: EventChanges, prefix: str) -> None:
    maximum = changes.get("max_participants", event.max_participants)
    minimum = changes.get("min_participants", event.min_participants)
    if maximum is not None and maximum < 1:
        raise bad_input(f"{prefix}.maxParticipants", "maxParticipants must be at least 1")
    if minimum is not None and minimum < 0:
        raise bad_input(f"{prefix}.minParticipants", "minParticipants must not be negative")
    if minimum is not None and maximum is not None and minimum > maximum:
        field = "minParticipants" if "min_participants" in changes else "maxParticipants"
        raise bad_input(
            f"{prefix}.{field}",
            f"minParticipants ({minimum}) must not exceed maxParticipants ({maximum})",
        )
    if maximum is not None and maximum < (event.enrolled_count or 0):
        raise DomainError(
            ErrorCode.CAPACITY_BELOW_ENROLLED,
            f"maxParticipants ({maximum}) is below the {event.enrolled_count} people enrolled; "
            "unenroll or decline enrollments first",
            field=f"{prefix}.maxParticipants",
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


async def _content_items(
    session: AsyncSession, changes: EventChanges, prefix: str, wanted: list[uuid.UUID]
) -> list[ContentItem]:
    rows = {
        item.id: item
        for item in await session.scalars(select(ContentItem).where(ContentItem.id.in_(wanted)))
    }
    extras = list(changes.get("content_ids") or [])
    items = []
    for id_ in wanted:
        if id_ in extras and changes.get("content_id") != id_:
            field = f"{prefix}.contentIds.{extras.index(id_)}"
        else:
            field = f"{prefix}.contentId"
        item = rows.get(id_)
        if item is None:
            raise not_found(f"content item {id_}", field)
        if not item.is_active:
            raise bad_input(field, f"content item {id_} is archived and cannot be linked")
        items.append(item)
    return items


async def _apply_content_type(
    session: AsyncSession,
    event: OfferEvent,
    changes: EventChanges,
    prefix: str,
    links: list[uuid.UUID],
) -> None:
    """The event's content type is its first item's type: given and checked, or taken from it."""
    if not _links_change(changes) and "content_type" not in changes:
        return
    wanted = _wanted_links(changes, links) if _links_change(changes) else links
    primary = None
    if wanted:
        if _links_change(changes):
            primary = (await _content_items(session, changes, prefix, wanted))[0]
        else:
            primary = await session.get(ContentItem, wanted[0])
    given = changes.get("content_type")
    if primary is not None and given is not None and given != primary.type:
        raise bad_input(
            f"{prefix}.contentType",
            f"contentType {given.value} does not match the content item's type "
            f"{primary.type.value}",
        )
    event.content_type = primary.type if primary is not None else given


async def _replace_links(
    session: AsyncSession,
    event: OfferEvent,
    changes: EventChanges,
    prefix: str,
    current: list[uuid.UUID],
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


async def linked_content_ids(session: AsyncSession, event_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(OfferEventContent.content_item_id)
        .where(OfferEventContent.offer_event_id == event_id)
        .order_by(OfferEventContent.position)
    )
    return list(rows.all())


async def archive_events(
    session: AsyncSession, ids: Sequence[uuid.UUID], archive: bool
) -> BulkResult:
    return await set_active(session, OfferEvent, ids, archive)


def _check_date(start: datetime, end: datetime, prefix: str, end_given: bool = True) -> None:
    if end <= start:
        field = f"{prefix}.end" if end_given else f"{prefix}.start"
        raise bad_input(field, "end must be after start")


async def create_date(
    session: AsyncSession, offer_event_id: uuid.UUID, changes: DateChanges, prefix: str
) -> OfferEventDate:
    _check_date(changes["start"], changes["end"], prefix)
    date = OfferEventDate(
        offer_event_id=offer_event_id,
        start=changes["start"],
        end=changes["end"],
        location=clean_text(changes.get("location"), f"{prefix}.location", MAX_LOCATION_LENGTH),
    )
    session.add(date)
    await session.flush()
    return date


async def add_date(
    session: AsyncSession, offer_event_id: uuid.UUID, changes: DateChanges, prefix: str
) -> OfferEventDate:
    await get_event(session, offer_event_id, f"{prefix}.offerEventId")
    await check_room_for_date(session, offer_event_id, f"{prefix}.offerEventId")
    return await create_date(session, offer_event_id, changes, prefix)


async def update_date(
    session: AsyncSession, id_: uuid.UUID, changes: DateChanges, prefix: str
) -> OfferEventDate:
    date = await session.get(OfferEventDate, id_)
    if date is None:
        raise not_found("offer event date", "id")
    start = changes.get("start", date.start)
    end = changes.get("end", date.end)
    _check_date(start, end, prefix, end_given="end" in changes)
    date.start, date.end = start, end
    if "location" in changes:
        date.location = clean_text(changes["location"], f"{prefix}.location", MAX_LOCATION_LENGTH)
    await session.flush()
    return date


async def delete_dates(session: AsyncSession, ids: Sequence[uuid.UUID]) -> BulkResult:
    wanted = bulk_ids(ids)
    found = await existing_ids(session, OfferEventDate, wanted)
    if found:
        await session.execute(delete(OfferEventDate).where(OfferEventDate.id.in_(found)))
    return split_found(wanted, found)


# --- batched reads, in the shape DataLoaders need: one list per key, in key order ---


async def events_by_offer_ids(
    session: AsyncSession, offer_ids: Sequence[uuid.UUID], is_active: bool | None = None
) -> list[list[OfferEvent]]:
    """Every event of each offer, sorted by its first date (events without dates last)."""
    first_start = (
        select(func.min(OfferEventDate.start))
        .where(OfferEventDate.offer_event_id == OfferEvent.id)
        .scalar_subquery()
    )
    stmt = select(OfferEvent).where(OfferEvent.offer_id.in_(offer_ids))
    if is_active is not None:
        stmt = stmt.where(OfferEvent.is_active.is_(is_active))
    stmt = stmt.order_by(first_start.asc().nulls_last(), OfferEvent.created_at, OfferEvent.id)
    events = await session.scalars(stmt)
    return group_by_key(((event.offer_id, event) for event in events), offer_ids)


async def dates_by_event_ids(
    session: AsyncSession, event_ids: Sequence[uuid.UUID]
) -> list[list[OfferEventDate]]:
    stmt = (
        select(OfferEventDate)
        .where(OfferEventDate.offer_event_id.in_(event_ids))
        .order_by(OfferEventDate.start, OfferEventDate.id)
    )
    dates = await session.scalars(stmt)
    return group_by_key(((date.offer_event_id, date) for date in dates), event_ids)


async def content_items_by_event_ids(
    session: AsyncSession, event_ids: Sequence[uuid.UUID]
) -> list[list[ContentItem]]:
    stmt = (
        select(OfferEventContent.offer_event_id, ContentItem)
        .join(ContentItem, ContentItem.id == OfferEventContent.content_item_id)
        .where(OfferEventContent.offer_event_id.in_(event_ids))
        .order_by(OfferEventContent.offer_event_id, OfferEventContent.position)
    )
    rows = await session.execute(stmt)
    return group_by_key(((event_id, item) for event_id, item in rows), event_ids)
