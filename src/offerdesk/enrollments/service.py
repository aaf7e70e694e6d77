"""Enrollment rules (SPEC §3.1 to 3.4, 3.6): capacity, the waiting list, every status change.

How capacity holds under any concurrency (DESIGN.md): every change first locks the event row
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises
writers), takes a seat with one conditional ``UPDATE`` of the event's counters, and the
database's CHECK constraint refuses an overbooked row whatever the code does. Promotions from
the waiting list run in the same transaction as the change that freed the spot, so a free spot
and a non-empty waiting list never exist together.
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from offerdesk.bulk import BulkResult, bulk_ids, split_found
from offerdesk.db import group_by_key, utcnow
from offerdesk.enrollments.models import (
    ACTIVE_STATUSES,
    ChangeCause,
    Enrollment,
    EnrollmentStatus,
    EnrollmentStatusChange,
)
from offerdesk.errors import DomainError, ErrorCode, bad_input, not_found
from offerdesk.events.models import OfferEvent
from offerdesk.offers.models import Offer
from offerdesk.users.models import User


@dataclass(frozen=True)
class EnrollRequest:
    user_id: uuid.UUID
    offer_event_id: uuid.UUID
    status: EnrollmentStatus | None = None
    send_mail: bool | None = None


async def enroll(
    session: AsyncSession,
    request: EnrollRequest,
    user_field: str = "enrollment.userId",
    event_field: str = "enrollment.offerEventId",
) -> Enrollment:
    """Enroll a user (SPEC §3.3); enrolling again while active returns the enrollment as it is.

    ``user_field`` and ``event_field`` name the caller's input in errors (SPEC §2.5)."""
    if request.status in (EnrollmentStatus.CANCELLED, EnrollmentStatus.DECLINED):
        raise bad_input(
            "enrollment.status", "status may only be ENROLLED or WAITLISTED when enrolling"
        )
    event, offer, user = await _locked_event_offer_and_user(
        session, request.offer_event_id, request.user_id, event_field
    )
    if user is None:
        raise not_found("user", user_field)
    # Read after the lock, in a statement of its own: a row joined into the locking statement
    # comes from its snapshot, from before a concurrent enrollment of this same user that the
    # lock waited for.
    existing = await _enrollment_of(session, request.user_id, event.id)
    if existing is not None and existing.status in ACTIVE_STATUSES:
        return existing
    _check_open(event, offer, user, user_field, event_field)
    status, seq = await _take_place(session, event, request.status, event_field)
    if existing is None:
        # The id is set here, not at flush, so the enrollment and its first change are written
        # in one flush.
        enrollment = Enrollment(
            id=uuid.uuid4(),
            user_id=user.id,
            offer_event_id=event.id,
            status=status,
            enrolled_at=utcnow(),
            waitlist_seq=seq,
        )
        session.add(enrollment)
        previous = None
    else:
        enrollment, previous = existing, existing.status
        enrollment.status, enrollment.waitlist_seq = status, seq
        enrollment.enrolled_at = utcnow()
    cause = ChangeCause.ENROLL if status is EnrollmentStatus.ENROLLED else ChangeCause.WAITLIST
    _record(session, enrollment, previous, cause, request.send_mail)
    await session.flush()
    # An explicit WAITLISTED request while a spot is free must not leave both at once.
    await promote_waiting_list(session, event)
    return enrollment


async def locked_event(session: AsyncSession, id_: uuid.UUID, field: str) -> OfferEvent:
    """The event row, locked for this transaction: enrollment changes of one event queue here."""
    event = await session.scalar(select(OfferEvent).where(OfferEvent.id == id_).with_for_update())
    if event is None:
        raise not_found("offer event", field)
    return event


async def _locked_event_offer_and_user(
    session: AsyncSession, event_id: uuid.UUID, user_id: uuid.UUID, field: str
) -> tuple[OfferEvent, Offer, User | None]:
    """The event row locked, with its offer and the user (neither locked), in one statement:
    one round trip fewer while the lock is held. A user archived meanwhile is judged as they
    were a moment before, as if this enrollment had come first."""
    row = (
        await session.execute(
            select(OfferEvent, Offer, User)
            .join(Offer, Offer.id == OfferEvent.offer_id)
            .outerjoin(User, User.id == user_id)
            .where(OfferEvent.id == event_id)
            .with_for_update(of=OfferEvent)
        )
    ).first()
    if row is None:
        raise not_found("offer event", field)
    return row[0], row[1], row[2]


def _check_open(
    event: OfferEvent, offer: Offer, user: User, user_field: str, event_field: str
) -> None:
    if not event.is_active or not offer.is_active or offer.archived_at:
        raise DomainError(
            ErrorCode.EVENT_INACTIVE,
            "this offer event (or its offer) is archived or inactive and takes no enrollments",
            field=event_field,
        )
    if event.closing_date is not None and event.closing_date <= utcnow():
        raise DomainError(
            ErrorCode.REGISTRATION_CLOSED,
            f"registration closed at {event.closing_date.isoformat()}",
            field=event_field,
        )
    if not user.is_active:
        raise DomainError(ErrorCode.USER_INACTIVE, "archived users cannot enroll", field=user_field)


_COUNTERS = ("enrolled_count", "waitlisted_count", "waitlist_seq")


async def _bump(session: AsyncSession, event: OfferEvent, *conditions: Any, **deltas: int) -> bool:
    """Add ``deltas`` to the event's counters in one UPDATE, if ``conditions`` hold.

    The new values come back with RETURNING and are set on the loaded event as its committed
    state, so the rules read current counters without another SELECT.
    """
    values = {name: getattr(OfferEvent, name) + delta for name, delta in deltas.items()}
    row = (
        await session.execute(
            update(OfferEvent)
            .where(OfferEvent.id == event.id, *conditions)
            .values(values)
            .returning(*(getattr(OfferEvent, name) for name in _COUNTERS))
        )
    ).first()
    if row is None:
        return False
    for name, value in zip(_COUNTERS, row, strict=True):
        set_committed_value(event, name, value)
    return True


async def _take_place(
    session: AsyncSession, event: OfferEvent, wanted: EnrollmentStatus | None, event_field: str
) -> tuple[EnrollmentStatus, int | None]:
    """A seat if one is free (and nobody waits), else a waiting-list ticket, else EVENT_FULL."""
    if wanted is not EnrollmentStatus.WAITLISTED:
        seated = await _bump(
            session,
            event,
            (OfferEvent.max_participants.is_(None))
            | (OfferEvent.enrolled_count < OfferEvent.max_participants),
            OfferEvent.waitlisted_count == 0,
            enrolled_count=1,
        )
        if seated:
            return EnrollmentStatus.ENROLLED, None
        if wanted is EnrollmentStatus.ENROLLED or not event.waiting_list:
            raise DomainError(
                ErrorCode.EVENT_FULL,
                f"the offer event is full ({event.max_participants} places)",
                field=event_field,
            )
    await _bump(session, event, waitlisted_count=1, waitlist_seq=1)
    return EnrollmentStatus.WAITLISTED, event.waitlist_seq


async def promote_waiting_list(session: AsyncSession, event: OfferEvent) -> list[Enrollment]:
    """Fill every free spot from the waiting list, longest-waiting first (SPEC §3.4).

    The caller holds the event row (locked, or SQLite's write lock) in this transaction and
    has its current counters (every change of them goes through ``_bump``).
    """
    if event.waitlisted_count == 0:
        return []
    free = None if event.max_participants is None else event.max_participants - event.enrolled_count
    if free is not None and free <= 0:
        return []
    stmt = (
        select(Enrollment)
        .where(
            Enrollment.offer_event_id == event.id,
            Enrollment.status == EnrollmentStatus.WAITLISTED,
        )
        .order_by(Enrollment.waitlist_seq)
    )
    if free is not None:
        stmt = stmt.limit(free)
    promoted = list((await session.scalars(stmt)).all())
    if not promoted:
        return []
    for enrollment in promoted:
        enrollment.status, enrollment.waitlist_seq = EnrollmentStatus.ENROLLED, None
        _record(session, enrollment, EnrollmentStatus.WAITLISTED, ChangeCause.PROMOTION, None)
    await _bump(session, event, enrolled_count=len(promoted), waitlisted_count=-len(promoted))
    await session.flush()
    return promoted


async def _leave(
    session: AsyncSession,
    enrollment: Enrollment,
    event: OfferEvent,
    status: EnrollmentStatus,
    cause: ChangeCause,
) -> None:
    """Move an active enrollment to CANCELLED or DECLINED, giving its place on."""
    previous = enrollment.status
    counter = "enrolled_count" if previous is EnrollmentStatus.ENROLLED else "waitlisted_count"
    await _bump(session, event, **{counter: -1})
    enrollment.status, enrollment.waitlist_seq = status, None
    _record(session, enrollment, previous, cause, None)
    await session.flush()
    await promote_waiting_list(session, event)


async def unenroll(session: AsyncSession, user_id: uuid.UUID, offer_event_id: uuid.UUID) -> bool:
    """The participant withdraws (→ CANCELLED). Withdrawing again is a success that changes
    nothing; a user who never enrolled is NOT_FOUND."""
    event = await locked_event(session, offer_event_id, "offerEventId")
    enrollment = await _enrollment_of(session, user_id, event.id)
    if enrollment is None:
        raise not_found("enrollment of this user in this offer event", "userId")
    if enrollment.status in ACTIVE_STATUSES:
        await _leave(session, enrollment, event, EnrollmentStatus.CANCELLED, ChangeCause.UNENROLL)
    return True


async def decline(session: AsyncSession, ids: Sequence[uuid.UUID]) -> BulkResult:
    """The organiser refuses or removes enrollments (→ DECLINED); unknown ids are reported.

    Enrollments that are no longer active (already cancelled or declined) stay as they are.
    """
    wanted = bulk_ids(ids)
    rows = (await session.scalars(select(Enrollment).where(Enrollment.id.in_(wanted)))).all()
    by_event: dict[uuid.UUID, list[Enrollment]] = defaultdict(list)
    for enrollment in rows:
        by_event[enrollment.offer_event_id].append(enrollment)
    # Lock events in a fixed order so two concurrent bulk declines cannot deadlock.
    for event_id in sorted(by_event):
        event = await locked_event(session, event_id, "ids")
        for enrollment in by_event[event_id]:
            await session.refresh(enrollment)
            if enrollment.status in ACTIVE_STATUSES:
                await _leave(
                    session, enrollment, event, EnrollmentStatus.DECLINED, ChangeCause.DECLINE
                )
    return split_found(wanted, {row.id for row in rows})


async def enroll_many(
    session: AsyncSession,
    offer_event_id: uuid.UUID,
    user_ids: Sequence[uuid.UUID],
    send_mail: bool | None,
    user_field: str,
    event_field: str,
) -> list[Enrollment]:
    """Enroll many users in one transaction: all of them, or none (SPEC §2.3 bulk form).

    Each user once, in the order given; an error names the user's first place in the input."""
    first_index: dict[uuid.UUID, int] = {}
    for index, user_id in enumerate(user_ids):
        first_index.setdefault(user_id, index)
    enrollments = []
    for user_id, index in first_index.items():
        enrollments.append(
            await enroll(
                session,
                EnrollRequest(user_id=user_id, offer_event_id=offer_event_id, send_mail=send_mail),
                user_field=f"{user_field}.{index}",
                event_field=event_field,
            )
        )
    return enrollments


def _record(
    session: AsyncSession,
    enrollment: Enrollment,
    previous: EnrollmentStatus | None,
    cause: ChangeCause,
    send_mail: bool | None,
) -> None:
    enrollment.updated_at = utcnow()
    session.add(
        EnrollmentStatusChange(
            enrollment_id=enrollment.id,
            from_status=previous,
            to_status=enrollment.status,
            cause=cause,
            send_mail=send_mail,
        )
    )


async def _enrollment_of(
    session: AsyncSession, user_id: uuid.UUID, offer_event_id: uuid.UUID
) -> Enrollment | None:
    return await session.scalar(
        select(Enrollment).where(
            Enrollment.user_id == user_id, Enrollment.offer_event_id == offer_event_id
        )
    )


async def find_enrollment(
    session: AsyncSession, user_id: uuid.UUID, offer_event_id: uuid.UUID
) -> Enrollment | None:
    return await _enrollment_of(session, user_id, offer_event_id)


async def enrollments_of_user(session: AsyncSession, user_id: uuid.UUID) -> list[Enrollment]:
    stmt = (
        select(Enrollment)
        .where(Enrollment.user_id == user_id)
        .order_by(Enrollment.created_at, Enrollment.id)
    )
    return list((await session.scalars(stmt)).all())


def roster_query(offer_event_id: uuid.UUID, status: EnrollmentStatus | None) -> Select[Enrollment]:
    stmt = select(Enrollment).where(Enrollment.offer_event_id == offer_event_id)
    if status is not None:
        stmt = stmt.where(Enrollment.status == status)
    return stmt


# --- batched reads for DataLoaders ---


async def waitlist_positions(
    session: AsyncSession, enrollment_ids: Sequence[uuid.UUID]
) -> list[int | None]:
    """The 1-based place of each enrollment among its event's WAITLISTED ones (None if not)."""
    mine = aliased(Enrollment)
    ahead = (
        select(func.count())
        .where(
            Enrollment.offer_event_id == mine.offer_event_id,
            Enrollment.status == EnrollmentStatus.WAITLISTED,
            Enrollment.waitlist_seq <= mine.waitlist_seq,
        )
        .scalar_subquery()
    )
    rows = await session.execute(
        select(mine.id, ahead).where(
            mine.id.in_(enrollment_ids), mine.status == EnrollmentStatus.WAITLISTED
        )
    )
    positions: dict[uuid.UUID, int] = dict(rows.all())
    return [positions.get(id_) for id_ in enrollment_ids]


async def histories(
    session: AsyncSession, enrollment_ids: Sequence[uuid.UUID]
) -> list[list[EnrollmentStatusChange]]:
    stmt = (
        select(EnrollmentStatusChange)
        .where(EnrollmentStatusChange.enrollment_id.in_(enrollment_ids))
        .order_by(EnrollmentStatusChange.enrollment_id, EnrollmentStatusChange.id)
    )
    changes = await session.scalars(stmt)
    return group_by_key(((change.enrollment_id, change) for change in changes), enrollment_ids)
