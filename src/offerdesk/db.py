"""Engine, sessions, transactions and the column types both databases share.

SQLite and PostgreSQL must behave the same. Two SQLite traits need care (DESIGN.md): the
default driver mode starts transactions lazily, so a write transaction that reads first can
fail at once under contention; and ``SELECT … FOR UPDATE`` does nothing. We therefore take
transaction control from the driver and start write transactions with ``BEGIN IMMEDIATE``,
which takes SQLite's single write lock up front (waiting up to the busy timeout), so writers
queue instead of failing.
"""

import asyncio
import base64
import contextlib
import sqlite3
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    DateTime,
    MetaData,
    Text,
    Uuid,
    cast,
    event,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import greenlet_spawn

from offerdesk import locking
from offerdesk.config import Settings

# Stable constraint names, so migrations and error messages can refer to them on both engines.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

R = TypeVar("R")

_WRITE_OPTION = "offerdesk_write"
_BUDGET_KEY = "offerdesk_budget"
# Once a request is past its budget, its SQLite connections are interrupted again this often
# (seconds) until it ends: an interrupt only stops the statement running at that moment, and
# the request's next queued statement (a sibling field's, the executor's after a compiled read
# failed) would otherwise run unbounded.
INTERRUPT_REPEAT_SECONDS = 0.01


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the engine stores.

    PostgreSQL keeps ``timestamptz``; SQLite has no zone, so we store naive UTC there.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Entity:
    """Columns every stored entity has."""

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


def _lower(value: str | None) -> str | None:
    return value.lower() if value is not None else None


def _base64url(value: str | None) -> str | None:
    # Unpadded URL-safe base64 of UTF-8 text, as pagination.encode_cursor writes cursors:
    # SQLite has no base64 of its own, and compiled reads write cursors in SQL.
    if value is None:
        return None
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


class _Budget:
    """The SQLite connections a request holds, and the timer that interrupts their statements
    (``sqlite3_interrupt``) from the request's deadline until the request ends."""

    def __init__(self, seconds: float) -> None:
        self.connections: set[ConnectionPoolEntry] = set()
        self._loop = asyncio.get_running_loop()
        self._handle = self._loop.call_later(seconds, self._interrupt)
        self._interrupts: set[asyncio.Task[None]] = set()

    def _interrupt(self) -> None:
        for record in self.connections:
            driver = record.driver_connection
            if driver is not None:
                task = self._loop.create_task(_interrupt(driver))
                self._interrupts.add(task)
                task.add_done_callback(self._interrupts.discard)
        self._handle = self._loop.call_later(INTERRUPT_REPEAT_SECONDS, self._interrupt)

    def stop(self) -> None:
        self._handle.cancel()


async def _interrupt(driver: Any) -> None:
    # aiosqlite's interrupt() calls sqlite3_interrupt at once, from this thread, which SQLite
    # allows: the driver's thread gets SQLITE_INTERRUPT mid-statement. A connection already
    # closed (invalidated when its task was cancelled) has nothing left to stop.
    with contextlib.suppress(sqlite3.ProgrammingError, ValueError):
        await driver.interrupt()


# The budget of the request running in this context (Database.time_budget); SQLite's pool
# hands it the connections the request checks out.
_budget: ContextVar[_Budget | None] = ContextVar("offerdesk_budget", default=None)


def _configure_sqlite_connection(dbapi_connection: Any, busy_timeout_ms: int) -> None:
    """Every SQLite connection's settings (sqlite3's, or SQLAlchemy's adapter of aiosqlite's)."""
    # None: the driver must not emit BEGIN itself; we do (the "begin" hook, write_transaction).
    dbapi_connection.isolation_level = None
    # SQLite's own lower() folds ASCII only; PostgreSQL folds every letter, and searches
    # must behave the same on both. No index or constraint may use it: one built with a
    # function stock SQLite lacks breaks under REINDEX and integrity_check (issue 14).
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
    dbapi_connection.create_function("offerdesk_base64url", 1, _base64url, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.close()


def _next_data_version(version: Any) -> str:
    """The statement that moves SQLite's data version (``Database.data_version``) on from
    ``version``: the header's user_version, written with the transaction, so it moves exactly
    when the data does (the writer holds the write lock)."""
    return f"PRAGMA user_version = {int(version or 0) + 1}"


@dataclass
class VersionRead:
    """SQLite's data version as read inside a write transaction (``write_transaction``):
    ``value`` stays None until the block sets it."""

    value: Any = None


@contextmanager
def write_transaction(cursor: sqlite3.Cursor) -> Iterator[VersionRead]:
    """A SQLite write transaction on ``cursor``'s connection, as ``Database.transaction``
    makes one (``BEGIN IMMEDIATE``, the data version moved, COMMIT), for code that runs in
    the writer thread (``Database.sqlite_writer``); rolled back if the block raises.

    A block that reads the data version (``Database.data_version_sql``) in a statement of its
    own sets the ``VersionRead`` it is given: the commit then moves it on without reading it
    again."""
    cursor.execute(locking.begin_statement(True))
    try:
        read = VersionRead()
        yield read
        if read.value is None:
            read.value = cursor.execute("PRAGMA user_version").fetchone()[0]
        cursor.execute(_next_data_version(read.value))
        cursor.execute("COMMIT")
    except BaseException:
        if cursor.connection.in_transaction:
            cursor.execute("ROLLBACK")
        raise


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        _configure_sqlite_connection(dbapi_connection, busy_timeout_ms)

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(_dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        budget = _budget.get()
        if budget is not None:
            budget.connections.add(record)
            record.info[_BUDGET_KEY] = budget

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        # Back in the pool, the connection is no longer the request's to interrupt.
        budget = record.info.pop(_BUDGET_KEY, None)
        if budget is not None:
            budget.connections.discard(record)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql(locking.begin_statement(write))


def create_engine(
    url: str, settings: Settings, *, statement_timeout_ms: int | None = None
) -> AsyncEngine:
    """The engine for ``url``. ``statement_timeout_ms`` (PostgreSQL only) bounds every statement
    and every idle moment inside a transaction on the server itself: the request budget, so no
    session outlives its request (migrations pass None: an index build may take longer)."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url)
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    connect_args: dict[str, Any] = {}
    if statement_timeout_ms is not None:
        # idle_in_transaction_session_timeout ends the session (and its locks) when a process
        # holds a transaction open and stops talking, e.g. an event loop blocked by a huge
        # answer, or a process frozen mid-request: the server rolls it back on its own.
        connect_args["server_settings"] = {
            "statement_timeout": str(statement_timeout_ms),
            "idle_in_transaction_session_timeout": str(statement_timeout_ms),
        }
    # No pre-ping: it is a round trip on every checkout. A pooled connection that died (a
    # database restart) fails its first statement instead; SQLAlchemy then marks every older
    # connection of the pool for renewal, and the first statement of a request (the token
    # look-up, graphql/http.py; the OAuth grant, auth/http.py) is retried once on a fresh one.
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        connect_args=connect_args,
    )


class Database:
    """The engine and the two kinds of session made from it: reads and write transactions."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.engine = create_engine(
            url, settings, statement_timeout_ms=int(settings.request_timeout_seconds * 1000)
        )
        self.dialect = self.engine.dialect.name
        self._sqlite_writers = locking.WriterQueue() if self.dialect == "sqlite" else None
        # PostgreSQL reads run outside a transaction: at READ COMMITTED every statement takes
        # its own snapshot anyway, so BEGIN and ROLLBACK around a read-only request would be
        # two round trips that buy nothing. SQLite keeps its read transaction, which gives a
        # request one snapshot there.
        reads = self.engine
        if self.dialect == "postgresql":
            reads = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._reads = async_sessionmaker(reads, expire_on_commit=False, autoflush=False)
        self._writes = async_sessionmaker(
            self.engine.execution_options(**{_WRITE_OPTION: True}),
            expire_on_commit=False,
            autoflush=False,
        )
        # graphql/direct.py's connections (PostgreSQL): at most half the pool, kept checked
        # out between requests; the sessions always have the other half and the overflow.
        self._kept: list[PoolProxiedConnection] = []
        self._keep = settings.db_pool_size // 2
        self._direct_slots = (
            asyncio.Semaphore(max(self._keep, 1)) if self.dialect == "postgresql" else None
        )
        # SQLite: graphql/direct.py's writes, on a connection of their own in a thread of its
        # own (sqlite_writer).
        self._busy_timeout_ms = settings.sqlite_busy_timeout_ms
        self._writer: sqlite3.Connection | None = None
        self._writer_trace: Callable[[str], None] | None = None
        self._writer_thread: ThreadPoolExecutor | None = None

    def read_session(self) -> AsyncSession:
        return self._reads()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One write transaction: committed when the block ends, rolled back if it raises.

        Every committed transaction changes the data version (see ``data_version``).
        """
        if self._sqlite_writers is None:
            async with self._writes() as session, session.begin():
                yield session
            return
        # SQLite has one writer at a time: this process's writers queue (locking.py).
        async with self._sqlite_writers.turn(), self._writes() as session, session.begin():
            yield session
            version = await session.scalar(text("PRAGMA user_version"))
            await session.execute(text(_next_data_version(version)))

    @asynccontextmanager
    async def single_statement(self) -> AsyncIterator[AsyncSession]:
        """A write the caller makes in ONE statement (the enrollment functions, docs/decisions.md).

        PostgreSQL: outside a transaction, so the statement is its own transaction and costs
        one round trip, with no BEGIN or COMMIT around it (nor a lock held across them).
        SQLite: a write transaction as ``transaction()`` gives, where any number of statements
        may run.
        """
        if self._sqlite_writers is not None:
            async with self.transaction() as session:
                yield session
            return
        async with self._reads() as session:
            yield session
            # Nothing to send (the statement committed itself); the session's commit tells
            # its observers (metrics.py) that what it wrote is committed.
            await session.commit()

    @asynccontextmanager
    async def time_budget(self, seconds: float) -> AsyncIterator[None]:
        """Bound the block to ``seconds``: it is cancelled then and raises ``TimeoutError``
        (``asyncio.timeout``), and the statements it has running stop too, so that what it
        holds (a transaction, SQLite's write lock, a pooled connection) is given back at once
        (issue 15, item 2; docs/decisions.md "Every request has a time budget").

        PostgreSQL ends them itself: every session's ``statement_timeout`` is the request
        budget (``create_engine``). SQLite has no server: a statement runs in the driver's
        thread, where cancelling the awaiting task does not reach, and the rollback would wait
        for it to finish. So the connections the block checks out are interrupted from the
        deadline on (``sqlite3_interrupt``); the statement fails with
        ``sqlite3.OperationalError("interrupted")``, which ``transient.py`` counts as
        transient (HTTP 503), and the transaction is rolled back. Nothing runs per statement:
        the cost is a timer per block.
        """
        if self._sqlite_writers is None:
            async with asyncio.timeout(seconds):
                yield
            return
        budget = _Budget(seconds)
        token = _budget.set(budget)
        try:
            async with asyncio.timeout(seconds):
                yield
        finally:
            budget.stop()
            _budget.reset(token)

    async def data_version(self, session: AsyncSession) -> str:
        """A value that changes whenever committed data changes, in every process sharing the
        database; read before the data it stands for (graphql/cache.py).

        PostgreSQL: the statement's snapshot (``xmin:xmax:in-progress xids``). Two equal
        snapshots see exactly the same committed transactions, and every transaction that
        writes takes a transaction id, which changes every later snapshot: writers pay nothing.
        A snapshot may also change for writes that do not matter (another table, a rolled-back
        transaction, autovacuum's ANALYZE): a cache miss, never a stale answer.
        """
        return str(await session.scalar(select(self.data_version_sql())))

    def data_version_sql(self) -> ColumnElement[Any]:
        """``data_version`` as an SQL expression, to read in the statement that reads the data
        itself (graphql/direct.py): then it stands for exactly that statement's data."""
        if self._sqlite_writers is None:
            return cast(func.pg_current_snapshot(), Text)
        return cast(
            select(literal_column("user_version"))
            .select_from(func.pragma_user_version())
            .scalar_subquery(),
            Text,
        )

    @asynccontextmanager
    async def driver_connection(self) -> AsyncIterator[Any]:
        """A pooled connection's own driver connection (asyncpg's or aiosqlite's) for a
        statement compiled outside SQLAlchemy's execution (graphql/direct.py), with no
        transaction open on it: each statement sent on it commits on its own.

        SQLAlchemy's checkout and checkin of an ``AsyncConnection`` (about 0.09 ms of CPU)
        cost as much as a compiled read's own work, so this takes the pool's connection
        directly. On PostgreSQL these requests share at most half the pool's connections (one
        in a pool of one, given back after each use), kept checked out between uses (the
        pool's metrics count them as checked out), and wait their turn for one: under a storm,
        checking out more would take the pool's overflow, whose connections are closed when
        given back, and each new connection prepares its statements again
        (bench/M1-ENROLLMENT-FUNCTIONS.md). SQLite takes one from the pool each time: its
        pool's checkout hands the connection to the request's time budget.

        A block that raises (cancellation included) leaves its connection closed, not pooled:
        what state it is in is unknown. A connection left inside a transaction is closed too.
        """
        if self._direct_slots is None:
            connection = await greenlet_spawn(self.engine.sync_engine.pool.connect)
            try:
                yield connection.driver_connection
            except BaseException:
                await greenlet_spawn(connection.invalidate)
                raise
            await greenlet_spawn(connection.close)
            return
        async with self._direct_slots:
            # The engine's pool of the moment: disposing of the engine replaces it.
            pool = self.engine.sync_engine.pool
            connection = self._kept.pop() if self._kept else await greenlet_spawn(pool.connect)
            driver: Any = connection.driver_connection
            try:
                yield driver
            except BaseException:
                # Outside a greenlet SQLAlchemy terminates asyncpg's connection at once, where
                # a graceful close could wait seconds for a statement being cancelled.
                connection.invalidate()
                raise
            if driver.is_in_transaction():
                connection.invalidate()
            elif len(self._kept) < self._keep:
                self._kept.append(connection)
            else:
                # A pool of one: its connection is the sessions' too.
                await greenlet_spawn(connection.close)

    async def sqlite_writer(self, work: Callable[[sqlite3.Connection], R]) -> R:
        """``work(connection)`` run on this process's SQLite writer connection, in its thread,
        in this process's writers' turn (locking.py, kind 1): one hop from the event loop for
        a whole change, where each statement of a session is one (graphql/direct.py's writes;
        ``work`` opens its transaction with ``write_transaction``).

        Cancelled (the request's time budget), the statement running is interrupted
        (``sqlite3_interrupt``) and the turn is kept until ``work`` has ended, so its
        transaction is rolled back before the next writer's starts; then CancelledError
        propagates. Raises ValueError for a database SQLite cannot open twice (in memory).
        """
        if self._sqlite_writers is None:
            raise ValueError("the writer connection is SQLite's")
        if self._writer_thread is None:
            self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="offerdesk-writer")
        loop = asyncio.get_running_loop()
        async with self._sqlite_writers.turn():
            done = loop.run_in_executor(self._writer_thread, self._in_writer_thread, work)
            try:
                return await asyncio.shield(done)
            except asyncio.CancelledError:
                if self._writer is not None:
                    self._writer.interrupt()
                await asyncio.wait([done])
                if not done.cancelled():
                    # Retrieved: the caller is cancelled whatever the work raised (most often
                    # the interruption itself).
                    done.exception()
                raise

    def _in_writer_thread(self, work: Callable[[sqlite3.Connection], R]) -> R:
        if self._writer is None:
            database = self.engine.url.database
            if not database or database == ":memory:":
                raise ValueError("an in-memory SQLite database has one connection")
            self._writer = sqlite3.connect(database, isolation_level=None)
            _configure_sqlite_connection(self._writer, self._busy_timeout_ms)
            self._writer.set_trace_callback(self._writer_trace)
        return work(self._writer)

    async def trace_sqlite_writer(self, callback: Callable[[str], None] | None) -> None:
        """Have the SQLite writer connection (``sqlite_writer``) pass each statement it runs to
        ``callback`` (sqlite3's trace callback), or stop with None: what bench/ and the tests
        count the statements of a request by."""
        self._writer_trace = callback
        if self._writer_thread is None:
            return

        def trace() -> None:
            if self._writer is not None:
                self._writer.set_trace_callback(callback)

        await asyncio.get_running_loop().run_in_executor(self._writer_thread, trace)

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def dispose(self) -> None:
        """Close every connection (the pool's, the kept ones, the SQLite writer's, whose thread
        ends too); the database may be used again after, on new ones."""
        thread, self._writer_thread = self._writer_thread, None
        if thread is not None:
            await asyncio.get_running_loop().run_in_executor(thread, self._close_writer)
            thread.shutdown()
        kept, self._kept = self._kept, []
        for connection in kept:
            await greenlet_spawn(connection.close)
        await self.engine.dispose()


K = TypeVar("K")
V = TypeVar("V")


def group_by_key(pairs: Iterable[tuple[K, V]], keys: Sequence[K]) -> list[list[V]]:
    """Values grouped under their keys, one list per key in ``keys`` order (empty where none):
    the shape a DataLoader of lists returns. Order within a group is kept."""
    grouped: dict[K, list[V]] = defaultdict(list)
    for key, value in pairs:
        grouped[key].append(value)
    return [grouped[key] for key in keys]
