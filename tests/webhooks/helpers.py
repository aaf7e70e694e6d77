"""Webhook test helpers: a real receiver process (receiver.py), a dispatcher driven round by
round in the test process, real ``offerdesk serve`` processes to deliver instead, and the
GraphQL calls that subscribe and read the delivery log."""

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import make_url
from standardwebhooks.webhooks import Webhook

from offerdesk.db import Database
from offerdesk.webhooks.dispatcher import Dispatcher

from ..concurrency.servers import servers
from ..helpers import Api

RECEIVER = Path(__file__).with_name("receiver.py")

CREATE_SUBSCRIPTION = """mutation ($input: CreateWebhookSubscriptionInput!) {
  createWebhookSubscription(webhookSubscription: $input) {
    webhookSubscription { id secret isActive } } }"""

SUBSCRIPTION = """query ($id: UUID!) {
  webhookSubscription(id: $id) { id isActive disabledReason secret } }"""

DELIVERIES = """query ($sub: UUID) {
  webhookDeliveries(subscriptionId: $sub) { edges { node {
    id eventId eventType objectId status attemptCount lastStatusCode lastError latencyMs
    nextAttemptAt responseBodyExcerpt } } } }"""


class Receiver:
    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log

    def requests(self) -> list[dict[str, Any]]:
        """Every POST received so far, in order."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def verified_ids(self, secret: str) -> list[str]:
        """The ``webhook-id`` of every POST received so far, each one's signature verified
        against ``secret`` by the ``standardwebhooks`` library (which raises on a forgery)."""
        ids = []
        for request in self.requests():
            envelope = Webhook(secret).verify(request["body"], request["headers"])
            assert envelope["id"] == request["headers"]["webhook-id"]
            ids.append(envelope["id"])
        return ids


@contextmanager
def receiver(tmp_path: Path, plan: str = "200") -> Iterator[Receiver]:
    """A receiver process on 127.0.0.1 answering by ``plan`` (receiver.py)."""
    log = tmp_path / f"received-{len(list(tmp_path.glob('received-*')))}.jsonl"
    # Made now, not at the first request: a second receiver started before this one is
    # called must count it, or both would write to one file.
    log.touch(exist_ok=False)
    process = subprocess.Popen(
        [sys.executable, str(RECEIVER), str(log), plan], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield Receiver(f"http://127.0.0.1:{port}/hook", log)
    finally:
        process.kill()
        process.wait()


async def dispatch_until(
    db: Database, settings: Any, done: Callable[[], bool], rounds: int = 3000
) -> None:
    """Run dispatcher rounds until ``done()``; fails after ``rounds`` rounds (a minute or
    more: on PostgreSQL events wait for the server's older transactions, other databases'
    too, docs/decisions.md)."""
    dispatcher = Dispatcher(db, settings)
    async with dispatcher.client() as client:
        for _ in range(rounds):
            if done():
                return
            if not await dispatcher.step(client):
                await asyncio.sleep(0.02)
    assert done(), "the dispatcher did not get there"


async def dispatch_rounds(db: Database, settings: Any, rounds: int) -> None:
    """Run ``rounds`` dispatcher rounds, whether or not they find work."""
    dispatcher = Dispatcher(db, settings)
    async with dispatcher.client() as client:
        for _ in range(rounds):
            await dispatcher.step(client)


async def wait_for(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 120) -> None:
    """Poll ``check()`` every 0.1 s until it holds; fails saying ``what`` did not happen after
    ``seconds``. Generous, because it only bounds a test that would otherwise hang: on a
    loaded machine, and on PostgreSQL where events wait for the server's older transactions
    (any database's), a delivery can take many times its usual fraction of a second."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        await asyncio.sleep(0.1)


@asynccontextmanager
async def serving(
    database_url: str, token: str, settings: dict[str, str]
) -> AsyncIterator[list[Api]]:
    """``offerdesk serve`` processes on the database, each with its own webhook dispatcher,
    configured by the ``OFFERDESK_*`` ``settings``; yields a GraphQL caller (over real HTTP,
    bearing ``token``) for each. PostgreSQL: two processes, which share the deliveries (``FOR
    UPDATE SKIP LOCKED``); SQLite: one."""
    count = 2 if make_url(database_url).get_backend_name() == "postgresql" else 1
    with servers(database_url, count, settings) as urls:
        async with AsyncExitStack() as clients:
            apis = []
            for url in urls:
                client = await clients.enter_async_context(
                    httpx.AsyncClient(base_url=url, timeout=60)
                )
                apis.append(Api(client, token))
            yield apis


async def subscribe(api: Api, url: str, events: list[str] | None = None) -> dict[str, Any]:
    """A new subscription of ``url`` to ``events`` (OFFER_CREATED by default): its ``id``,
    ``secret`` and ``isActive``."""
    variables = {"input": {"url": url, "events": events or ["OFFER_CREATED"]}}
    data = await api.data(CREATE_SUBSCRIPTION, variables)
    subscription: dict[str, Any] = data["createWebhookSubscription"]["webhookSubscription"]
    return subscription


async def subscription_state(api: Api, subscription_id: str) -> dict[str, Any]:
    """The subscription as the API shows it: ``isActive``, ``disabledReason``, ``secret``."""
    data = await api.data(SUBSCRIPTION, {"id": subscription_id})
    state: dict[str, Any] = data["webhookSubscription"]
    return state


async def deliveries(api: Api, subscription_id: str) -> list[dict[str, Any]]:
    """The subscription's delivery log (``webhookDeliveries``), oldest first."""
    data = await api.data(DELIVERIES, {"sub": subscription_id})
    return [edge["node"] for edge in data["webhookDeliveries"]["edges"]]
