"""The outbox's whole API: write event rows in a change's transaction, read them in an order
that never skips one (the change feed, the webhook dispatcher), prune old ones.

Why the order is safe (issue 12, docs/decisions.md "The change feed's order"):

* SQLite has one writer at a time, so ``seq`` (an AUTOINCREMENT key) is commit order.
* PostgreSQL transactions can commit in any order, so a sequence assigned before commit is
  not enough: a long transaction can commit rows with a smaller ``seq`` after a reader moved
  past it. Each row therefore carries its transaction's id (``tx``, pg_current_xact_id());
  rows are read in ``(tx, seq)`` order and only those whose transaction is older than the
  oldest one still running (``pg_snapshot_xmin(pg_current_snapshot())``) are handed out.
  Every transaction below that horizon has ended, so no row can later appear before a cursor
  already given out. The price: a long-running transaction holds the feed back until it ends.
"""

import base64
import binascii
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, literal, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.db import utcnow
from offerdesk.errors import DomainError, ErrorCode, bad_input
from offerdesk.outbox.models import USER_EVENT_TYPES, EventType, OutboxEvent
from offerdesk.pagination import page_size

# The last position every transaction below which has ended, on PostgreSQL; as text first,
# since xid8 has no cast to bigint.
_HORIZON = text("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")


def record(
    session: AsyncSession,
    type_: EventType,
    object_ids: Sequence[uuid.UUID],
    data: Mapping[str, Any] | None = None,
) -> None:
    """Write one event of ``type_`` per object in ``object_ids``, in the session's transaction
    (flushed with it: a rolled-back change writes none). Each row's data is ``{"id": <object
    id>}`` plus ``data`` (JSON-ready values)."""
    now = utcnow()
    session.add_all(
        OutboxEvent(
            id=uuid.uuid4(),
            type=type_.value,
            object_id=object_id,
            data={"id": str(object_id), **(data or {})},
            occurred_at=now,
        )
        for object_id in object_ids
    )


@dataclass(frozen=True)
class Position:
    """A place in the outbox: after the row ``(tx, seq)``. ``Position()`` is the beginning."""

    tx: int = -1
    seq: int = -1

    def encode(self) -> str:
        """The cursor the API hands out: unpadded URL-safe base64 of ``"tx:seq"``."""
        return base64.urlsafe_b64encode(f"{self.tx}:{self.seq}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str, field: str = "after") -> "Position":
        """The position a cursor stands for; BAD_USER_INPUT on ``field`` if it is not one."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            tx, seq = raw.split(":")
            return cls(int(tx), int(seq))
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise bad_input(field, f"{field} is not a cursor this API gave out") from exc

    @classmethod
    def of(cls, event: OutboxEvent) -> "Position":
        return cls(event.tx, event.seq)


def _handed_out_after(session: AsyncSession, stmt: Any, position: Position) -> Any:
    """``stmt`` limited to the events after ``position`` that no transaction can still
    precede (module docstring)."""
    stmt = stmt.where(
        tuple_(OutboxEvent.tx, OutboxEvent.seq)
        > tuple_(literal(position.tx), literal(position.seq))
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.where(OutboxEvent.tx < _HORIZON)
    return stmt


async def after(
    session: AsyncSession,
    position: Position,
    limit: int,
    types: Collection[str] | None = None,
) -> list[OutboxEvent]:
    """Up to ``limit`` events after ``position`` that no transaction can still precede, in
    feed order; only those of ``types`` when given. A reader that goes on from the position
    of the last row it got never misses a row (module docstring)."""
    stmt = _handed_out_after(session, select(OutboxEvent), position)
    if types is not None:
        stmt = stmt.where(OutboxEvent.type.in_(list(types)))
    stmt = stmt.order_by(OutboxEvent.tx, OutboxEvent.seq).limit(limit)
    return list((await session.scalars(stmt)).all())


async def last_after(session: AsyncSession, position: Position) -> Position | None:
    """The position of the last event ``after`` would hand out from ``position`` (with no
    limit), or None when there is none."""
    stmt = _handed_out_after(session, select(OutboxEvent.tx, OutboxEvent.seq), position)
    row = (
        await session.execute(stmt.order_by(OutboxEvent.tx.desc(), OutboxEvent.seq.desc()).limit(1))
    ).first()
    return None if row is None else Position(row.tx, row.seq)


@dataclass(frozen=True)
class FeedPage:
    """One page of the change feed: the events with their cursors, and whether more are
    ready now."""

    items: list[tuple[OutboxEvent, str]]
    has_next_page: bool

    @property
    def end_cursor(self) -> str | None:
        return self.items[-1][1] if self.items else None


async def feed(
    session: AsyncSession,
    after_cursor: str | None,
    first: int | None,
    types: Collection[EventType] | None = None,
    *,
    user_events: bool = True,
) -> FeedPage:
    """One page of the change feed (issue 12 item 5): ``first`` 1 to 100 (default 50),
    ``after_cursor`` a cursor this feed gave out (BAD_USER_INPUT on ``after`` or ``first``),
    only events of ``types`` when given (an empty list is BAD_USER_INPUT on ``types``).

    ``user_events`` False (a caller who may not read users): USER_* events are left out, and
    asking for them by ``types`` is FORBIDDEN on ``types``. An empty page has no end cursor:
    the reader polls again with the one it has.
    """
    size = page_size(first)
    if types is not None and not types:
        raise bad_input("types", "types must name at least one event type; leave it out for all")
    if not user_events:
        if types is not None and USER_EVENT_TYPES & set(types):
            raise DomainError(
                ErrorCode.FORBIDDEN, "user events need the scope users.read", field="types"
            )
        types = types if types is not None else set(EventType) - USER_EVENT_TYPES
    position = Position() if after_cursor is None else Position.decode(after_cursor)
    rows = await after(session, position, size + 1, types)
    items = [(row, Position.of(row).encode()) for row in rows[:size]]
    return FeedPage(items=items, has_next_page=len(rows) > size)


async def prune(session: AsyncSession, retention: timedelta) -> int:
    """Delete the events older than ``retention`` (issue 12: 30 days by default); returns how
    many."""
    cutoff: datetime = utcnow() - retention
    result = await session.execute(delete(OutboxEvent).where(OutboxEvent.occurred_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
