"""SQLite's enrollment changes: migration 0007's PostgreSQL functions, as prebuilt statements
run from Python on a DB-API cursor (SQLite has no server-side functions, nor data-modifying
CTEs). SPEC §3.1 to 3.4; docs/decisions.md, "Enrollments on SQLite: prebuilt statements".

Each function runs inside a write transaction its caller opened (``BEGIN IMMEDIATE``: SQLite's
one write lock is held, so every row read here stays current until the commit) and answers
exactly as its PostgreSQL twin does: an ``EnrollmentResult`` with an outcome code that
enrollments/service.py turns into the API's errors. A refusal writes nothing (the checks come
before the first write), so the caller may commit or roll back.

The same functions serve both callers (one rule, one place):

* the service (the executor's path), on SQLAlchemy's DB-API adapter of the session's
  connection, inside the request's transaction (``service._sqlite``);
* graphql/direct.py, on the process's own writer connection, in one hop to its thread with the
  BEGIN, the data version and the COMMIT around it (``Database.sqlite_write``).

Values are stored as SQLAlchemy stores them on SQLite (``Uuid``: 32 hex digits; ``UTCDateTime``:
naive UTC text with microseconds; ``Boolean``: 0/1; enums: their names); the tests read what
these statements wrote through the ORM.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from offerdesk.enrollments.models import ACTIVE_STATUSES, ChangeCause, EnrollmentStatus


class Cursor(Protocol):
    """The part of a DB-API 2 cursor these functions use (sqlite3's, or SQLAlchemy's adapter
    of aiosqlite's), with named (``:name``) parameters."""

    rowcount: int

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


@dataclass
class EnrollmentResult:
    """What an enrollment change did: the fields of PostgreSQL's ``offerdesk_enrollment_result``
    (migration 0007). ``outcome``: OK, EXISTING (an active enrollment returned unchanged) or a
    refusal's code; ``position``: the 0-based input place of the user it concerns (bulk);
    ``closing_date``/``max_participants``/``detail``: for the refusals' messages; ``causes``:
    the causes of the status changes written (for metrics)."""

    outcome: str
    position: int | None = None
    id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    offer_event_id: uuid.UUID | None = None
    status: str | None = None
    enrolled_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    closing_date: datetime | None = None
    max_participants: int | None = None
    detail: str | None = None
    causes: list[str] = field(default_factory=list)


def _key(value: uuid.UUID) -> str:
    return value.hex


def _stamp(value: datetime) -> str:
    # SQLAlchemy's SQLite DATETIME storage format; text order is time order.
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


_HISTORY = (
    "INSERT INTO enrollment_status_changes (enrollment_id, from_status, to_status, cause,"
    " send_mail, at) VALUES (:enrollment, :previous, :status, :cause, :mail, :now)"
)


def _record(
    cursor: Cursor,
    enrollment: uuid.UUID,
    previous: str | None,
    status: str,
    cause: ChangeCause,
    send_mail: bool | None,
    now: str,
) -> None:
    """A status change's history row; the trigger of migration 0010 writes its outbox event
    (as 0009's does on PostgreSQL)."""
    cursor.execute(
        _HISTORY,
        {
            "enrollment": _key(enrollment),
            "previous": previous,
            "status": status,
            "cause": cause.value,
            "mail": send_mail,
            "now": now,
        },
    )


def _free(max_participants: int | None, enrolled: int) -> int | None:
    # The same expression as OfferEvent.spots_available: None when unlimited, never < 0.
    return None if max_participants is None else max(max_participants - enrolled, 0)


def promote(cursor: Cursor, event: uuid.UUID, now: datetime) -> int:
    """Fill every free spot of ``event`` from its waiting list, longest-waiting first
    (SPEC §3.4; ``offerdesk_promote``); returns how many were promoted."""
    cursor.execute(
        "SELECT max_participants, enrolled_count, waitlisted_count FROM offer_events"
        " WHERE id = :event",
        {"event": _key(event)},
    )
    max_participants, enrolled, waiting = cursor.fetchone()
    return _promote(cursor, event, _free(max_participants, enrolled), waiting, _stamp(now))


def _promote(cursor: Cursor, event: uuid.UUID, free: int | None, waiting: int, now: str) -> int:
    if waiting == 0 or free == 0:
        return 0
    chosen = (
        "SELECT id, waitlist_seq FROM enrollments WHERE offer_event_id = :event"
        " AND status = 'WAITLISTED' ORDER BY waitlist_seq LIMIT :free"
    )
    parameters = {"event": _key(event), "now": now, "free": -1 if free is None else free}
    # The history first, in the queue's order (longest-waiting first: the rows' ids, and
    # their outbox events, follow it), then the enrollments it names.
    cursor.execute(
        "INSERT INTO enrollment_status_changes (enrollment_id, from_status, to_status, cause,"
        " send_mail, at) SELECT id, 'WAITLISTED', 'ENROLLED', 'PROMOTION', NULL, :now"
        f" FROM ({chosen}) ORDER BY waitlist_seq",
        parameters,
    )
    promoted: int = cursor.rowcount
    cursor.execute(
        "UPDATE enrollments SET status = 'ENROLLED', waitlist_seq = NULL, updated_at = :now"
        f" WHERE id IN (SELECT id FROM ({chosen}))",
        parameters,
    )
    cursor.execute(
        "UPDATE offer_events SET enrolled_count = enrolled_count + :n,"
        " waitlisted_count = waitlisted_count - :n WHERE id = :event",
        {"n": promoted, "event": _key(event)},
    )
    return promoted


# The event (with its offer's state, the user and the user's enrollment in it) read in one
# statement: SQLite's write lock is held, so nothing here can change before the commit.
_EVENT = (
    "SELECT e.id, e.is_active, e.closing_date, e.max_participants, e.waiting_list,"
    " e.enrolled_count, e.waitlisted_count, o.is_active, o.archived_at,"
    " u.id, u.is_active, n.id, n.status, n.enrolled_at, n.created_at, n.updated_at"
    " FROM offer_events e JOIN offers o ON o.id = e.offer_id"
    " LEFT JOIN users u ON u.id = :user"
    " LEFT JOIN enrollments n ON n.offer_event_id = e.id AND n.user_id = :user"
    " WHERE e.id = :event"
)


def enroll(
    cursor: Cursor,
    event: uuid.UUID,
    user: uuid.UUID,
    wanted: str | None,
    send_mail: bool | None,
    now: datetime,
) -> EnrollmentResult:
    """Enroll ``user`` in ``event`` (SPEC §3.2, §3.3; ``offerdesk_enroll``): a seat if one is
    free and nobody waits, else a waiting-list ticket (unless ``wanted`` is ENROLLED or the
    event has no waiting list: EVENT_FULL); an active enrollment comes back unchanged
    (EXISTING). Refusals: EVENT_NOT_FOUND, USER_NOT_FOUND, EVENT_INACTIVE,
    REGISTRATION_CLOSED, USER_INACTIVE, EVENT_FULL."""
    cursor.execute(_EVENT, {"event": _key(event), "user": _key(user)})
    row = cursor.fetchone()
    if row is None:
        return EnrollmentResult("EVENT_NOT_FOUND")
    (
        _,
        event_active,
        closing,
        max_participants,
        waiting_list,
        enrolled,
        waiting,
        offer_active,
        offer_archived,
        user_id,
        user_active,
        existing,
        existing_status,
        *existing_times,
    ) = row
    closing_date = _time(closing)
    result = EnrollmentResult(
        "", offer_event_id=event, closing_date=closing_date, max_participants=max_participants
    )
    if user_id is None:
        result.outcome = "USER_NOT_FOUND"
        return result
    if existing is not None and existing_status in ACTIVE_STATUSES:
        result.outcome, result.id, result.user_id = "EXISTING", uuid.UUID(existing), user
        result.status = existing_status
        result.enrolled_at, result.created_at, result.updated_at = map(_time, existing_times)
        return result
    if not event_active or not offer_active or offer_archived is not None:
        result.outcome = "EVENT_INACTIVE"
        return result
    if closing_date is not None and closing_date <= now:
        result.outcome = "REGISTRATION_CLOSED"
        return result
    if not user_active:
        result.outcome = "USER_INACTIVE"
        return result
    stamp = _stamp(now)
    status, seq = None, None
    if wanted != EnrollmentStatus.WAITLISTED:
        cursor.execute(
            "UPDATE offer_events SET enrolled_count = enrolled_count + 1 WHERE id = :event"
            " AND (max_participants IS NULL OR enrolled_count < max_participants)"
            " AND waitlisted_count = 0 RETURNING enrolled_count",
            {"event": _key(event)},
        )
        seated = cursor.fetchone()
        if seated is not None:
            status, enrolled = EnrollmentStatus.ENROLLED, seated[0]
        elif wanted == EnrollmentStatus.ENROLLED or not waiting_list:
            result.outcome = "EVENT_FULL"
            return result
    if status is None:
        cursor.execute(
            "UPDATE offer_events SET waitlisted_count = waitlisted_count + 1,"
            " waitlist_seq = waitlist_seq + 1 WHERE id = :event"
            " RETURNING waitlisted_count, waitlist_seq",
            {"event": _key(event)},
        )
        waiting, seq = cursor.fetchone()
        status = EnrollmentStatus.WAITLISTED
    cause = ChangeCause.ENROLL if status is EnrollmentStatus.ENROLLED else ChangeCause.WAITLIST
    if existing is None:
        id_ = uuid.uuid4()
        cursor.execute(
            "INSERT INTO enrollments (id, user_id, offer_event_id, status, enrolled_at,"
            " waitlist_seq, created_at, updated_at)"
            " VALUES (:id, :user, :event, :status, :now, :seq, :now, :now)",
            {
                "id": id_.hex,
                "user": _key(user),
                "event": _key(event),
                "status": status.value,
                "now": stamp,
                "seq": seq,
            },
        )
        created_at: datetime | None = now
    else:
        id_ = uuid.UUID(existing)
        cursor.execute(
            "UPDATE enrollments SET status = :status, waitlist_seq = :seq, enrolled_at = :now,"
            " updated_at = :now WHERE id = :id RETURNING created_at",
            {"id": existing, "status": status.value, "seq": seq, "now": stamp},
        )
        created_at = _time(cursor.fetchone()[0])
    _record(cursor, id_, existing_status, status, cause, send_mail, stamp)
    result.causes = [cause.value]
    # An explicit WAITLISTED request while a spot is free must not leave both at once.
    promoted = _promote(cursor, event, _free(max_participants, enrolled), waiting, stamp)
    result.causes += [ChangeCause.PROMOTION.value] * promoted
    if promoted:
        cursor.execute("SELECT status FROM enrollments WHERE id = :id", {"id": id_.hex})
        status = EnrollmentStatus(cursor.fetchone()[0])
    result.outcome, result.id, result.user_id, result.status = "OK", id_, user, status.value
    result.enrolled_at, result.created_at, result.updated_at = now, created_at, now
    return result


def enroll_many(
    cursor: Cursor,
    event: uuid.UUID | None,
    event_ref: str | None,
    users: Sequence[uuid.UUID] | None,
    refs: Sequence[str] | None,
    positions: Sequence[int],
    send_mail: bool | None,
    now: datetime,
) -> list[EnrollmentResult]:
    """Enroll each of ``users`` (or the users of ``refs``: deduplicated by the caller, each
    with its input ``positions``) in the event of id ``event`` or ref ``event_ref``
    (``offerdesk_enroll_many``). Stops at the first refusal and returns it alone (with
    EVENT_NOT_FOUND, UNKNOWN_REFS and its ``detail``): the caller's transaction, rolled back
    on it, keeps none of the writes (all or none, SPEC §2.3)."""
    if event is None:
        cursor.execute("SELECT id FROM offer_events WHERE ref = :ref", {"ref": event_ref})
    else:
        cursor.execute("SELECT id FROM offer_events WHERE id = :id", {"id": _key(event)})
    found = cursor.fetchone()
    if found is None:
        return [EnrollmentResult("EVENT_NOT_FOUND")]
    event = uuid.UUID(found[0])
    user_ids = list(users or ())
    if refs is not None:
        ids = {
            ref: uuid.UUID(id_)
            for ref, id_ in _rows_in(cursor, "SELECT ref, id FROM users WHERE ref", refs)
        }
        unknown = [ref for ref in refs if ref not in ids]
        if unknown:
            return [EnrollmentResult("UNKNOWN_REFS", detail=", ".join(unknown))]
        user_ids = [ids[ref] for ref in refs]
    results = []
    for user, position in zip(user_ids, positions, strict=True):
        result = enroll(cursor, event, user, None, send_mail, now)
        result.position = position
        if result.outcome not in ("OK", "EXISTING"):
            return [result]
        results.append(result)
    return results


def _rows_in(cursor: Cursor, select: str, values: Sequence[str]) -> list[Any]:
    """The rows of ``select`` (ending in the column to match: ``"… WHERE ref"``) whose column
    is one of ``values``, asked in slices: SQLite binds at most 32,766 parameters at once."""
    rows = []
    for start in range(0, len(values), 500):
        chunk = values[start : start + 500]
        marks = ", ".join(f":v{index}" for index in range(len(chunk)))
        cursor.execute(f"{select} IN ({marks})", {f"v{i}": v for i, v in enumerate(chunk)})
        rows.extend(cursor.fetchall())
    return rows


def _leave(
    cursor: Cursor,
    enrollment: tuple[str, str, str],
    status: EnrollmentStatus,
    cause: ChangeCause,
    now: str,
) -> list[str]:
    """End the active ``enrollment`` (id, event, status) as ``status``; its place goes to the
    waiting list (``offerdesk_leave``). Returns the causes written."""
    id_, event, previous = enrollment
    counter = "enrolled_count" if previous == EnrollmentStatus.ENROLLED else "waitlisted_count"
    cursor.execute(
        f"UPDATE offer_events SET {counter} = {counter} - 1 WHERE id = :event"
        " RETURNING max_participants, enrolled_count, waitlisted_count",
        {"event": event},
    )
    max_participants, enrolled, waiting = cursor.fetchone()
    cursor.execute(
        "UPDATE enrollments SET status = :status, waitlist_seq = NULL, updated_at = :now"
        " WHERE id = :id",
        {"status": status.value, "now": now, "id": id_},
    )
    event_id = uuid.UUID(event)
    _record(cursor, uuid.UUID(id_), previous, status, cause, None, now)
    promoted = _promote(cursor, event_id, _free(max_participants, enrolled), waiting, now)
    return [cause.value] + [ChangeCause.PROMOTION.value] * promoted


_ENROLLMENT = "SELECT id, offer_event_id, status FROM enrollments"


def unenroll(cursor: Cursor, event: uuid.UUID, user: uuid.UUID, now: datetime) -> EnrollmentResult:
    """The participant withdraws (→ CANCELLED; ``offerdesk_unenroll``): OK (withdrawing again
    changes nothing), EVENT_NOT_FOUND or ENROLLMENT_NOT_FOUND."""
    cursor.execute("SELECT 1 FROM offer_events WHERE id = :event", {"event": _key(event)})
    if cursor.fetchone() is None:
        return EnrollmentResult("EVENT_NOT_FOUND")
    cursor.execute(
        f"{_ENROLLMENT} WHERE user_id = :user AND offer_event_id = :event",
        {"user": _key(user), "event": _key(event)},
    )
    enrollment = cursor.fetchone()
    if enrollment is None:
        return EnrollmentResult("ENROLLMENT_NOT_FOUND")
    causes = []
    if enrollment[2] in ACTIVE_STATUSES:
        causes = _leave(
            cursor,
            enrollment,
            EnrollmentStatus.CANCELLED,
            ChangeCause.UNENROLL,
            _stamp(now),
        )
    return EnrollmentResult("OK", causes=causes)


def decline(cursor: Cursor, ids: Sequence[uuid.UUID], now: datetime) -> list[EnrollmentResult]:
    """The organiser declines the enrollments of ``ids`` (→ DECLINED; ``offerdesk_decline``):
    one OK result for each id that exists, in the order given within each event, events in
    ascending id order; enrollments no longer active stay as they are."""
    order = {_key(id_): index for index, id_ in enumerate(ids)}
    found = _rows_in(cursor, "SELECT id, offer_event_id FROM enrollments WHERE id", list(order))
    stamp = _stamp(now)
    results = []
    # By event in ascending id order, as PostgreSQL locks them (SQLite holds its one lock).
    for id_, _ in sorted(found, key=lambda row: (uuid.UUID(row[1]), order[row[0]])):
        # Read now, not when the loop began: declining one may have promoted the next.
        cursor.execute(f"{_ENROLLMENT} WHERE id = :id", {"id": id_})
        enrollment = cursor.fetchone()
        causes = []
        if enrollment[2] in ACTIVE_STATUSES:
            causes = _leave(
                cursor, enrollment, EnrollmentStatus.DECLINED, ChangeCause.DECLINE, stamp
            )
        results.append(EnrollmentResult("OK", id=uuid.UUID(id_), causes=causes))
    return results
