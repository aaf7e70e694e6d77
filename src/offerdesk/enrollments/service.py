"""Enrollments (SPEC §2.3, §3.1 to 3.4, 3.6): the domain's whole API — capacity, the waiting
list, every status change, and the reads of enrollments. Knows nothing of GraphQL; names bad
input by domain paths (``enrollment.user_id``, ``user_refs.3``).

How capacity holds under any concurrency (DESIGN.md): every change first locks the event row
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises
writers), takes a seat with one conditional ``UPDATE`` of the event's counters, and the
database's CHECK constraint refuses an overbooked row whatever the code does. Promotions from
the waiting list run in the same transaction as the change that freed the spot, so a free spot
and a non-empty waiting list never exist together.

The rules themselves are PostgreSQL's functions (migration 0007: the event is locked for one
round trip) and, on SQLite, their twin as prebuilt statements (sqlite_functions.py); this
module calls one or the other and turns their outcome codes into the API's errors.
"""

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

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
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from offerdesk import locking
from offerdesk.bulk import MAX_BULK_IDS, BulkResult, bulk_ids, split_found
from offerdesk.db import group_by_key, utcnow
from offerdesk.enrollments import sqlite_functions
from offerdesk.enrollments.models import (
    ChangeCause,
    Enrollment,
    EnrollmentStatus,
    EnrollmentStatusChange,
)
from offerdesk.errors import DomainError, ErrorCode, bad_input, not_found

# The promotion a capacity change causes runs on the events service's locked row
# (tests/test_architecture.py lists the exception).
from offerdesk.events.models import OfferEvent
from offerdesk.pagination import Page, paginate
from offerdesk.validation import lookup_key, one_key

# session.info key: the causes of the status changes a session wrote, lower-case, for observers
# that count them at commit (metrics.py). The functions report theirs (migration 0007,
# sqlite_functions.py) and the service notes them here.
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
    values = enroll_call_values(request)
    if _on_sqlite(session):
        row: Any = await _run_on_sqlite(session, enroll_on_sqlite, values)
    else:
        row = (await session.execute(enroll_call(), values)).one()
    enrollment = _enrollment_of_result(row, "enrollment.user_id", "enrollment.offer_event_id")
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


def enroll_on_sqlite(
    cursor: sqlite_functions.Cursor, values: Mapping[str, Any]
) -> sqlite_functions.EnrollmentResult:
    """``enroll_call`` on SQLite, with the same ``values``: the statements of
    enrollments/sqlite_functions.py, on ``cursor`` inside a write transaction (the executor's
    path and graphql/direct.py's)."""
    return sqlite_functions.enroll(
        cursor, values["event"], values["user"], values["wanted"], values["mail"], values["now"]
    )


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


def _on_sqlite(session: AsyncSession) -> bool:
    """PostgreSQL runs every enrollment change as one server-side function call (migration
    0007): the event row is locked for that one round trip. SQLite runs the same rules as
    prebuilt statements (sqlite_functions.py) on the session's connection."""
    return session.get_bind().dialect.name == "sqlite"


R = TypeVar("R")


async def _run_on_sqlite(
    session: AsyncSession,
    function: Callable[..., R],
    *arguments: Any,
) -> R:
    """``function(cursor, *arguments)`` of sqlite_functions.py on a cursor of the session's
    connection, inside its write transaction (``BEGIN IMMEDIATE``: the write lock is held)."""

    def run(sync_session: Session) -> R:
        cursor = sync_session.connection().connection.cursor()
        try:
            return function(cursor, *arguments)
        finally:
            cursor.close()

    return await session.run_sync(run)


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


async def promote_waiting_list(session: AsyncSession, event: OfferEvent) -> int:
    """Fill every free spot from the waiting list, longest-waiting first (SPEC §3.4); returns
    how many were promoted.

    The caller holds the event row (locked, or SQLite's write lock) in this transaction, with
    its current counters, and has flushed its own changes to it. One function call on
    PostgreSQL (``offerdesk_promote``, migration 0007), its statements on SQLite.
    """
    if event.waitlisted_count == 0 or event.spots_available == 0:
        return 0
    now = utcnow()
    if _on_sqlite(session):
        count = await _run_on_sqlite(session, sqlite_functions.promote, event.id, now)
    else:
        count = int(
            await session.scalar(
                text("SELECT offerdesk_promote(:event, :now)"), {"event": event.id, "now": now}
            )
            or 0
        )
    set_committed_value(event, "enrolled_count", event.enrolled_count + count)
    set_committed_value(event, "waitlisted_count", event.waitlisted_count - count)
    _note_changes(session, [ChangeCause.PROMOTION.value] * count)
    return count


async def unenroll(session: AsyncSession, user_id: uuid.UUID, offer_event_id: uuid.UUID) -> bool:
    """The participant withdraws (→ CANCELLED). Withdrawing again is a success that changes
    nothing; an unknown event is NOT_FOUND on ``offer_event_id``, a user who never enrolled
    NOT_FOUND on ``user_id``."""
    now = utcnow()
    if _on_sqlite(session):
        row: Any = await _run_on_sqlite(
            session, sqlite_functions.unenroll, offer_event_id, user_id, now
        )
    else:
        row = (
            await session.execute(
                text("SELECT * FROM offerdesk_unenroll(:event, :user, :now, :lock)"),
                {"event": offer_event_id, "user": user_id, "now": now, "lock": locking.enabled()},
            )
        ).one()
    if row.outcome != "OK":
        raise _refusal(row.outcome, "user_id", "offer_event_id")
    _note_changes(session, row.causes)
    return True


async def decline(session: AsyncSession, ids: Sequence[uuid.UUID]) -> BulkResult:
    """The organiser refuses or removes enrollments (→ DECLINED); unknown ids are reported.

    Enrollments that are no longer active (already cancelled or declined) stay as they are.
    """
    wanted = bulk_ids(ids)
    now = utcnow()
    if _on_sqlite(session):
        rows: Any = await _run_on_sqlite(session, sqlite_functions.decline, wanted, now)
    else:
        rows = await session.execute(
            text("SELECT * FROM offerdesk_decline(:ids, :now, :lock)"),
            {"ids": wanted, "now": now, "lock": locking.enabled()},
        )
    found = set()
    for row in rows:
        found.add(row.id)
        _note_changes(session, row.causes)
    return split_found(wanted, found)


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
    first_index = _first_places(users)
    by_refs = users_key == "user_refs"
    values = {
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
    }
    if _on_sqlite(session):
        rows: Any = await _run_on_sqlite(
            session,
            sqlite_functions.enroll_many,
            values["event"],
            values["event_ref"],
            values["users"],
            values["refs"],
            values["positions"],
            values["mail"],
            values["now"],
        )
    else:
        rows = (
            await session.execute(
                text(
                    "SELECT * FROM offerdesk_enroll_many("
                    ":event, :event_ref, :users, :refs, :positions, :mail, :now, :lock)"
                ),
                {**values, "lock": locking.enabled()},
            )
        ).all()
    enrollments = [
        _enrollment_of_result(
            row, users_key if row.position is None else f"{users_key}.{row.position}", event_key
        )
        for row in rows
    ]
    for row in rows:
        _note_changes(session, row.causes)
    return enrollments


def _first_places(keys: Sequence[Any]) -> dict[Any, int]:
    """Each key once, in input order, with the 0-based place it first had."""
    first_index: dict[Any, int] = {}
    for index, key in enumerate(keys):
        first_index.setdefault(key, index)
    return first_index


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
