"""Nothing lost, with real processes (issue 12 item 7): ``offerdesk serve`` processes with
their dispatchers, a receiver process on 127.0.0.1. PostgreSQL: two server processes share
the work and the deliveries; SQLite: one. Signatures verified with ``standardwebhooks``.

The retry, 410 and timeout tests are end to end: the change is a mutation sent over HTTP to
a server, that server's own dispatcher (or its sibling's) delivers, and what was delivered
is read back from the receiver and from the delivery log through the GraphQL API."""

import asyncio
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from offerdesk.db import Database
from offerdesk.outbox.models import EventType, OutboxEvent
from offerdesk.webhooks import service as webhooks
from offerdesk.webhooks.models import WebhookDelivery

from ..api_helpers import make_offer
from ..concurrency.servers import server_processes, servers, storm
from ..conftest import make_token
from ..helpers import Api
from ..test_enrollments import make_event, make_users
from .helpers import deliveries, receiver, serving, subscribe, subscription_state, wait_for

ENROLL = """mutation($userId: UUID!, $eventId: UUID!) {
  enrollUserInOfferEvent(enrollment: {userId: $userId, offerEventId: $eventId}) {
    enrollment { id } } }"""
UNENROLL = """mutation($userId: UUID!, $eventId: UUID!) {
  unenrollUserFromOfferEvent(userId: $userId, offerEventId: $eventId) { success } }"""
ENROLLMENT_EVENTS = [
    EventType.OFFER_EVENT_ENROLLED,
    EventType.OFFER_EVENT_ENROLLMENT_STATUS_UPDATED,
    EventType.OFFER_EVENT_UNENROLLED,
]
# Dispatchers that look for work five times a second. The storm's attempts may take 10 s
# (a busy machine's receiver answering late would be retried: a second delivery, rightly);
# the crash test's hanging attempt is given up after 2 s.
STORM_SETTINGS = {
    "OFFERDESK_WEBHOOK_POLL_SECONDS": "0.2",
    "OFFERDESK_WEBHOOK_TIMEOUT_SECONDS": "10",
}
SETTINGS = {"OFFERDESK_WEBHOOK_POLL_SECONDS": "0.2", "OFFERDESK_WEBHOOK_TIMEOUT_SECONDS": "2"}
# The retry tests' servers: a failed attempt is retried after a hundredth of a second
# (doubling: the schedule's shape, fast) and an idle dispatcher looks for work ten times a
# second. Attempts keep the default 10 s limit: a busy machine's receiver answering late must
# not be taken for a failure the test did not plan.
RETRY_SETTINGS = {
    "OFFERDESK_WEBHOOK_RETRY_BASE_SECONDS": "0.01",
    "OFFERDESK_WEBHOOK_POLL_SECONDS": "0.1",
}
# The hanging receiver's: an attempt is given up after 3 s, ample for the receiver's
# answers that do come.
HANG_SETTINGS = {**RETRY_SETTINGS, "OFFERDESK_WEBHOOK_TIMEOUT_SECONDS": "3"}


async def subscribe_to_enrollments(db: Database, url: str) -> tuple[Any, str]:
    policy = webhooks.UrlPolicy(allow_http=True, allow_private=True)
    async with db.transaction() as session:
        created = await webhooks.create(session, {"url": url, "events": ENROLLMENT_EVENTS}, policy)
        return created.id, created.secret


async def enrollment_event_ids(db: Database) -> list[str]:
    async with db.read_session() as session:
        ids = await session.scalars(
            select(OutboxEvent.id).where(OutboxEvent.type.in_(ENROLLMENT_EVENTS))
        )
        return [str(id_) for id_ in ids]


async def test_a_storm_over_the_servers_delivers_each_event_exactly_once(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    event = await make_event(db, capacity=10, waiting_list=True)
    users = await make_users(db, 60)
    token = await make_token(db)
    count = 2 if db.dialect == "postgresql" else 1
    with receiver(tmp_path) as hook:
        _, secret = await subscribe_to_enrollments(db, hook.url)
        with servers(database_url, count, STORM_SETTINGS) as urls:
            bodies = [
                {"query": ENROLL, "variables": {"userId": u, "eventId": event}} for u in users
            ]
            answers, _ = await storm(urls, token, bodies)
            assert [a for a in answers if "errors" in a] == []
            # Withdrawals promote from the waiting list: more events, in other transactions.
            leaving = [
                {"query": UNENROLL, "variables": {"userId": u, "eventId": event}}
                for u in users[:15]
            ]
            answers, _ = await storm(urls, token, leaving)
            assert [a for a in answers if "errors" in a] == []
            expected = await enrollment_event_ids(db)

            async def all_received() -> bool:
                return len(hook.requests()) >= len(expected)

            await wait_for(all_received, "every event delivered")
            # A few more dispatcher rounds: a second delivery of anything would show now.
            await asyncio.sleep(1)
            got = hook.verified_ids(secret)
    # 60 enrollments, 15 withdrawals, and the promotions they made.
    assert len(expected) >= 75
    assert sorted(got) == sorted(expected)
    assert len(got) == len(set(got))
    types = {json.loads(r["body"])["type"] for r in hook.requests()}
    assert types == set(ENROLLMENT_EVENTS)


async def test_a_server_killed_mid_delivery_delivers_after_restart(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    event = await make_event(db, capacity=10, waiting_list=True)
    [user] = await make_users(db, 1)
    token = await make_token(db)
    # The first attempt hangs: the server is killed while it holds the claimed delivery.
    with receiver(tmp_path, "hang,200") as hook:
        _, secret = await subscribe_to_enrollments(db, hook.url)
        with server_processes(database_url, 1, SETTINGS) as [(url, process)]:
            body = {"query": ENROLL, "variables": {"userId": user, "eventId": event}}
            answers, _ = await storm([url], token, [body])
            assert "errors" not in answers[0], answers[0]

            async def attempted() -> bool:
                return len(hook.requests()) == 1

            await wait_for(attempted, "the first attempt")
            process.kill()
            process.wait()
        async with db.read_session() as session:
            [delivery] = (await session.scalars(select(WebhookDelivery))).all()
        # Committed and claimed, never finished.
        assert delivery.status == "PENDING"
        assert delivery.attempts >= 1
        with servers(database_url, 1, SETTINGS):

            async def succeeded() -> bool:
                async with db.read_session() as session:
                    found = await session.get(WebhookDelivery, delivery.id, populate_existing=True)
                    return found is not None and found.status == "SUCCEEDED"

            await wait_for(succeeded, "the restarted server's delivery")
        got = hook.verified_ids(secret)
    # At-least-once after a crash: the event again, under the same id.
    assert len(got) >= 2
    assert set(got) == {str(delivery.event_id)}


async def finished_delivery(api: Api, subscription_id: str) -> dict[str, Any]:
    """The subscription's one delivery, through the API, once it is no longer PENDING: it
    SUCCEEDED or FAILED, and no attempt follows."""
    found: list[dict[str, Any]] = []

    async def finished() -> bool:
        found[:] = await deliveries(api, subscription_id)
        return bool(found) and found[0]["status"] != "PENDING"

    await wait_for(finished, "the delivery finished")
    [delivery] = found
    return delivery


async def deliver_one_change(
    db: Database, database_url: str, tmp_path: Path, plan: str, settings: dict[str, str]
) -> tuple[list[str], dict[str, Any]]:
    """Servers run with ``settings``, a receiver answering by ``plan`` subscribed through one
    of them, an offer created through it; once the delivery of that change has finished: the
    ``webhook-id`` of each request the receiver got (signatures verified), and the delivery
    as the log read through the API shows it."""
    token = await make_token(db)
    with receiver(tmp_path, plan) as hook:
        async with serving(database_url, token, settings) as apis:
            # Changes go to the first server and the log is read from the last: on
            # PostgreSQL two processes, either of which may have made any of the attempts.
            subscription = await subscribe(apis[0], hook.url)
            await make_offer(apis[0])
            delivery = await finished_delivery(apis[-1], subscription["id"])
        # The receiver logs a request before answering it: the last attempt's is in.
        return hook.verified_ids(subscription["secret"]), delivery


async def test_500_three_times_then_200_is_four_attempts_by_the_servers(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    """A receiver answering 500 three times, then 200, gets four attempts from the servers'
    dispatchers: the same event each time (one ``webhook-id``), each signed; the delivery log
    read through the API says SUCCEEDED after four attempts, the last answered 200."""
    ids, delivery = await deliver_one_change(
        db, database_url, tmp_path, "500,500,500,200", RETRY_SETTINGS
    )
    assert ids == [delivery["eventId"]] * 4
    assert (delivery["status"], delivery["attemptCount"]) == ("SUCCEEDED", 4)
    assert (delivery["lastStatusCode"], delivery["lastError"]) == (200, None)


async def test_410_gone_disables_the_subscription_in_the_servers(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    """A receiver answering 410 Gone gets one attempt: the delivery log says FAILED with the
    410, the subscription is no longer active and says why, and a later change is not sent
    to it (a second subscription, to a receiver answering 200, gets that change: it was
    fanned out, past the disabled one)."""
    token = await make_token(db)
    with receiver(tmp_path, "410") as gone, receiver(tmp_path) as witness:
        async with serving(database_url, token, RETRY_SETTINGS) as apis:
            subscription = await subscribe(apis[0], gone.url)
            await subscribe(apis[0], witness.url)
            await make_offer(apis[0])
            delivery = await finished_delivery(apis[-1], subscription["id"])
            # The outcome and the disabling commit together: both show once either does.
            state = await subscription_state(apis[-1], subscription["id"])
            later = await make_offer(apis[0])

            async def witnessed() -> bool:
                sent = [json.loads(request["body"]) for request in witness.requests()]
                return any(envelope["data"] == {"id": later} for envelope in sent)

            # The later change is turned into deliveries after the disabling committed (it
            # was made after): once the witness has it, whatever it would send is sent.
            await wait_for(witnessed, "the later change delivered to the other subscription")
            log_after = await deliveries(apis[-1], subscription["id"])
        ids = gone.verified_ids(subscription["secret"])
    assert ids == [delivery["eventId"]]
    assert (delivery["status"], delivery["attemptCount"]) == ("FAILED", 1)
    assert (delivery["lastStatusCode"], delivery["lastError"]) == (410, None)
    assert delivery["nextAttemptAt"] is None
    assert state["isActive"] is False
    assert "410" in state["disabledReason"]
    # Nothing more in the disabled subscription's log: no delivery of the later change.
    assert log_after == [delivery]


async def test_a_hanging_receiver_is_timed_out_and_retried_by_the_servers(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    """A receiver that never answers the first attempt: the servers' dispatcher gives that
    attempt up at the timeout (nothing else ends it) and tries again; the receiver answers
    the second 200. It got the same signed event twice; the log read through the API says
    SUCCEEDED after two attempts, the last answered 200."""
    ids, delivery = await deliver_one_change(db, database_url, tmp_path, "hang,200", HANG_SETTINGS)
    assert ids == [delivery["eventId"]] * 2
    assert (delivery["status"], delivery["attemptCount"]) == ("SUCCEEDED", 2)
    assert (delivery["lastStatusCode"], delivery["lastError"]) == (200, None)


async def test_a_hanging_receivers_timeouts_are_logged_and_retried_by_the_servers(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    """A receiver that never answers: the delivery log read through the API names the
    attempt's end "timed out" (no status code) and keeps the delivery PENDING with a next
    attempt scheduled, and the attempts go on: the receiver gets the same signed event
    again."""
    token = await make_token(db)
    async with serving(database_url, token, HANG_SETTINGS) as apis:
        # The receiver inside the servers: it stops first, which breaks the attempt hanging
        # on it at once, instead of the servers' shutdown waiting out its timeout.
        with receiver(tmp_path, "hang") as hook:
            subscription = await subscribe(apis[0], hook.url)
            await make_offer(apis[0])

            async def retried() -> bool:
                return len(hook.requests()) >= 2

            # A second request means the first attempt was given up and its outcome
            # recorded: until then its claim's lease keeps the delivery from every
            # dispatcher, so the log read now has it.
            await wait_for(retried, "a timed-out attempt retried")
            [delivery] = await deliveries(apis[-1], subscription["id"])
            ids = hook.verified_ids(subscription["secret"])
    assert len(ids) >= 2
    assert set(ids) == {delivery["eventId"]}
    assert (delivery["status"], delivery["lastStatusCode"]) == ("PENDING", None)
    assert delivery["lastError"] == "timed out"
    assert delivery["attemptCount"] >= 2
    assert delivery["nextAttemptAt"] is not None
