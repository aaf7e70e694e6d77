"""Telling a transient failure (retry later) from a bug (SPEC §2.5 ``SERVICE_UNAVAILABLE``).

A database that cannot be reached, a connection lost mid-request, a pool with no free
connection in time, a statement cancelled by ``statement_timeout`` and a request past its time
budget all say nothing about the request itself: the same request may well succeed a moment
later. They are answered HTTP 503 with ``Retry-After``; everything else stays a masked
``INTERNAL_SERVER_ERROR``.
"""

import sqlite3

from sqlalchemy import exc as sa_exc

# Seconds a client is told to wait before retrying (the ``Retry-After`` header). A database
# restart or a failover takes a few seconds; a client that retries sooner only adds load.
RETRY_AFTER_SECONDS = 2

# PostgreSQL SQLSTATEs that mean "the server, not the request": connection exceptions (08…),
# insufficient resources (53…: too many connections, out of memory or disk), operator
# intervention (57…: query cancelled by statement_timeout, admin shutdown, crash shutdown,
# cannot connect now during start-up), and serialization failure or deadlock (40001, 40P01),
# which a retry resolves by definition.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57")
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})
# SQLite's own transient states: another writer held the lock beyond the busy timeout, and a
# statement interrupted because its request ran out of its time budget (db.time_budget; the
# counterpart of PostgreSQL's statement_timeout, SQLSTATE 57014).
_SQLITE_TRANSIENT = (
    "database is locked",
    "database table is locked",
    "database is busy",
    "interrupted",
)


def _transient_one(error: BaseException) -> bool:
    if isinstance(error, sa_exc.TimeoutError):
        return True  # the pool had no connection to give within its time-out
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True  # SQLAlchemy recognised a lost connection
    # TimeoutError covers asyncio's (the request's deadline) and socket time-outs; OSError
    # covers refused, reset and unreachable connections (asyncpg raises them unwrapped when
    # it connects).
    if isinstance(error, TimeoutError | OSError):
        return True
    sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if isinstance(sqlstate, str) and (
        sqlstate.startswith(_TRANSIENT_SQLSTATE_CLASSES) or sqlstate in _TRANSIENT_SQLSTATES
    ):
        return True
    if isinstance(error, sqlite3.OperationalError):
        return str(error).startswith(_SQLITE_TRANSIENT)
    return False


def is_transient(error: BaseException | None) -> bool:
    """True when ``error``, or an error it was raised from, is a transient database failure.

    The chain (``__cause__``, else ``__context__``) is followed because drivers wrap: SQLAlchemy's
    ``DBAPIError`` carries asyncpg's error, which carries the socket's.
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if _transient_one(error):
            return True
        orig = error.orig if isinstance(error, sa_exc.DBAPIError) else None
        if orig is not None and _transient_one(orig):
            return True
        error = error.__cause__ or error.__context__
    return False


def is_lost_connection(error: BaseException) -> bool:
    """True when ``error`` is SQLAlchemy reporting that a connection turned out to be dead (for
    instance a pooled connection whose server restarted while it was idle)."""
    return isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated
