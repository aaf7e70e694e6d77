"""Webhooks (issue 12 items 2, 3, 6): subscriptions and their rules, the delivery log, and the
dispatcher's database work (fan-out, claims, outcomes). Knows nothing of GraphQL or HTTP
sending (dispatcher.py sends); names bad input by domain paths (``webhook_subscription.url``).
"""

import asyncio
import base64
import ipaddress
import json
import random
import secrets
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypedDict
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from offerdesk import locking
from offerdesk.bulk import BulkResult, bulk_apply
from offerdesk.db import utcnow
from offerdesk.errors import DomainError, bad_input
from offerdesk.outbox import payloads
from offerdesk.outbox import service as outbox
from offerdesk.outbox.models import EventType
from offerdesk.pagination import Page, paginate
from offerdesk.repository import get_row
from offerdesk.validation import clean_text
from offerdesk.webhooks.models import (
    DeliveryStatus,
    FanoutPosition,
    WebhookDelivery,
    WebhookSubscription,
)

MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 1000
# A rotated-out secret keeps signing this long, so receivers can switch over (issue 12).
OLD_SECRET_GRACE = timedelta(hours=24)
# What the delivery log keeps of a response (issue 12: at most 1 KB).
MAX_EXCERPT_BYTES = 1024
# Retries wait base * 2**(attempt-1), at most this long, jittered by up to a fifth.
MAX_RETRY_DELAY = timedelta(hours=1)
# The cloud metadata addresses (AWS, GCP, Azure, …; and AWS's IPv6 one): refused as SSRF
# targets even where private addresses are allowed.
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


class SubscriptionChanges(TypedDict, total=False):
    """The fields a create or update sets; a key left out stays as it is."""

    url: str
    events: Sequence[EventType]
    description: str | None
    is_active: bool


@dataclass(frozen=True)
class UrlPolicy:
    """Which subscription URLs are accepted and called (issue 12 item 6; config.py
    ``webhook_allow_http``, ``webhook_allow_private``, ``webhook_allowed_hosts``)."""

    allow_http: bool
    allow_private: bool
    allowed_hosts: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DeliveryFilter:
    subscription_id: uuid.UUID | None = None
    status: DeliveryStatus | None = None


def new_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def check_url(url: str, policy: UrlPolicy, field: str) -> str:
    """``url`` if a subscription may call it, else BAD_USER_INPUT on ``field``: at most
    2048 characters, http(s) with a host and no credentials, https unless the policy allows
    http, and (unless the policy allows private addresses or names the host) every address
    the host resolves to public: not loopback, private, link-local, reserved or a cloud
    metadata address (SSRF). Called at creation and again before every attempt, since what a
    name resolves to can change."""
    if len(url) > MAX_URL_LENGTH:
        raise bad_input(field, f"the URL is {len(url)} characters; at most {MAX_URL_LENGTH}")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 -- parsing the port raises on a bad one
    except ValueError as exc:
        raise bad_input(field, f"not a URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not host:
        raise bad_input(field, "the URL must be http(s) with a host, e.g. https://example.com/hook")
    if parts.username is not None or parts.password is not None:
        raise bad_input(field, "the URL must not hold credentials")
    if parts.scheme == "http" and not policy.allow_http:
        raise bad_input(field, "the URL must be https (OFFERDESK_WEBHOOK_ALLOW_HTTP allows http)")
    if host.lower() in policy.allowed_hosts:
        return url
    for address in await _addresses(host, field, must_resolve=not policy.allow_private):
        if address in METADATA_ADDRESSES or (not policy.allow_private and not address.is_global):
            raise bad_input(
                field,
                f"{host} resolves to {address}, a loopback, private, link-local or metadata "
                "address (name it in OFFERDESK_WEBHOOK_ALLOWED_HOSTS to allow it)",
            )
    return url


async def _addresses(
    host: str, field: str, must_resolve: bool
) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses ``host`` stands for. A name that does not resolve is refused when
    ``must_resolve`` (its addresses must be checked), else taken as having none: where
    private addresses are allowed, a receiver need not be reachable yet."""
    try:
        return {ipaddress.ip_address(host.strip("[]"))}
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        if not must_resolve:
            return set()
        # Not chained: a DomainError caused by an OSError would read as the database's.
        raise bad_input(field, f"{host} does not resolve") from None
    return {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}


async def get(session: AsyncSession, id_: uuid.UUID, path: str = "id") -> WebhookSubscription:
    """The subscription; NOT_FOUND on ``path``."""
    return await get_row(session, WebhookSubscription, id_, "webhook subscription", path)


async def find(session: AsyncSession, id_: uuid.UUID) -> WebhookSubscription | None:
    """The subscription, or None."""
    return await session.get(WebhookSubscription, id_)


async def find_many(session: AsyncSession) -> list[WebhookSubscription]:
    """Every subscription, oldest first."""
    stmt = select(WebhookSubscription).order_by(
        WebhookSubscription.created_at, WebhookSubscription.id
    )
    return list((await session.scalars(stmt)).all())


async def create(
    session: AsyncSession, changes: SubscriptionChanges, policy: UrlPolicy
) -> WebhookSubscription:
    """A new, active subscription with a new secret (the only time the caller sees it).
    ``changes`` must hold ``url`` and ``events``; BAD_USER_INPUT names
    ``webhook_subscription.<field>``."""
    for key in ("url", "events"):
        if key not in changes:
            raise bad_input(f"webhook_subscription.{key}", f"{key} is required")
    subscription = WebhookSubscription(is_active=True, secret=new_secret())
    await _apply(subscription, changes, policy)
    session.add(subscription)
    await session.flush()
    return subscription


async def update(
    session: AsyncSession, id_: uuid.UUID, changes: SubscriptionChanges, policy: UrlPolicy
) -> WebhookSubscription:
    """The subscription with ``changes`` applied (``is_active`` true re-activates one a 410
    disabled); NOT_FOUND on ``id``."""
    subscription = await get(session, id_)
    await _apply(subscription, changes, policy)
    await session.flush()
    return subscription


async def _apply(
    subscription: WebhookSubscription, changes: SubscriptionChanges, policy: UrlPolicy
) -> None:
    if "url" in changes:
        subscription.url = await check_url(changes["url"], policy, "webhook_subscription.url")
    if "events" in changes:
        if not changes["events"]:
            raise bad_input("webhook_subscription.events", "name at least one event type")
        subscription.events = sorted({EventType(kind).value for kind in changes["events"]})
    if "description" in changes:
        subscription.description = clean_text(
            changes["description"], "webhook_subscription.description", MAX_DESCRIPTION_LENGTH
        )
    if "is_active" in changes:
        subscription.is_active = changes["is_active"]
        if changes["is_active"]:
            subscription.disabled_reason = None


async def rotate_secret(session: AsyncSession, id_: uuid.UUID) -> WebhookSubscription:
    """A new secret for the subscription; the old one signs beside it for 24 hours (every
    delivery then carries both signatures). NOT_FOUND on ``id``."""
    subscription = await get(session, id_)
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_until = utcnow() + OLD_SECRET_GRACE
    subscription.secret = new_secret()
    await session.flush()
    return subscription


async def delete_many(session: AsyncSession, ids: Sequence[uuid.UUID]) -> BulkResult:
    """Delete subscriptions (and their delivery log); unknown ids are reported as failed."""

    async def change(found: list[uuid.UUID]) -> None:
        await session.execute(
            delete(WebhookDelivery).where(WebhookDelivery.subscription_id.in_(found))
        )
        await session.execute(delete(WebhookSubscription).where(WebhookSubscription.id.in_(found)))

    return await bulk_apply(session, WebhookSubscription, ids, change)


async def deliveries(
    session: AsyncSession, where: DeliveryFilter, first: int | None, after: str | None
) -> Page[WebhookDelivery]:
    """One page of the delivery log, oldest first (SPEC §2.6)."""
    stmt = select(WebhookDelivery)
    if where.subscription_id is not None:
        stmt = stmt.where(WebhookDelivery.subscription_id == where.subscription_id)
    if where.status is not None:
        stmt = stmt.where(WebhookDelivery.status == where.status)
    return await paginate(session, stmt, WebhookDelivery, first, after)


async def redeliver(session: AsyncSession, id_: uuid.UUID) -> WebhookDelivery:
    """Send the delivery again as soon as a dispatcher is free, whatever its state (the same
    event id and body); NOT_FOUND on ``id``."""
    delivery = await get_row(session, WebhookDelivery, id_, "webhook delivery")
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = utcnow()
    await session.flush()
    return delivery


# --- the dispatcher's database work (dispatcher.py calls these, each in a transaction) ---


@dataclass(frozen=True)
class Work:
    """What a dispatcher has to do: outbox events to fan out, deliveries due."""

    events: bool
    due: bool


async def work(session: AsyncSession) -> Work:
    """What a dispatcher has to do now. A read, so that an idle dispatcher writes nothing (a
    write transaction would change the data version every poll and empty the response
    caches)."""
    position = await session.get(FanoutPosition, 1)
    start = outbox.Position() if position is None else outbox.Position(position.tx, position.seq)
    events = bool(await outbox.after(session, start, 1))
    due = await session.scalar(
        select(WebhookDelivery.id)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= utcnow(),
            WebhookSubscription.is_active.is_(True),
        )
        .limit(1)
    )
    return Work(events=events, due=due is not None)


async def fan_out(session: AsyncSession, limit: int = 500) -> tuple[int, int]:
    """Turn up to ``limit`` new outbox events into one PENDING delivery per matching active
    subscription (one that existed when the event happened); returns how many events were
    taken and how many deliveries made. Only one dispatcher fans out at a time (the position
    row is claimed, skipped by the others); the events come in the change feed's order, so
    none is skipped."""
    claimed = await locking.claim_rows(
        session, select(FanoutPosition).where(FanoutPosition.id == 1)
    )
    if claimed:
        position: FanoutPosition = claimed[0]
    elif await session.get(FanoutPosition, 1) is None:
        # The row the migration made is gone (a table emptied by hand): start again at the
        # beginning. Two dispatchers doing this at once: one fails on the key, and retries.
        position = FanoutPosition(id=1, tx=-1, seq=-1)
        session.add(position)
    else:
        return 0, 0
    start = outbox.Position(position.tx, position.seq)
    subscriptions = [
        subscription for subscription in await find_many(session) if subscription.is_active
    ]
    if not subscriptions:
        # Nobody to deliver to: move past every event there is, reading only where to.
        last = await outbox.last_after(session, start)
        if last is None:
            return 0, 0
        position.tx, position.seq = last.tx, last.seq
        await session.flush()
        return 1, 0
    rows = await outbox.after(session, start, limit)
    if not rows:
        return 0, 0
    wanted = [
        (row, subscription)
        for row in rows
        for subscription in subscriptions
        if row.type in subscription.events and subscription.created_at <= row.occurred_at
    ]
    if wanted:
        bodies = {
            envelope["id"]: json.dumps(envelope, separators=(",", ":"))
            for envelope in await payloads.envelopes(session, [row for row, _ in wanted])
        }
        now = utcnow()
        session.add_all(
            WebhookDelivery(
                id=uuid.uuid4(),
                subscription_id=subscription.id,
                event_id=row.id,
                event_type=row.type,
                object_id=row.object_id,
                body=bodies[str(row.id)],
                status=DeliveryStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
            )
            for row, subscription in wanted
        )
    position.tx, position.seq = rows[-1].tx, rows[-1].seq
    await session.flush()
    return len(rows), len(wanted)


@dataclass(frozen=True)
class Attempt:
    """One claimed delivery attempt: what to send, where, signed with which secrets."""

    delivery_id: uuid.UUID
    event_id: uuid.UUID
    url: str
    body: str
    secrets: tuple[str, ...]
    attempt: int

    def headers(self, now: datetime) -> dict[str, str]:
        """The Standard Webhooks headers: ``webhook-id`` (the event id), ``webhook-timestamp``
        (seconds) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>``, one per secret)."""
        signatures = " ".join(
            Webhook(secret).sign(str(self.event_id), now, self.body) for secret in self.secrets
        )
        return {
            "content-type": "application/json",
            "user-agent": "Offerdesk-Webhooks/1",
            "webhook-id": str(self.event_id),
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signatures,
        }


async def claim(session: AsyncSession, limit: int, lease: timedelta) -> list[Attempt]:
    """Up to ``limit`` due deliveries of active subscriptions, claimed for ``lease``: no
    other dispatcher takes them until then (if this one dies, another retries after it:
    at-least-once). Each claim counts as an attempt."""
    now = utcnow()
    stmt = (
        select(WebhookDelivery)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            WebhookSubscription.is_active.is_(True),
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    due: list[WebhookDelivery] = await locking.claim_rows(session, stmt)
    if not due:
        return []
    found = await session.scalars(
        select(WebhookSubscription).where(
            WebhookSubscription.id.in_({delivery.subscription_id for delivery in due})
        )
    )
    subscriptions = {subscription.id: subscription for subscription in found}
    attempts = []
    for delivery in due:
        delivery.attempts += 1
        delivery.next_attempt_at = now + lease
        subscription = subscriptions[delivery.subscription_id]
        signing = [subscription.secret]
        if subscription.previous_secret and (subscription.previous_secret_until or now) > now:
            signing.append(subscription.previous_secret)
        attempts.append(
            Attempt(
                delivery_id=delivery.id,
                event_id=delivery.event_id,
                url=subscription.url,
                body=delivery.body,
                secrets=tuple(signing),
                attempt=delivery.attempts,
            )
        )
    await session.flush()
    return attempts


@dataclass(frozen=True)
class Outcome:
    """What an attempt got: an HTTP status, or an error (timeout, connection, refused URL)."""

    status_code: int | None
    error: str | None
    latency_ms: int
    excerpt: str | None


def retry_delay(attempt: int, base_seconds: float) -> timedelta:
    """The wait after failed attempt ``attempt`` (1-based): ``base * 2**(attempt-1)``, at
    most an hour, less up to a fifth of it at random (jitter, so failed receivers are not
    hit by every retry at once)."""
    delay = min(timedelta(seconds=base_seconds * 2 ** min(attempt - 1, 30)), MAX_RETRY_DELAY)
    return delay * (1 - random.random() / 5)


async def finish(
    session: AsyncSession,
    attempt: Attempt,
    outcome: Outcome,
    max_attempts: int,
    retry_base_seconds: float,
) -> DeliveryStatus:
    """Record an attempt's outcome: a 2xx is SUCCEEDED; 410 Gone marks it FAILED and
    disables the subscription (issue 12); anything else is retried after ``retry_delay``
    until ``max_attempts``, then FAILED. Returns the delivery's new status."""
    delivery = await session.get(WebhookDelivery, attempt.delivery_id)
    if delivery is None:
        # Its subscription was deleted meanwhile.
        return DeliveryStatus.FAILED
    delivery.last_status_code = outcome.status_code
    delivery.last_error = None if outcome.error is None else outcome.error[:500]
    delivery.latency_ms = outcome.latency_ms
    delivery.response_excerpt = outcome.excerpt
    code = outcome.status_code
    if code is not None and 200 <= code < 300:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, None
    elif code == 410:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        await session.execute(
            sa.update(WebhookSubscription)
            .where(WebhookSubscription.id == delivery.subscription_id)
            .values(
                is_active=False,
                disabled_reason=f"the receiver answered 410 Gone at {utcnow().isoformat()}",
                updated_at=utcnow(),
            )
        )
    elif delivery.attempts >= max_attempts:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
    else:
        delivery.next_attempt_at = utcnow() + retry_delay(delivery.attempts, retry_base_seconds)
    await session.flush()
    return delivery.status


async def prune(session: AsyncSession, retention: timedelta) -> None:
    """Delete outbox events and finished deliveries older than ``retention``."""
    await outbox.prune(session, retention)
    await session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.created_at < utcnow() - retention,
            WebhookDelivery.status != DeliveryStatus.PENDING,
        )
    )


def refusal_of(error: DomainError) -> str:
    """An attempt refused before sending (the URL now resolves to a refused address), as the
    delivery log's error text."""
    return f"not sent: {error.message}"
