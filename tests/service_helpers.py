"""Shared helpers of the service tests (``tests/<domain>/test_service.py``): rows made through
the services themselves, each in a transaction of its own, and ``refusal``, which runs a
service call in a write transaction and returns the ``DomainError`` it must raise.

No HTTP and no GraphQL here: the services are called as the schema layer calls them.
"""

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.content import service as content
from offerdesk.content.models import ContentItem, ContentType
from offerdesk.db import Database
from offerdesk.enrollments import service as enrollments
from offerdesk.enrollments.models import Enrollment, EnrollmentStatus
from offerdesk.errors import DomainError, ErrorCode
from offerdesk.events import service as events
from offerdesk.events.models import OfferEvent, OfferEventDate
from offerdesk.offers import service as offers
from offerdesk.offers.models import Offer
from offerdesk.users import service as users
from offerdesk.users.models import User

T = TypeVar("T")

START = datetime(2025, 9, 12, 9, 0, tzinfo=UTC)
END = datetime(2025, 9, 12, 12, 0, tzinfo=UTC)


def tag() -> str:
    return uuid.uuid4().hex[:8]


async def in_transaction(db: Database, call: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """``call`` run in one write transaction, committed."""
    async with db.transaction() as session:
        return await call(session)


async def reading(db: Database, call: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """``call`` run in a read session: what is stored, after the transactions before it."""
    async with db.read_session() as session:
        return await call(session)


async def refusal(
    db: Database,
    call: Callable[[AsyncSession], Awaitable[object]],
    code: ErrorCode,
    field: str | None,
) -> DomainError:
    """The ``DomainError`` ``call`` raises in a write transaction (rolled back), checked for its
    code and domain path."""
    with pytest.raises(DomainError) as caught:
        await in_transaction(db, call)
    error = caught.value
    assert (error.code, error.field) == (code, field), (error.code, error.field, error.message)
    return error


async def make_offer(db: Database, **changes: Any) -> Offer:
    return await in_transaction(
        db, lambda session: offers.create(session, {"title": f"Offer {tag()}", **changes})
    )


async def make_content(
    db: Database, type_: ContentType = ContentType.TRAINING, **changes: Any
) -> ContentItem:
    return await in_transaction(
        db,
        lambda session: content.create(
            session, {"type": type_, "title": f"Content {tag()}", **changes}
        ),
    )


async def make_event(
    db: Database,
    offer_id: uuid.UUID | None = None,
    dates: Sequence[tuple[datetime, datetime]] = (),
    **changes: Any,
) -> OfferEvent:
    """An event (of a new offer unless ``offer_id`` is given) with ``dates`` as (start, end)."""
    if offer_id is None:
        offer_id = (await make_offer(db)).id
    wanted = {"offer_id": offer_id, "title": f"Event {tag()}", **changes}
    return await in_transaction(
        db,
        lambda session: events.create(
            session, wanted, [{"start": start, "end": end} for start, end in dates]
        ),
    )


async def make_date(
    db: Database, event_id: uuid.UUID, start: datetime = START, end: datetime = END
) -> OfferEventDate:
    return await in_transaction(
        db,
        lambda session: events.create_date(
            session, {"offer_event_id": event_id, "start": start, "end": end}
        ),
    )


async def make_user(db: Database, **changes: Any) -> User:
    name = tag()
    return await in_transaction(
        db,
        lambda session: users.create(
            session, {"name": f"User {name}", "email": f"user-{name}@example.com", **changes}
        ),
    )


async def enroll(
    db: Database,
    user_id: uuid.UUID,
    event_id: uuid.UUID,
    status: EnrollmentStatus | None = None,
) -> Enrollment:
    request = enrollments.EnrollRequest(user_id=user_id, offer_event_id=event_id, status=status)
    return await in_transaction(db, lambda session: enrollments.enroll(session, request))


async def stored_event(db: Database, event_id: uuid.UUID) -> OfferEvent:
    return await reading(db, lambda session: events.get(session, event_id))
