"""``Idempotency-Key`` for mutations (the IETF draft "The Idempotency-Key HTTP Header Field").

A client that may retry a mutation (a timeout: did it happen?) sends ``Idempotency-Key: <a
unique string>`` with the POST. Within 24 hours, the same key from the same caller (API
client, or token for command-line tokens):

* with the same request (query, variables, operation name) gets the stored answer again,
  status and body, with ``Idempotent-Replayed: true``; nothing runs a second time;
* with a different request gets HTTP 422 and ``BAD_USER_INPUT``;
* while the first is still running waits for it (up to ``WAIT_SECONDS``), then gets its
  answer, or HTTP 409 and ``CONFLICT``.

The key is written in the mutation's own transaction (``Context.write`` calls
:func:`claim_in`), so the mutation's effect and the key commit together or not at all: a
concurrent duplicate's insert of the same key fails, its transaction is rolled back, and it
waits for the first answer instead. The answer is stored right after it is sent. A request
that never writes (a query, or a mutation refused before its transaction) stores nothing.
"""

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
from sqlalchemy import Integer, LargeBinary, String, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from offerdesk.db import Base, Database, UTCDateTime, utcnow
from offerdesk.errors import DomainError, ErrorCode

HEADER = b"idempotency-key"
LIFETIME = timedelta(hours=24)
WAIT_SECONDS = 30.0
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
    # The answer, once sent (None while the first request is still running).
    status: Mapped[int | None] = mapped_column(Integer)
    media_type: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)


class DuplicateRequest(DomainError):
    """The key was claimed by another request first: this one must not run."""

    def __init__(self) -> None:
        super().__init__(ErrorCode.CONFLICT, "this Idempotency-Key is already in use")


@dataclass
class Claim:
    """A request's key, waiting to be written by its first write transaction."""

    caller: str
    key: str
    fingerprint: str
    claimed: bool = False
    duplicate: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_claim: ContextVar[Claim | None] = ContextVar("offerdesk_idempotency_claim", default=None)


async def claim_in(session: AsyncSession) -> bool:
    """Write the current request's key in ``session``'s transaction, unless an earlier
    transaction of the request did; True when this one did (then :func:`release` it if the
    transaction does not commit).

    Raises :class:`DuplicateRequest` when another request holds the key: the caller's
    transaction then rolls back, so the mutation does not run.
    """
    claim = _claim.get()
    if claim is None or claim.claimed:
        return False
    async with claim.lock:
        if claim.claimed:
            return False
        session.add(
            IdempotencyRecord(caller=claim.caller, key=claim.key, fingerprint=claim.fingerprint)
        )
        try:
            await session.flush()
        except IntegrityError as exc:
            claim.duplicate = True
            raise DuplicateRequest from exc
        claim.claimed = True
        return True


def pending() -> bool:
    """True while the current request has a key that no transaction has written yet."""
    claim = _claim.get()
    return claim is not None and not claim.claimed


def release() -> None:
    """The transaction that wrote the key did not commit: the next one writes it."""
    claim = _claim.get()
    if claim is not None:
        claim.claimed = False


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
    ) -> None:
        self.app = app
        self.db = db
        self.caller_key = caller_key

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
        body = await _read_body(receive)
        print_ = fingerprint(body)
        if print_ is None:
            await self.app(scope, _replay_body(body), send)
            return
        if await self._replayed(send, caller, key, print_):
            return
        claim = Claim(caller, key, print_)
        token = _claim.set(claim)
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        try:
            await self.app(scope, _replay_body(body), hold)
        finally:
            _claim.reset(token)
        if claim.duplicate:
            # Another request ran first; this one ran nothing: answer as that one did.
            if not await self._replayed(send, caller, key, print_):
                await _answer(send, 409, ErrorCode.CONFLICT, "this Idempotency-Key is in use")
            return
        for message in held:
            await send(message)
        if claim.claimed:
            await self._store(caller, key, held)

    async def _replayed(self, send: Send, caller: str, key: str, print_: str) -> bool:
        """Answer from the stored record of ``key`` when there is one (waiting for a running
        first request); False when there is none, so the request runs."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
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
            if record.status is not None and record.body is not None:
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
            if time.monotonic() >= deadline:
                await _answer(
                    send,
                    409,
                    ErrorCode.CONFLICT,
                    "a request with this Idempotency-Key is still running; retry later",
                )
                return True
            await asyncio.sleep(0.05)

    async def _store(self, caller: str, key: str, messages: list[Message]) -> None:
        start = next(m for m in messages if m["type"] == "http.response.start")
        media_type = next(
            (v.decode() for n, v in start.get("headers", []) if n.lower() == b"content-type"),
            "application/json",
        )
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        async with self.db.transaction() as session:
            await session.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.caller == caller, IdempotencyRecord.key == key)
                .values(status=start["status"], media_type=media_type, body=body)
            )


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


def _replay_body(body: bytes) -> Receive:
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


async def _answer(send: Send, status: int, code: ErrorCode, message: str) -> None:
    payload = orjson.dumps({"errors": [{"message": message, "extensions": {"code": code.value}}]})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
