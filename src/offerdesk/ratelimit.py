"""Rate limits, shared by every process through the database (off unless configured).

Two budgets, each ``COUNT/SECONDS``:

* ``OFFERDESK_RATE_LIMIT``: requests to ``/graphql`` per API client (a token made on the
  command line, which has no client, is its own budget).
* ``OFFERDESK_AUTH_FAILURE_LIMIT``: refused authentications (``/graphql`` answered 401, or
  ``/oauth/token/`` refused the credentials) per client address, against guessing tokens and
  secrets. While an address is over it, its requests to both paths are refused before any
  look-up.

Over budget, the answer is HTTP 429 with ``Retry-After`` (seconds until the budget's window
ends): for ``/graphql`` a GraphQL error with code ``RATE_LIMITED``, for ``/oauth/token/`` an
OAuth-style error. Each key's window starts at its first request and lasts ``SECONDS``; the
counters live in the table ``rate_limits`` (one row per key), so every process on the same
database shares them.
"""

import hashlib
import math
import re
import time
from dataclasses import dataclass

import orjson
from sqlalchemy import BigInteger, Integer, String, case, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column
from starlette.types import ASGIApp, Receive, Scope, Send

from offerdesk.auth.models import ApiToken
from offerdesk.db import Base, Database
from offerdesk.errors import ErrorCode

GRAPHQL_PATHS = frozenset({"/graphql", "/graphql/"})
TOKEN_PATHS = frozenset({"/oauth/token", "/oauth/token/"})
_BUDGET = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")
# Token -> budget key, per process: a token's client never changes, so it is looked up once
# (bounded, so a flood of made-up tokens cannot grow it).
_KEY_CACHE_SIZE = 10_000


class RateLimitCounter(Base):
    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    # When the key's current window began (Unix time, milliseconds), and the hits in it.
    window_started_ms: Mapped[int] = mapped_column(BigInteger)
    hits: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True)
class Budget:
    """At most ``count`` hits per ``seconds``."""

    count: int
    seconds: int

    @classmethod
    def parse(cls, value: str) -> "Budget | None":
        """``"COUNT/SECONDS"`` (both positive integers), or None for an empty value.
        Raises ValueError for anything else."""
        if not value.strip():
            return None
        found = _BUDGET.fullmatch(value)
        if not found or int(found[1]) < 1 or int(found[2]) < 1:
            raise ValueError('must be "COUNT/SECONDS", e.g. "600/60", or empty (off)')
        return cls(int(found[1]), int(found[2]))


async def hit(db: Database, key: str, budget: Budget) -> int | None:
    """Count one hit for ``key``; the seconds to wait when that is over budget, else None."""
    now_ms = int(time.time() * 1000)
    window_ms = budget.seconds * 1000
    counter = RateLimitCounter
    insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
    expired = counter.window_started_ms <= now_ms - window_ms
    statement = (
        insert(counter)
        .values(key=key, window_started_ms=now_ms, hits=1)
        .on_conflict_do_update(
            index_elements=[counter.key],
            set_={
                "window_started_ms": case((expired, now_ms), else_=counter.window_started_ms),
                "hits": case((expired, 1), else_=counter.hits + 1),
            },
        )
        .returning(counter.hits, counter.window_started_ms)
    )
    async with db.transaction() as session:
        hits, started_ms = (await session.execute(statement)).one()
    if int(hits) <= budget.count:
        return None
    return max(1, math.ceil((int(started_ms) + window_ms - now_ms) / 1000))


async def over_budget(db: Database, key: str, budget: Budget) -> int | None:
    """Without counting: the seconds to wait when ``key`` is over budget, else None."""
    now_ms = int(time.time() * 1000)
    async with db.read_session() as session:
        row = (
            await session.execute(
                select(RateLimitCounter.hits, RateLimitCounter.window_started_ms).where(
                    RateLimitCounter.key == key
                )
            )
        ).one_or_none()
    if row is None:
        return None
    hits, started_ms = row
    ends_ms = started_ms + budget.seconds * 1000
    if hits < budget.count or ends_ms <= now_ms:
        return None
    return max(1, math.ceil((ends_ms - now_ms) / 1000))


class CallerKeys:
    """The caller of a request as a key for budgets and idempotency keys: ``client:<uuid>``
    for a token of an API client, ``token:<hash>`` for a command-line token, None without a
    known bearer token. A token's client never changes, so each is looked up once per
    process (a bounded cache, so a flood of made-up tokens cannot grow it)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._keys: dict[str, str] = {}

    async def __call__(self, scope: Scope) -> str | None:
        headers = dict(scope.get("headers", []))
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        token_hash = hashlib.sha256(token.encode()).hexdigest()
        if token_hash in self._keys:
            return self._keys[token_hash]
        async with self.db.read_session() as session:
            row = (
                await session.execute(
                    select(ApiToken.client_id).where(ApiToken.token_hash == token_hash)
                )
            ).one_or_none()
        if row is None:
            return None  # not cached: it may be issued later
        key = f"client:{row[0]}" if row[0] is not None else f"token:{token_hash[:32]}"
        if len(self._keys) >= _KEY_CACHE_SIZE:
            self._keys.clear()
        self._keys[token_hash] = key
        return key


class RateLimit:
    """ASGI middleware applying the two budgets to ``/graphql`` and ``/oauth/token/``."""

    def __init__(
        self,
        app: ASGIApp,
        db: Database,
        per_client: Budget | None,
        auth_failures: Budget | None,
    ) -> None:
        self.app = app
        self.db = db
        self.per_client = per_client
        self.auth_failures = auth_failures
        self._caller_key = CallerKeys(db)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or (path not in GRAPHQL_PATHS and path not in TOKEN_PATHS):
            await self.app(scope, receive, send)
            return
        address = (scope.get("client") or ("unknown",))[0]
        failure_key = f"auth-failures:{address}"
        if self.auth_failures is not None:
            wait = await over_budget(self.db, failure_key, self.auth_failures)
            if wait is not None:
                await self._refuse(send, path, wait, "too many failed authentications")
                return
        if self.per_client is not None and path in GRAPHQL_PATHS:
            key = await self._caller_key(scope)
            if key is not None:
                wait = await hit(self.db, key, self.per_client)
                if wait is not None:
                    await self._refuse(send, path, wait, "too many requests for this client")
                    return
        status = 0

        async def watch(message: dict[str, object]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])  # type: ignore[call-overload]
            await send(message)

        await self.app(scope, receive, watch)  # type: ignore[arg-type]
        if self.auth_failures is not None and status == 401:
            await hit(self.db, failure_key, self.auth_failures)

    @staticmethod
    async def _refuse(send: Send, path: str, wait: int, why: str) -> None:
        message = f"rate limit reached: {why}; retry after {wait} s"
        body: dict[str, object]
        if path in GRAPHQL_PATHS:
            error = {"message": message, "extensions": {"code": ErrorCode.RATE_LIMITED.value}}
            body = {"errors": [error]}
        else:
            body = {"error": "rate_limited", "error_description": message}
        payload = orjson.dumps(body)
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json; charset=utf-8"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"retry-after", str(wait).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
