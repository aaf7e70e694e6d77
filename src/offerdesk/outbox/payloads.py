"""The envelope every event is handed out in, by the change feed and by webhooks (issue 12
item 4, docs/webhooks.md): ``{"type", "id", "occurredAt", "data"}``.

``data`` is the facts the outbox row holds (outbox/service.py ``record``). The three
enrollment events also carry the keys the reference LMS documents for them (``event``,
``sentDate``, ``user {…}``, ``offer_event {…}``), so receivers written for it work; those
nested objects describe the user and the event as they are when the envelope is built (for
webhooks: when the dispatcher turns the event into deliveries, moments after the change).
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.enrollments import service as enrollments
from offerdesk.events import service as events
from offerdesk.outbox.models import EventType, OutboxEvent
from offerdesk.users import service as users

ENROLLMENT_EVENTS = frozenset(
    {
        EventType.OFFER_EVENT_ENROLLED,
        EventType.OFFER_EVENT_ENROLLMENT_STATUS_UPDATED,
        EventType.OFFER_EVENT_UNENROLLED,
    }
)


def timestamp(value: datetime) -> str:
    """UTC with milliseconds and ``Z`` (``2026-11-30T01:29:06.123Z``), the reference's form."""
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


async def envelopes(
    session: AsyncSession, rows: Sequence[OutboxEvent], *, users_visible: bool = True
) -> list[dict[str, Any]]:
    """The envelope of each row, in order; the enrollment events' users and events are read in
    one batch each. ``users_visible`` False (a reader without users.read, SPEC §1: a type's
    data needs its scope wherever it is reached): the enrollment events' ``user`` is null."""
    enrollment_rows = [row for row in rows if row.type in ENROLLMENT_EVENTS]
    user_ids = list({uuid.UUID(row.data["userId"]) for row in enrollment_rows})
    event_ids = list({uuid.UUID(row.data["offerEventId"]) for row in enrollment_rows})
    found_users = dict(zip(user_ids, await users.get_many(session, user_ids), strict=True))
    found_events = dict(zip(event_ids, await events.get_many(session, event_ids), strict=True))
    waiting = [row.object_id for row in enrollment_rows if row.data["status"] == "WAITLISTED"]
    positions = dict(
        zip(waiting, await enrollments.waitlist_positions(session, waiting), strict=True)
    )
    result = []
    for row in rows:
        data = dict(row.data)
        if row.type in ENROLLMENT_EVENTS:
            user = found_users[uuid.UUID(data["userId"])] if users_visible else None
            event = found_events[uuid.UUID(data["offerEventId"])]
            data |= {
                "event": row.type,
                "sentDate": timestamp(row.occurred_at),
                "user": user
                and {
                    "id": str(user.id),
                    "ref": user.ref,
                    "name": user.name,
                    "email": user.email,
                    "isActive": user.is_active,
                },
                "offer_event": event
                and {
                    "id": str(event.id),
                    "ref": event.ref,
                    "title": event.title,
                    "max_subscriptions": event.max_participants,
                    "cancelled": not event.is_active,
                    "kind": None if event.content_type is None else event.content_type.value,
                },
                "waitlistPosition": positions.get(row.object_id),
            }
        result.append(
            {
                "type": row.type,
                "id": str(row.id),
                "occurredAt": timestamp(row.occurred_at),
                "data": data,
            }
        )
    return result
