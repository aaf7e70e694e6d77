"""Enrollments (SPEC §2.3, §3.1 to 3.4, 3.6): the domain's whole API — capacity, the waiting
list, every status change, and the reads of enrollments. Knows nothing of GraphQL; names bad
input by domain paths (``enrollment.user_id``, ``user_refs.3``).

How capacity holds under any concurrency (DESIGN.md): every change first locks the event row
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises
writers), takes a seat with one conditional ``UPDATE`` of the event's counters, and the
database's CHECK constraint refuses an overbooked row whatever the code does. Promotions from
the waiting list run in the same transaction as the change that freed the spot, so a free spot
and a non-empty waiting list never exist together.
"""

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Uuid,
    bindparam,
    case,
    func,
    literal_column,
    null,
    select,
    text,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from offerdesk import locking
from offerdesk.bulk import MAX_BULK_IDS, BulkResult, bulk_ids, split_found
from offerdesk.db import group_by_key, utcnow
from offerdesk.enrollments.models import (
    ACTIVE_STATUSES,
    ChangeCause,
    Enrollment,
    EnrollmentStatus,
    EnrollmentStatusChange,
)
from offerdesk.errors import DomainError, ErrorCode, bad_input, not_found

# The enrollment rules run under one event lock (locking.py). Reading the event's offer and the
# user in the locking statement itself saves a round trip while the lock is held, so this
# service alone names other domains' tables (tests/test_architecture.py lists the exception).
from offerdesk.events.models import OfferEvent
from offerdesk.offers.models import Offer
from offerdesk.outbox import service as outbox
from offerdesk.outbox.models import EventType
from offerdesk.pagination import Page, paginate
from offerdesk.repository import find_row, ids_by_refs
from offerdesk.users.models import User
from offerdesk.validation import lookup_key, one_key

# session.info key: the causes of the status changes a session wrote, lower-case, for observers
# that count them at commit (metrics.py). The Python path's changes are seen as ORM objects;
# the PostgreSQL functions report theirs (migration 0007) and the service notes them here.
CHANGES_KEY = "offerdesk_enrollment_changes"


def _note_changes(session: AsyncSession, causes: Sequence[str] | None) -> None:
    session.info.setdefault(CHANGES_KEY, []).extend(cause.lower() for cause in causes or ())


@dataclass(frozen=True)
class EnrollRequest:
    """One enrollment asked for (SPEC §2.3 ``EnrollUserInput``)."""

    user_id: uuid.UUID
    offer_event_id: uuid.UUID
    status: EnrollmentStatus | None = None
    send_mail: bool | None = None


@dataclass(frozen=True)
class BulkEnrollRequest:
    """Many users into one event (SPEC §2.3 ``createOfferEventEnrollments``): the event by id
    or ref, the users by ids or refs (exactly one of each)."""

    offer_event_id: uuid.UUID | None = None
    offer_event_ref: str | None = None
    user_ids: Sequence[uuid.UUID] | None = None
    user_refs: Sequence[str] | None = None
    send_mail: bool | None = None


@dataclass(frozen=True)
class RosterFilter:
    """An event's roster (``OfferEvent.enrollments``), optionally of one status."""

    offer_event_id: uuid.UUID
    status: EnrollmentStatus | None = None


async def enroll(session: AsyncSession, request: EnrollRequest) -> Enrollment:
    """Enroll a user (SPEC §3.3); enrolling again while active returns the enrollment as it is.

    Raises BAD_USER_INPUT (``enrollment.status``), NOT_FOUND (``enrollment.user_id`` or
    ``enrollment.offer_event_id``), EVENT_INACTIVE, REGISTRATION_CLOSED, USER_INACTIVE,
    EVENT_FULL.
    """
    _check_wanted(request)
    paths = ("enrollment.user_id", "enrollment.offer_event_id")
    if not _in_one_statement(session):
        return await _enroll(session, request, *paths)
    row = (await session.execute(enroll_call(), enroll_call_values(request))).one()
    enrollment = _enrollment_of_result(row, *paths)
    _note_changes(session, row.causes)
    return enrollment


def _check_wanted(request: EnrollRequest) -> None:
    if request.status in (EnrollmentStatus.CANCELLED, EnrollmentStatus.DECLINED):
        raise bad_input(
            "enrollment.status", "status may only be ENROLLED or WAITLISTED when enrolling"
        )


# PostgreSQL's enrollment in one function call (migration 0007): one row of
# offerdesk_enrollment_result (outcome, the enrollment's columns, the causes of the status
# changes it made, and what a refusal's message needs).
def enroll_call(allowed: ColumnElement[bool] | None = None) -> Select[Any]:
    """The statement of an enrollment on PostgreSQL, parameters as ``enroll_call_values``
    names them. With ``allowed`` (a condition on rows of an enclosing statement: the caller's
    rights, graphql/direct.py), the function is called only where it holds: it takes the
    event's id from a row that exists only then, so it cannot run before the condition is
    known (a plain WHERE beside the call was seen to run the function first: the
    tests/test_direct_writes.py rights test writes nothing only this way)."""
    event: ColumnElement[Any] = bindparam("event", type_=Uuid)
    from_: Any = None
    if allowed is not None:
        # LIMIT keeps PostgreSQL from pulling the subquery up into the join, which would
        # make ``event`` a plain parameter and the condition a filter after the call.
        gate = (
            select(event.label("event")).where(allowed).limit(1).correlate_except().lateral("gate")
        )
        event, from_ = gate.c.event, gate
    call = func.offerdesk_enroll(
        event,
        bindparam("user", type_=Uuid),
        bindparam("wanted"),
        bindparam("mail"),
        bindparam("now"),
        bindparam("lock"),
    ).alias("result")
    return select(literal_column("result.*")).select_from(
        call if from_ is None else from_.join(call, true())
    )


# The outcomes of ``enroll_call`` that leave the user enrolled or waiting (the others refuse).
ENROLLED_OUTCOMES = frozenset({"OK", "EXISTING"})


def enroll_call_values(request: EnrollRequest) -> dict[str, Any]:
    """The parameters of ``enroll_call`` for ``request``: the same call for the executor's
    path (``enroll``) and the direct one (graphql/direct.py, enrollments/graphql_map.py).
    Raises BAD_USER_INPUT (``enrollment.status``) for a status one cannot enroll with."""
    _check_wanted(request)
    return {
        "event": request.offer_event_id,
        "user": request.user_id,
        "wanted": request.status,
        "mail": request.send_mail,
        "now": utcnow(),
        "lock": locking.enabled(),
    }


def enrolled_id(row: Mapping[str, Any]) -> uuid.UUID | None:
    """The enrollment's id in an ``enroll_call`` row (as a mapping) that left the user
    enrolled or waiting; None when the call refused (``enroll`` raises that refusal)."""
    return row["id"] if row["outcome"] in ENROLLED_OUTCOMES else None


async def _enroll(
    session: AsyncSession, request: EnrollRequest, user_path: str, event_path: str
) -> Enrollment:
    event, offer, user, existing = await _locked_event_offer_user_enrollment(
        session, request.offer_event_id, request.user_id, event_path
    )
    if user is None:
        raise _refusal("USER_NOT_FOUND", user_path, event_path)
    if existing is not None and existing.status in ACTIVE_STATUSES:
        return existing
    _check_open(event, offer, user, user_path, event_path)
    status, seq = await _take_place(session, event, request.status, event_path)
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


async def _locked_event(session: AsyncSession, id_: uuid.UUID, path: str) -> OfferEvent:
    """The event row, locked for this transaction: enrollment changes of one event queue here."""
    event = await locking.lock_row(session, OfferEvent, id_)
    if event is None:
        raise not_found("offer event", path)
    locked: OfferEvent = event
    return locked


async def _locked_event_offer_user_enrollment(
    session: AsyncSession, event_id: uuid.UUID, user_id: uuid.UUID, path: str
) -> tuple[OfferEvent, Offer, User | None, Enrollment | None]:
    """The event row locked, with its offer, the user and the user's enrollment in it, in one
    statement (the Python path runs on SQLite only, whose write lock is already held, so every
    row read here is current)."""
    row = await locking.lock_row(
        session,
        OfferEvent,
        event_id,
        (Offer, Offer.id == OfferEvent.offer_id, False),
        (User, User.id == user_id, True),
        (
            Enrollment,
            (Enrollment.offer_event_id == OfferEvent.id) & (Enrollment.user_id == user_id),
            True,
        ),
    )
    if row is None:
        raise _refusal("EVENT_NOT_FOUND", "", path)
    return row[0], row[1], row[2], row[3]


def _check_open(
    event: OfferEvent, offer: Offer, user: User, user_path: str, event_path: str
) -> None:
    if not event.is_active or not offer.is_active or offer.archived_at:
        raise _refusal("EVENT_INACTIVE", user_path, event_path)
    if event.closing_date is not None and event.closing_date <= utcnow():
        raise _refusal("REGISTRATION_CLOSED", user_path, event_path, event.closing_date)
    if not user.is_active:
        raise _refusal("USER_INACTIVE", user_path, event_path)


def _refusal(
    outcome: str,
    user_path: str,
    event_path: str,
    closing_date: datetime | None = None,
    max_participants: int | None = None,
    detail: str | None = None,
) -> DomainError:
    """The error for a refused enrollment change, by outcome code: the same on both paths
    (the codes are those the PostgreSQL functions of migration 0007 return)."""
    if outcome == "EVENT_NOT_FOUND":
        return not_found("offer event", event_path)
    if outcome == "USER_NOT_FOUND":
        return not_found("user", user_path)
    if outcome == "ENROLLMENT_NOT_FOUND":
        return not_found("enrollment of this user in this offer event", user_path)
    if outcome == "UNKNOWN_REFS":
        return DomainError(ErrorCode.NOT_FOUND, f"unknown user refs: {detail}", field=user_path)
    if outcome == "EVENT_INACTIVE":
        return DomainError(
            ErrorCode.EVENT_INACTIVE,
            "this offer event (or its offer) is archived or inactive and takes no enrollments",
            field=event_path,
        )
    if outcome == "REGISTRATION_CLOSED" and closing_date is not None:
        return DomainError(
            ErrorCode.REGISTRATION_CLOSED,
            f"registration closed at {closing_date.astimezone(UTC).isoformat()}",
            field=event_path,
        )
    if outcome == "USER_INACTIVE":
        return DomainError(ErrorCode.USER_INACTIVE, "archived users cannot enroll", field=user_path)
    if outcome == "EVENT_FULL":
        return DomainError(
            ErrorCode.EVENT_FULL,
            f"the offer event is full ({max_participants} places)",
            field=event_path,
        )
    raise ValueError(f"unknown enrollment outcome {outcome!r}")


def _in_one_statement(session: AsyncSession) -> bool:
    """PostgreSQL runs every enrollment change as one server-side function call (migration
    0007): the event row is locked for that one round trip. SQLite runs the Python path."""
    return session.get_bind().dialect.name == "postgresql"


def _enrollment_of_result(row: Any, user_path: str, event_path: str) -> Enrollment:
    """The enrollment a function call returned, or its refusal raised."""
    if row.outcome not in ENROLLED_OUTCOMES:
        raise _refusal(
            row.outcome, user_path, event_path, row.closing_date, row.max_participants, row.detail
        )
    return Enrollment(
        id=row.id,
        user_id=row.user_id,
        offer_event_id=row.offer_event_id,
        status=EnrollmentStatus(row.status),
        enrolled_at=row.enrolled_at.astimezone(UTC),
        created_at=row.created_at.astimezone(UTC),
        updated_at=row.updated_at.astimezone(UTC),
    )


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
            OfferEvent.spots_available.is_(None) | (OfferEvent.spots_available > 0),
            OfferEvent.waitlisted_count == 0,
            enrolled_count=1,
        )
        if seated:
            return EnrollmentStatus.ENROLLED, None
        if wanted is EnrollmentStatus.ENROLLED or not event.waiting_list:
            raise _refusal("EVENT_FULL", "", event_field, max_participants=event.max_participants)
    await _bump(session, event, waitlisted_count=1, waitlist_seq=1)
    return EnrollmentStatus.WAITLISTED, event.waitlist_seq


async def promote_waiting_list(session: AsyncSession, event: OfferEvent) -> int:
    """Fill every free spot from the waiting list, longest-waiting first (SPEC §3.4); returns
    how many were promoted.

    The caller holds the event row (locked, or SQLite's write lock) in this transaction and
    has its current counters (every change of them goes through ``_bump``). PostgreSQL runs
    the promotion as one function call (migration 0007).
    """
    if event.waitlisted_count == 0:
        return 0
    free = event.spots_available
    if free == 0:
        return 0
    if _in_one_statement(session):
        count = int(
            await session.scalar(
                text("SELECT offerdesk_promote(:event, :now)"), {"event": event.id, "now": utcnow()}
            )
            or 0
        )
        set_committed_value(event, "enrolled_count", event.enrolled_count + count)
        set_committed_value(event, "waitlisted_count", event.waitlisted_count - count)
        _note_changes(session, [ChangeCause.PROMOTION.value] * count)
        return count
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
        return 0
    for enrollment in promoted:
        enrollment.status, enrollment.waitlist_seq = EnrollmentStatus.ENROLLED, None
        _record(session, enrollment, EnrollmentStatus.WAITLISTED, ChangeCause.PROMOTION, None)
    await _bump(session, event, enrolled_count=len(promoted), waitlisted_count=-len(promoted))
    await session.flush()
    return len(promoted)


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
    nothing; an unknown event is NOT_FOUND on ``offer_event_id``, a user who never enrolled
    NOT_FOUND on ``user_id``."""
    if _in_one_statement(session):
        row = (
            await session.execute(
                text("SELECT * FROM offerdesk_unenroll(:event, :user, :now, :lock)"),
                {
                    "event": offer_event_id,
                    "user": user_id,
                    "now": utcnow(),
                    "lock": locking.enabled(),
                },
            )
        ).one()
        if row.outcome != "OK":
            raise _refusal(row.outcome, "user_id", "offer_event_id")
        _note_changes(session, row.causes)
        return True
    event = await _locked_event(session, offer_event_id, "offer_event_id")
    enrollment = await _enrollment_of(session, user_id, event.id)
    if enrollment is None:
        raise _refusal("ENROLLMENT_NOT_FOUND", "user_id", "offer_event_id")
    if enrollment.status in ACTIVE_STATUSES:
        await _leave(session, enrollment, event, EnrollmentStatus.CANCELLED, ChangeCause.UNENROLL)
    return True


async def decline(session: AsyncSession, ids: Sequence[uuid.UUID]) -> BulkResult:
    """The organiser refuses or removes enrollments (→ DECLINED); unknown ids are reported.

    Enrollments that are no longer active (already cancelled or declined) stay as they are.
    """
    wanted = bulk_ids(ids)
    if _in_one_statement(session):
        declined = await session.execute(
            text("SELECT * FROM offerdesk_decline(:ids, :now, :lock)"),
            {"ids": wanted, "now": utcnow(), "lock": locking.enabled()},
        )
        found = set()
        for row in declined:
            found.add(row.id)
            _note_changes(session, row.causes)
        return split_found(wanted, found)
    rows = (await session.scalars(select(Enrollment).where(Enrollment.id.in_(wanted)))).all()
    by_event: dict[uuid.UUID, list[Enrollment]] = defaultdict(list)
    for enrollment in rows:
        by_event[enrollment.offer_event_id].append(enrollment)
    # Events in ascending id order (locking.py, kind 3): concurrent bulk calls cannot deadlock.
    for event_id in sorted(by_event):
        event = await _locked_event(session, event_id, "ids")
        for enrollment in by_event[event_id]:
            await session.refresh(enrollment)
            if enrollment.status in ACTIVE_STATUSES:
                await _leave(
                    session, enrollment, event, EnrollmentStatus.DECLINED, ChangeCause.DECLINE
                )
    return split_found(wanted, {row.id for row in rows})


async def enroll_many(session: AsyncSession, request: BulkEnrollRequest) -> list[Enrollment]:
    """Enroll many users in one event in one transaction: all of them, or none (SPEC §2.3).

    Refs are resolved here, in the same transaction. Each user once, in the order given; an
    error names the user's first place in the input (``user_ids.<i>`` or ``user_refs.<i>``).
    Raises BAD_USER_INPUT (neither or both keys, over 1000 users, a NUL in a ref), NOT_FOUND
    (the event on ``offer_event_id``/``offer_event_ref``; unknown user refs on ``user_refs``),
    and every refusal of ``enroll``.
    """
    event_key, _ = one_key(
        offer_event_id=request.offer_event_id, offer_event_ref=request.offer_event_ref
    )
    users_key, users = one_key(user_ids=request.user_ids, user_refs=request.user_refs)
    if len(users) > MAX_BULK_IDS:
        raise bad_input(users_key, f"at most {MAX_BULK_IDS} users per call, got {len(users)}")
    if users_key == "user_refs":
        users = [lookup_key(ref, f"user_refs.{index}") for index, ref in enumerate(users)]
    if _in_one_statement(session):
        return await _enroll_many_in_one_statement(session, request, users_key, users, event_key)
    event = await find_row(
        session, OfferEvent, request.offer_event_id, request.offer_event_ref, event_key
    )
    if event is None:
        raise _refusal("EVENT_NOT_FOUND", users_key, event_key)
    user_ids = users
    if users_key == "user_refs":
        found = await ids_by_refs(session, User, users)
        unknown = [ref for ref in users if ref not in found]
        if unknown:
            raise _refusal("UNKNOWN_REFS", users_key, event_key, detail=", ".join(unknown))
        user_ids = [found[ref] for ref in users]
    first_index = _first_places(user_ids)
    return [
        await _enroll(
            session,
            EnrollRequest(user_id=user_id, offer_event_id=event.id, send_mail=request.send_mail),
            f"{users_key}.{index}",
            event_key,
        )
        for user_id, index in first_index.items()
    ]


def _first_places(keys: Sequence[Any]) -> dict[Any, int]:
    """Each key once, in input order, with the 0-based place it first had."""
    first_index: dict[Any, int] = {}
    for index, key in enumerate(keys):
        first_index.setdefault(key, index)
    return first_index


async def _enroll_many_in_one_statement(
    session: AsyncSession,
    request: BulkEnrollRequest,
    users_key: str,
    users: Sequence[Any],
    event_key: str,
) -> list[Enrollment]:
    first_index = _first_places(users)
    by_refs = users_key == "user_refs"
    rows = await session.execute(
        text(
            "SELECT * FROM offerdesk_enroll_many("
            ":event, :event_ref, :users, :refs, :positions, :mail, :now, :lock)"
        ),
        {
            "event": request.offer_event_id,
            "event_ref": (
                None
                if request.offer_event_ref is None
                else lookup_key(request.offer_event_ref, event_key)
            ),
            "users": None if by_refs else list(first_index),
            "refs": list(first_index) if by_refs else None,
            "positions": list(first_index.values()),
            "mail": request.send_mail,
            "now": utcnow(),
            "lock": locking.enabled(),
        },
    )
    enrollments = [
        _enrollment_of_result(
            row, users_key if row.position is None else f"{users_key}.{row.position}", event_key
        )
        for row in rows.all()
    ]
    for row in rows:
        _note_changes(session, row.causes)
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
    # The outbox row of this change (issue 12). PostgreSQL's functions write theirs with
    # their history row (the trigger of migration 0010); this is the SQLite path.
    outbox.record(
        session,
        event_type(previous, enrollment.status),
        [enrollment.id],
        {
            "status": enrollment.status.value,
            "previousStatus": None if previous is None else previous.value,
            "cause": cause.value,
            "userId": str(enrollment.user_id),
            "offerEventId": str(enrollment.offer_event_id),
        },
    )


def event_type(previous: EnrollmentStatus | None, status: EnrollmentStatus) -> EventType:
    """The outbox event of a status change (issue 12): withdrawing is UNENROLLED; becoming
    active from nothing, CANCELLED or DECLINED is ENROLLED; anything else (a promotion, a
    decline) is ENROLLMENT_STATUS_UPDATED. Migration 0010's trigger holds the same rule."""
    if status is EnrollmentStatus.CANCELLED:
        return EventType.OFFER_EVENT_UNENROLLED
    if previous is None or previous not in ACTIVE_STATUSES:
        return EventType.OFFER_EVENT_ENROLLED
    return EventType.OFFER_EVENT_ENROLLMENT_STATUS_UPDATED


async def _enrollment_of(
    session: AsyncSession, user_id: uuid.UUID, offer_event_id: uuid.UUID
) -> Enrollment | None:
    return await session.scalar(
        select(Enrollment).where(
            Enrollment.user_id == user_id, Enrollment.offer_event_id == offer_event_id
        )
    )


async def find(
    session: AsyncSession, user_id: uuid.UUID, offer_event_id: uuid.UUID
) -> Enrollment | None:
    """The user's enrollment in the event, whatever its status, or None."""
    return await _enrollment_of(session, user_id, offer_event_id)


def user_enrollments_order(enrollment: Any) -> list[ColumnElement[Any]]:
    """A user's enrollments, oldest first (``enrollment``: the model or an alias)."""
    return [enrollment.created_at, enrollment.id]


async def find_many(session: AsyncSession, user_id: uuid.UUID) -> list[Enrollment]:
    """Every enrollment of the user, oldest first."""
    stmt = (
        select(Enrollment)
        .where(Enrollment.user_id == user_id)
        .order_by(*user_enrollments_order(Enrollment))
    )
    return list((await session.scalars(stmt)).all())


async def page(
    session: AsyncSession, where: RosterFilter, first: int | None, after: str | None
) -> Page[Enrollment]:
    """One page of an event's roster, in creation order (SPEC §2.6)."""
    stmt = select(Enrollment).where(
        *roster_conditions(Enrollment, where.offer_event_id, where.status is not None, where.status)
    )
    return await paginate(session, stmt, Enrollment, first, after)


def roster_conditions(
    enrollment: Any, offer_event_id: Any, by_status: bool, status: Any
) -> list[ColumnElement[bool]]:
    """An event's roster (``enrollment``: the model or an alias): its enrollments, of
    ``status`` only when ``by_status``; ids and status are values or SQL (bound parameters,
    the parent row's column in compiled reads)."""
    conditions = [enrollment.offer_event_id == offer_event_id]
    if by_status:
        conditions.append(enrollment.status == status)
    return conditions


# --- batched reads for DataLoaders ---


def waitlist_position(enrollment: Any) -> ColumnElement[int | None]:
    """SQL for the 1-based place of ``enrollment`` (the model or an alias) among its event's
    WAITLISTED enrollments, by ticket (``waitlist_seq``); NULL when it is not WAITLISTED.
    The one definition of a waiting-list position, read by the DataLoader below and by
    compiled reads (graphql_map.py)."""
    ahead = aliased(Enrollment)
    count = (
        select(func.count())
        .select_from(ahead)
        .where(
            ahead.offer_event_id == enrollment.offer_event_id,
            ahead.status == EnrollmentStatus.WAITLISTED,
            ahead.waitlist_seq <= enrollment.waitlist_seq,
        )
        .correlate(enrollment)
        .scalar_subquery()
    )
    return case((enrollment.status == EnrollmentStatus.WAITLISTED, count), else_=null())


def history_order(change: Any) -> list[ColumnElement[Any]]:
    """An enrollment's status changes, oldest first (their ids are assigned in order)."""
    return [change.id]


async def waitlist_positions(
    session: AsyncSession, enrollment_ids: Sequence[uuid.UUID]
) -> list[int | None]:
    """The 1-based place of each enrollment among its event's WAITLISTED ones (None if not)."""
    mine = aliased(Enrollment)
    rows = await session.execute(
        select(mine.id, waitlist_position(mine)).where(
            mine.id.in_(enrollment_ids), mine.status == EnrollmentStatus.WAITLISTED
        )
    )
    positions: dict[uuid.UUID, int | None] = dict(rows.all())
    return [positions.get(id_) for id_ in enrollment_ids]


async def histories(
    session: AsyncSession, enrollment_ids: Sequence[uuid.UUID]
) -> list[list[EnrollmentStatusChange]]:
    stmt = (
        select(EnrollmentStatusChange)
        .where(EnrollmentStatusChange.enrollment_id.in_(enrollment_ids))
        .order_by(EnrollmentStatusChange.enrollment_id, *history_order(EnrollmentStatusChange))
    )
    changes = await session.scalars(stmt)
    return group_by_key(((change.enrollment_id, change) for change in changes), enrollment_ids)
