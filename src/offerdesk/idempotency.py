"""``Idempotency-Key`` for mutations (the IETF draft "The Idempotency-Key HTTP Header Field").

A client that may retry a mutation (a timeout: did it happen?) sends ``Idempotency-Key: <a
unique string>`` with the POST. Within 24 hours, the same key from the same caller (API
client, or token for command-line tokens):

* with the same request (query, variables, operation name) gets the stored answer again,
  status and body, with ``Idempotent-Replayed: true``; nothing runs a second time;
* with a different request gets HTTP 422 and ``BAD_USER_INPUT``;
* while the first is still running waits for it (the database makes it wait, within the
  request's time budget), then gets its answer; HTTP 409 and ``CONFLICT`` when that answer
  cannot be had.

A request with a key is ONE transaction (issue 13, item 7: "the key and response are stored
in the mutation's own transaction"). Its first write (``Context.write``) opens it and inserts
the key; each mutation field then runs in a SAVEPOINT of it, so a refused field rolls back
alone as it would in a transaction of its own; the payloads are read in it; and once the
endpoint has built the answer, this middleware writes the answer into the key's row and
commits. The effects, the key and the answer therefore commit together or not at all: no
crash can leave a committed mutation without its stored answer, nor a key that answers
nothing. A concurrent duplicate's insert of the key waits for the first transaction
(PostgreSQL's unique index; SQLite's single writer) and then fails, so it never runs; it
replays the first answer instead. Nothing is stored, and nothing is committed, for a request
that never wrote (a query, a mutation refused before or inside its savepoint) or whose answer
is a 5xx (a request past its budget, a database gone mid-way: "nothing was written" must hold).
"""

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from sqlalchemy import Integer, LargeBinary, String, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from offerdesk.db import Base, Database, UTCDateTime, utcnow
from offerdesk.errors import DomainError, ErrorCode
from offerdesk.graphql.limits import late_body_message
from offerdesk.transient import RETRY_AFTER_SECONDS

log = logging.getLogger("offerdesk.idempotency")

HEADER = b"idempotency-key"
LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 255
GRAPHQL_PATHS = frozenset({"/graphql", "/graphql/"})


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    # Whose key: the budget key of ratelimit.caller_key ("client:<uuid>" or "token:<hash>").
    caller: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    # SHA-256 of the request (query, variables, operation name) in canonical JSON.
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The answer. Committed rows always have one: the row is inserted and answered in one
    # transaction. Only rows written before that was so (migration 0006's first release,
    # which stored the answer in a second transaction) can be without.
    status: Mapped[int | None] = mapped_column(Integer)
    media_type: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)


class DuplicateRequest(DomainError):
    """The key was claimed by another request first: this one must not run."""

    def __init__(self) -> None:
        super().__init__(ErrorCode.CONFLICT, "this Idempotency-Key is already in use")


class _Discarded(Exception):
    """Thrown into the keyed transaction to roll it back (nothing of it may stand)."""


@dataclass
class Claim:
    """A request's key and, from its first write on, the one transaction that holds the key,
    the mutations' effects and (at the end) the answer."""

    caller: str
    key: str
    fingerprint: str
    # Another request holds the key: this one ran nothing.
    duplicate: bool = False
    # The open transaction's session (None before the first write).
    session: AsyncSession | None = None
    # Savepoints released: mutation fields whose effects stand if the request commits.
    writes: int = 0
    _transaction: AbstractAsyncContextManager[AsyncSession] | None = None

    async def open(self, db: Database) -> AsyncSession:
        """The request's transaction, begun (and the key inserted) on the first call.

        Raises :class:`DuplicateRequest` when another request holds the key (its transaction
        committed first); the transaction is then rolled back and this request runs nothing.
        """
        if self.session is not None:
            return self.session
        transaction = db.transaction()
        session = await transaction.__aenter__()
        session.add(
            IdempotencyRecord(caller=self.caller, key=self.key, fingerprint=self.fingerprint)
        )
        try:
            await session.flush()
        except BaseException as exc:
            await transaction.__aexit__(type(exc), exc, exc.__traceback__)
            if isinstance(exc, IntegrityError):
                self.duplicate = True
                raise DuplicateRequest from exc
            raise
        self.session, self._transaction = session, transaction
        return session

    async def finish(self, messages: list[Message]) -> None:
        """Store the answer in ``messages`` with the key and commit, when a mutation wrote and
        the answer is not a 5xx; else roll everything back. Raises what the commit raises
        (then nothing of the request is committed, or, should the connection die during
        COMMIT, all of it with its answer: a retry is safe either way)."""
        transaction, session = self._transaction, self.session
        if transaction is None or session is None:
            return
        self._transaction = self.session = None
        start = next(m for m in messages if m["type"] == "http.response.start")
        if not self.writes or start["status"] >= 500:
            await _discard(transaction)
            return
        media_type = next(
            (v.decode() for n, v in start.get("headers", []) if n.lower() == b"content-type"),
            "application/json",
        )
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        try:
            await session.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.caller == self.caller, IdempotencyRecord.key == self.key)
                .values(status=start["status"], media_type=media_type, body=body)
            )
        except BaseException as exc:
            await transaction.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        await transaction.__aexit__(None, None, None)

    async def abandon(self) -> None:
        """Roll back the open transaction, if any (the request failed without an answer)."""
        transaction = self._transaction
        self._transaction = self.session = None
        if transaction is not None:
            await _discard(transaction)


async def _discard(transaction: AbstractAsyncContextManager[AsyncSession]) -> None:
    error = _Discarded()
    await transaction.__aexit__(_Discarded, error, None)


_claim: ContextVar[Claim | None] = ContextVar("offerdesk_idempotency_claim", default=None)


def current() -> Claim | None:
    """The current request's claim, when it carries an ``Idempotency-Key`` (else None)."""
    return _claim.get()


def fingerprint(body: bytes) -> str | None:
    """The request's fingerprint, or None for a body that is not a JSON object (the endpoint
    refuses it anyway)."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(parsed, dict):
        return None
    essence = {name: parsed.get(name) for name in ("query", "variables", "operationName")}
    return hashlib.sha256(orjson.dumps(essence, option=orjson.OPT_SORT_KEYS)).hexdigest()


class Idempotency:
    """ASGI middleware: ``Idempotency-Key`` on ``POST /graphql`` (see the module)."""

    def __init__(
        self,
        app: ASGIApp,
        db: Database,
        caller_key: Callable[[Scope], Awaitable[str | None]],
        body_timeout: float,
    ) -> None:
        self.app = app
        self.db = db
        self.caller_key = caller_key
        # body_read_timeout_seconds: the endpoint's limit on a body's arrival, which a keyed
        # request's body, read here, must not escape.
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] not in GRAPHQL_PATHS
        ):
            await self.app(scope, receive, send)
            return
        sent_key = dict(scope["headers"]).get(HEADER)
        if sent_key is None:
            await self.app(scope, receive, send)
            return
        key = sent_key.decode("latin-1").strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            await _answer(
                send, 400, ErrorCode.BAD_USER_INPUT, "Idempotency-Key: 1 to 255 characters"
            )
            return
        caller = await self.caller_key(scope)
        if caller is None:
            # No valid token: the endpoint answers 401, and nothing is stored.
            await self.app(scope, receive, send)
            return
        try:
            async with asyncio.timeout(self.body_timeout):
                body = await _read_body(receive)
        except TimeoutError:
            late = late_body_message(self.body_timeout)
            await _answer(send, 408, ErrorCode.BAD_USER_INPUT, late, [(b"connection", b"close")])
            return
        print_ = fingerprint(body)
        if print_ is None:
            await self.app(scope, replay_body(body), send)
            return
        if await self._replayed(send, caller, key, print_):
            return
        claim = Claim(caller, key, print_)
        token = _claim.set(claim)
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        try:
            await self.app(scope, replay_body(body), hold)
        except BaseException:
            await claim.abandon()
            raise
        finally:
            _claim.reset(token)
        if claim.duplicate:
            # Another request ran first; this one ran nothing: answer as that one did.
            if not await self._replayed(send, caller, key, print_):
                await _answer(send, 409, ErrorCode.CONFLICT, "this Idempotency-Key is in use")
            return
        try:
            await claim.finish(held)
        except Exception:
            # The answer was not sent, so the client retries; with the key that is safe
            # whatever the COMMIT did (see Claim.finish).
            log.warning("storing the answer of Idempotency-Key %r failed", key, exc_info=True)
            await _answer(
                send,
                503,
                ErrorCode.SERVICE_UNAVAILABLE,
                "the database is unavailable; nothing was written,"
                f" retry in {RETRY_AFTER_SECONDS} s",
                [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())],
            )
            return
        for message in held:
            await send(message)

    async def _replayed(self, send: Send, caller: str, key: str, print_: str) -> bool:
        """Answer from the stored record of ``key`` when there is one; False when there is
        none (or it expired), so the request runs."""
        async with self.db.read_session() as session:
            record = await session.get(IdempotencyRecord, (caller, key))
        if record is not None and record.created_at <= utcnow() - LIFETIME:
            async with self.db.transaction() as session:
                await session.execute(
                    delete(IdempotencyRecord).where(
                        IdempotencyRecord.caller == caller,
                        IdempotencyRecord.created_at <= utcnow() - LIFETIME,
                    )
                )
            record = None
        if record is None:
            return False
        if record.fingerprint != print_:
            await _answer(
                send,
                422,
                ErrorCode.BAD_USER_INPUT,
                "this Idempotency-Key was used for a different request",
            )
            return True
        if record.status is None or record.body is None:
            # A row from before answers were stored with their key (see IdempotencyRecord):
            # whether its mutation ran is unknown, so it must not run again.
            await _answer(
                send,
                409,
                ErrorCode.CONFLICT,
                "this Idempotency-Key has no stored answer; use a new key",
            )
            return True
        await send(
            {
                "type": "http.response.start",
                "status": record.status,
                "headers": [
                    (b"content-type", (record.media_type or "application/json").encode()),
                    (b"content-length", str(len(record.body)).encode()),
                    (b"idempotent-replayed", b"true"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": record.body})
        return True


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            return b"".join(chunks)


def replay_body(body: bytes) -> Receive:
    """An ASGI ``receive`` for an app called after the request's ``body`` was read: it gives
    the body, whole, and then waits as a request whose client stays does."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        # The body was read already: what follows is the client going away.
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    return receive


async def _answer(
    send: Send,
    status: int,
    code: ErrorCode,
    message: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    payload = orjson.dumps({"errors": [{"message": message, "extensions": {"code": code.value}}]})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
