"""Webhook delivery (issue 12 items 3 and 7) with real parts: a receiver process on
127.0.0.1, real HTTP, the real database; the dispatcher is run round by round in the test, so
each round's effect can be looked at. Signatures are checked with the ``standardwebhooks``
library. Both engines. The retries, 410 and timeouts are proven end to end, with ``offerdesk
serve`` processes doing the delivering, in test_processes.py."""

from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette

from offerdesk.db import Database

from ..api_helpers import create, make_offer
from ..helpers import Api
from .helpers import (
    deliveries,
    dispatch_rounds,
    dispatch_until,
    receiver,
    subscribe,
    subscription_state,
)

ROTATE = """mutation ($id: UUID!) {
  rotateWebhookSecret(id: $id) { webhookSubscription { secret } } }"""

REDELIVER = """mutation ($id: UUID!) {
  redeliverWebhookDelivery(id: $id) { webhookDelivery { status } } }"""

ENROLL_MANY = """mutation ($event: UUID!, $users: [UUID!]) {
  createOfferEventEnrollments(offerEventId: $event, userIds: $users) { id } }"""


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    # Retries after a hundredth of a second: the schedule's shape, fast.
    return {"webhook_retry_base_seconds": 0.01}


async def test_a_change_is_delivered_signed_per_standard_webhooks(
    api: Api, db: Database, app: Starlette, tmp_path: Path
) -> None:
    with receiver(tmp_path) as hook:
        subscription = await subscribe(api, hook.url)
        assert subscription["secret"].startswith("whsec_")
        offer = await make_offer(api)
        await dispatch_until(db, app.state.settings, lambda: len(hook.requests()) == 1)
        [request] = hook.requests()
    envelope = Webhook(subscription["secret"]).verify(request["body"], request["headers"])
    assert envelope["type"] == "OFFER_CREATED"
    assert envelope["data"] == {"id": offer}
    assert envelope["id"] == request["headers"]["webhook-id"]
    assert request["headers"]["content-type"] == "application/json"
    [delivery] = await deliveries(api, subscription["id"])
    assert delivery["eventId"] == envelope["id"]
    assert (delivery["status"], delivery["attemptCount"], delivery["lastStatusCode"]) == (
        "SUCCEEDED",
        1,
        200,
    )
    assert delivery["objectId"] == offer
    # The receiver answered 3 KB; the log keeps 1 KB.
    assert delivery["responseBodyExcerpt"].startswith("answer 200 ")
    assert len(delivery["responseBodyExcerpt"].encode()) == 1024
    # The secret is shown once.
    assert (await subscription_state(api, subscription["id"]))["secret"] is None


async def test_each_failed_attempt_is_logged_before_it_is_retried(
    api: Api, db: Database, app: Starlette, tmp_path: Path
) -> None:
    """The log between attempts, which only a dispatcher stepped round by round shows
    reliably: after each of a receiver's three 500s the delivery is still PENDING, with the
    attempt counted, the 500 and its answer kept and the next attempt scheduled; the fourth
    attempt's 200 makes it SUCCEEDED with nothing left to do."""
    with receiver(tmp_path, "500,500,500,200") as hook:
        subscription = await subscribe(api, hook.url)
        await make_offer(api)
        answers = [("PENDING", 500)] * 3 + [("SUCCEEDED", 200)]
        for attempt, (status, code) in enumerate(answers, start=1):

            def sent(count: int = attempt) -> bool:
                return len(hook.requests()) == count

            # A round sends a delivery at most once and records the outcome before it ends:
            # the round that made the receiver's count ``attempt`` has logged that attempt.
            await dispatch_until(db, app.state.settings, sent)
            [delivery] = await deliveries(api, subscription["id"])
            assert (delivery["status"], delivery["attemptCount"]) == (status, attempt)
            assert (delivery["lastStatusCode"], delivery["lastError"]) == (code, None)
            assert delivery["responseBodyExcerpt"].startswith(f"answer {code} ")
            # Scheduled while PENDING; nothing left to schedule once SUCCEEDED.
            assert (delivery["nextAttemptAt"] is None) == (status == "SUCCEEDED")


async def test_a_rolled_back_mutation_delivers_nothing(
    api: Api, db: Database, app: Starlette, tmp_path: Path
) -> None:
    event = await create(api, "offerEvent")
    user = await create(api, "user")
    with receiver(tmp_path) as hook:
        await subscribe(api, hook.url, ["OFFER_EVENT_ENROLLED"])
        # One unknown user refuses the whole call: the event of the user it had enrolled
        # first is rolled back with it.
        unknown = "00000000-0000-4000-8000-000000000000"
        refused = await api(ENROLL_MANY, {"event": event, "users": [user, unknown]})
        assert refused["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        await api.data(ENROLL_MANY, {"event": event, "users": [user]})
        await dispatch_until(db, app.state.settings, lambda: len(hook.requests()) == 1)
        await dispatch_rounds(db, app.state.settings, 5)
        received = hook.requests()
    # Only the committed enrollment was sent.
    assert len(received) == 1


async def test_a_rotated_secret_signs_beside_the_old_one(
    api: Api, db: Database, app: Starlette, tmp_path: Path
) -> None:
    with receiver(tmp_path) as hook:
        subscription = await subscribe(api, hook.url)
        rotated = await api.data(ROTATE, {"id": subscription["id"]})
        new_secret = rotated["rotateWebhookSecret"]["webhookSubscription"]["secret"]
        assert new_secret.startswith("whsec_")
        assert new_secret != subscription["secret"]
        await make_offer(api)
        await dispatch_until(db, app.state.settings, lambda: len(hook.requests()) == 1)
        [request] = hook.requests()
    for secret in (subscription["secret"], new_secret):
        Webhook(secret).verify(request["body"], request["headers"])


async def test_redelivery_sends_the_same_event_again(
    api: Api, db: Database, app: Starlette, tmp_path: Path
) -> None:
    with receiver(tmp_path) as hook:
        subscription = await subscribe(api, hook.url)
        await make_offer(api)
        await dispatch_until(db, app.state.settings, lambda: len(hook.requests()) == 1)
        [delivery] = await deliveries(api, subscription["id"])
        again = await api.data(REDELIVER, {"id": delivery["id"]})
        assert again["redeliverWebhookDelivery"]["webhookDelivery"]["status"] == "PENDING"
        await dispatch_until(db, app.state.settings, lambda: len(hook.requests()) == 2)
        first, second = hook.requests()
    assert first["body"] == second["body"]
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    [delivery] = await deliveries(api, subscription["id"])
    assert (delivery["status"], delivery["attemptCount"]) == ("SUCCEEDED", 2)


async def test_a_redirect_is_not_followed(
    api: Api, db: Database, app: Starlette, tmp_path: Path
) -> None:
    with receiver(tmp_path, "302,200") as hook:
        subscription = await subscribe(api, hook.url)
        await make_offer(api)
        await dispatch_until(db, app.state.settings, lambda: len(hook.requests()) == 2)
        received = hook.requests()
    # The 302 was an unsuccessful attempt, retried at the same URL; its Location (none
    # here) was never asked for.
    assert [request["path"] for request in received] == ["/hook", "/hook"]
    [delivery] = await deliveries(api, subscription["id"])
    assert (delivery["status"], delivery["attemptCount"]) == ("SUCCEEDED", 2)
