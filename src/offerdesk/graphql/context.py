"""The per-request context: who calls, the database sessions, and the DataLoaders."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk import idempotency
from offerdesk.auth.service import Principal
from offerdesk.config import Settings
from offerdesk.db import Database
from offerdesk.graphql.cache import ResponseCache
from offerdesk.graphql.loaders import Loaders
from offerdesk.logs import note_client


class Context:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        request_id: str,
        principal: Principal,
        response_cache: ResponseCache | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.response_cache = response_cache
        self.request_id = request_id
        self.principal = principal
        self._session: AsyncSession | None = None
        self._closed = False
        # A response-cache hit: the answer's data as JSON, sent as it is (graphql/cache.py).
        self.cached_answer: bytes | None = None
        self._abandoned: list[asyncio.Future[None]] = []
        # True once a mutation's transaction committed: from then on a failure must not be
        # reported as "nothing was written". (A request with an Idempotency-Key commits only
        # after its answer is built, in idempotency.py: until then it has committed nothing.)
        self.committed = False
        # True once a mutation's change stands or will stand (committed, or made in a keyed
        # request's transaction that commits with the answer).
        self.wrote = False
        # One AsyncSession runs one statement at a time; resolvers and loaders run
        # concurrently, so they take turns.
        self._lock = asyncio.Lock()

    def mark_committed(self) -> None:
        """A change made outside this context's sessions (graphql/direct.py) has committed."""
        self.committed = self.wrote = True

    @cached_property
    def loaders(self) -> Loaders:
        """The request's DataLoaders, made on first use (a compiled read needs none)."""
        return Loaders(self)

    @property
    def principal(self) -> Principal:
        return self._principal

    @principal.setter
    def principal(self, principal: Principal) -> None:
        # The access log names the caller's API client (logs.py); set here, where the
        # endpoint records who authenticated, so the endpoint needs no logging code.
        self._principal = principal
        note_client(principal.client_id)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._lock:
            if self._closed:
                # A DataLoader batch scheduled before the request ended: it must not open a
                # session nobody would close.
                raise RequestFinished
            claim = idempotency.current()
            if claim is not None and claim.session is not None:
                # A keyed request's writes are not committed until its answer is stored with
                # them (idempotency.py): its payloads are read in that same transaction.
                yield claim.session
                return
            if self._session is None:
                self._session = self.db.read_session()
            session = self._session
            try:
                yield session
            except asyncio.CancelledError:
                # graphql-core cancels the sibling fields of one that failed; a statement cut
                # off midway leaves this session unusable ("invalid transaction") for the
                # fields that go on, so they get a new one. The old one is closed aside.
                self._session = None
                self._abandoned.append(asyncio.ensure_future(_close_quietly(session)))
                raise

    @asynccontextmanager
    async def write(self, single_statement: bool = False) -> AsyncIterator[AsyncSession]:
        """One mutation's transaction (SPEC §3.10). Reads after it see what it wrote.

        ``single_statement``: the service makes the whole change in one statement, which runs
        as its own transaction where the engine allows (``Database.single_statement``).
        The read session is given back first: a request never holds two connections, so a
        burst of requests cannot exhaust the pool while each waits for its second one.

        With an ``Idempotency-Key`` the mutation runs in a SAVEPOINT of the request's one
        transaction instead, which commits with the stored answer after the answer is built
        (idempotency.py); raises ``idempotency.DuplicateRequest`` when another request holds
        the key, before anything runs.
        """
        await self._end_read()
        claim = idempotency.current()
        if claim is not None:
            session = await claim.open(self.db)
            # Rolled back alone if the mutation fails, as its own transaction would be.
            async with session.begin_nested():
                yield session
            claim.writes += 1
        else:
            begin = self.db.single_statement if single_statement else self.db.transaction
            async with begin() as session:
                yield session
            self.committed = True
            # A read session opened meanwhile holds a snapshot from before the commit.
            await self._end_read()
        self.wrote = True
        self.loaders = Loaders(self)

    async def drop_read_session(self) -> None:
        """Close the read session (a dead connection's); the next read opens a new one."""
        await self._end_read()

    async def _end_read(self) -> None:
        async with self._lock:
            if self._session is not None:
                await self._session.close()
                self._session = None

    async def close(self) -> None:
        """End the request: its pending DataLoader batches are cancelled and every session it
        opened is closed (rolled back)."""
        self._closed = True
        if "loaders" in vars(self):
            self.loaders.cancel_pending()
        await self._end_read()
        if self._abandoned:
            await asyncio.gather(*self._abandoned, return_exceptions=True)


class RequestFinished(Exception):
    """A database read asked for after the request ended (a stray DataLoader batch)."""


async def _close_quietly(session: AsyncSession) -> None:
    try:
        await session.close()
    except Exception:
        # A connection whose statement was cut off may refuse even its rollback; the pool
        # invalidates it, which is what should happen to it.
        await session.invalidate()
