"""Every lock Offerdesk takes, and the order it takes them in: the one place locks are taken.

What is locked, in which order, on each engine (docs/architecture.md, "Locks"):

1. **SQLite, the writer queue** (``WriterQueue``): a write transaction of this process first
   waits its turn on an asyncio lock, then starts with ``BEGIN IMMEDIATE``, which takes the
   database's one write lock before anything is read (the sessions' transactions, and
   ``Database.sqlite_writer``'s on its own connection). Writers of other processes are kept
   in order by ``BEGIN IMMEDIATE`` alone. SQLite needs no other lock: write transactions never
   overlap, so every check a transaction makes still holds when it commits.
2. **PostgreSQL, unique values** (``lock_value``): before a transaction checks that a ref or an
   e-mail address is free and stores it, it takes a transaction-scoped advisory lock on that
   value, so the second of two concurrent writers checks after the first committed and answers
   ``CONFLICT`` instead of failing on the unique index.
3. **PostgreSQL, offer event rows** (``lock_row``): every change of an event's capacity
   counters (an enrollment change, a capacity change) locks the event row first with
   ``SELECT … FOR UPDATE``; several events are locked in ascending id order so that two bulk
   calls cannot deadlock. Locking the event also serialises two requests for the same
   (user, event), which makes enrolling idempotent without retries.

4. **PostgreSQL, offer rows** (``lock_row`` through ``offers.service.lock``): before an event
   is put on an offer, so that counting the offer's events and adding one cannot race
   (list_limits.py); taken after the event's own row lock in an update.

5. **Webhook dispatch** (``claim_rows``, webhooks/service.py): the fan-out position row
   and due deliveries are claimed with ``FOR UPDATE SKIP LOCKED``, so any number of
   dispatchers share the work without waiting on each other or taking the same row; in
   transactions of their own that take no other lock.

Locks of kind 2 are taken before those of kind 3 and 4 in any one transaction.

On PostgreSQL every enrollment change takes lock 3 inside a server-side function (migration
0007), so that the event is locked for one round trip; the functions take the switch below
as an argument (``enabled()``), so the control run turns their lock off too.

The CHECK and UNIQUE constraints stay as the last line whatever happens here.

``OFFERDESK_UNSAFE_DISABLE_LOCKS=1`` switches every lock above off (``set_enabled``), for the
concurrency tests' control runs only: with it the storms must see the races these locks
prevent. It is refused in the production profile (config.py).
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

_enabled = True

T = TypeVar("T")


def set_enabled(enabled: bool) -> None:
    """Switch every lock of this module on or off for this process (off: control tests only)."""
    global _enabled
    _enabled = enabled


def enabled() -> bool:
    return _enabled


def begin_statement(write: bool) -> str:
    """The statement that starts a SQLite transaction: a write takes the write lock at once."""
    return "BEGIN IMMEDIATE" if write and _enabled else "BEGIN"


class WriterQueue:
    """This process's SQLite writers, one at a time, first come first served.

    Left to SQLite's busy handler they would sleep and poll (up to 100 ms a turn; a burst of
    200 enrollments stalled on it), so they queue here, which is fair and immediate.
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        if not _enabled:
            yield
            return
        async with self._lock:
            yield


def _is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def lock_value(session: AsyncSession, scope: str, value: str) -> None:
    """Make concurrent transactions that check the same unique value take turns (kind 2).

    ``scope`` names the value's column (``"users.email"``); the advisory lock lasts until the
    transaction ends. Nothing to do on SQLite, whose write transactions never overlap.
    """
    if _enabled and _is_postgresql(session):
        key = func.hashtextextended(f"{scope}:{value}", 0)
        await session.execute(select(func.pg_advisory_xact_lock(key)))


async def lock_row(session: AsyncSession, model: type[T], id_: uuid.UUID) -> T | None:
    """The row of ``model`` with id ``id_``, locked until the transaction ends (kind 3), or
    None when there is no such row. SQLite ignores ``FOR UPDATE``; its writer lock (kind 1)
    already covers the row."""
    stmt = select(model).where(model.id == id_)  # type: ignore[attr-defined]
    if _enabled:
        stmt = stmt.with_for_update(of=model)
    row: T | None = await session.scalar(stmt)
    return row


async def claim_rows(session: AsyncSession, stmt: Select[Any]) -> list[Any]:
    """The rows ``stmt`` selects that no other transaction holds, locked until this one ends
    (kind 5: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL). SQLite's writer lock (kind 1) already
    makes the calling transaction the only one."""
    if _enabled and _is_postgresql(session):
        stmt = stmt.with_for_update(skip_locked=True)
    return list((await session.scalars(stmt)).all())
