"""Webhook delivery (issue 12 items 3 and 7) with real parts: a receiver process on
127.0.0.1, real HTTP, the real database; the dispatcher is run round by round in the test.
Signatures are checked with the ``standardwebhooks`` library. Both engines."""

from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette

from offerdesk.db import Database

from ..api_helpers import create, make_offer
from ..helpers import Api
from .helpers import dispatch_rounds, dispatch_until, receiver

CREATE = """mutation ($input: CreateWebhookSubscriptionInput!) {
  createWebhookSubscription(webhookSubscription: $input) {
    webhookSubscription { id secret isActive } } }"""

SUBSCRIPTION = """query ($id: UUID!) {
  webhookSubscription(id: $id) { id isActive disabledReason secret } }"""

DELIVERIES = """query ($sub: UUID) {
  webhookDeliveries(subscriptionId: $sub) { edges { node {
    id eventId eventType objectId status attemptCount lastStatusCode lastError latencyMs
    nextAttemptAt responseBodyExcerpt } } } }"""

ROTATE = """mutation ($id: UUID!) {
  rotateWebhookSecret(id: $id) { webhookSubscription { secret } } }"""

REDELIVER = """mutation ($id: UUID!) {
  redeliverWebhookDelivery(id: $id) { webhookDelivery { status } } }"""

ENROLL_MANY = """mutation ($event: UUID!, $users: [UUID!]) {
  createOfferEventEnrollments(offerEventId: $event, userIds: $users) { id } }"""


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    # Retries after a hundredth of a second, attempts cut off after 2 s (ample for a
    # receiver on this machine even when it is busy): the schedule's shape, fast.
    return {"webhook_retry_base_seconds": 0.01, "webhook_timeout_seconds": 2}


async def subscribe(api: Api, url: str, events: list[str] | None = None) -> dict[str, Any]:
    data = await api.data(CREATE, {"input": {"url": url, "events": events or ["OFFER_CREATED"]}})
    subscription: dict[str, Any] = data["createWebhookSubscription"]["webhookSubscription"]
    return subscription


async def deliveries(api: Api, subscription_id: str) -> list[dict[str, Any]]:
    data = await api.data(DELIVERIES, {"sub": subscription_id})
    return [edge["node"] for edge in data["webhookDeliveries"]["edges"]]


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
    again = await api.data(SUBSCRIPTION, {"id": subscription["id"]})
    assert again["webhookSubscription"]["secret"] is None


async def test_500_three_times_then_200_is_four_attempts(
    api: Api, db: Database, app: Starlette, tmp_path: Path
) -> None:
    with receiver(tmp_path, "500,500,500,200") as hook:
        subscription = await subscribe(api, hook.url)
        await make_offer(api)
        await dispatch_until(db, app.state.settings, lambda: len(hook.requests()) == 4)
        await dispatch_rounds(db, app.state.settings, 3)
        received = hook.requests()
    assert len(received) == 4
    # The same event every time: the same id, and each attempt verifies.
    assert len({request["headers"]["webhook-id"] for request in received}) == 1
    for request in received:
        Webhook(subscription["secret"]).verify(request["body"], request["headers"])
    [delivery] = await deliveries(api, subscription["id"])
    assert (delivery["status"], delivery["attemptCount"], delivery["lastStatusCode"]) == (
        "SUCCEEDED",
        4,
        200,
    )


async def test_410_gone_disables_the_subscription(
    api: Api, db: Database, app: Starlette, tmp_path: Path
) -> None:
    with receiver(tmp_path, "410") as hook:
        subscription = await subscribe(api, hook.url)
        await make_offer(api)
        await dispatch_until(db, app.state.settings, lambda: len(hook.requests()) == 1)
        await dispatch_rounds(db, app.state.settings, 2)
        # Later changes are not sent to a disabled subscription.
        await make_offer(api)
        await dispatch_rounds(db, app.state.settings, 5)
        assert len(hook.requests()) == 1
    state = (await api.data(SUBSCRIPTION, {"id": subscription["id"]}))["webhookSubscription"]
    assert state["isActive"] is False
    assert "410" in state["disabledReason"]
    [delivery] = await deliveries(api, subscription["id"])
    assert (delivery["status"], delivery["lastStatusCode"]) == ("FAILED", 410)


async def test_a_hanging_receiver_is_timed_out_and_retried(
    api: Api, db: Database, app: Starlette, tmp_path: Path
) -> None:
    with receiver(tmp_path, "hang,200") as hook:
        subscription = await subscribe(api, hook.url)
        await make_offer(api)

        def delivered() -> bool:
            return len(hook.requests()) == 2

        await dispatch_until(db, app.state.settings, delivered)
        await dispatch_rounds(db, app.state.settings, 3)
    [delivery] = await deliveries(api, subscription["id"])
    assert (delivery["status"], delivery["attemptCount"]) == ("SUCCEEDED", 2)


async def test_a_hanging_receiver_leaves_its_error_in_the_log(
    api: Api, db: Database, app: Starlette, tmp_path: Path
) -> None:
    with receiver(tmp_path, "hang") as hook:
        subscription = await subscribe(api, hook.url)
        await make_offer(api)
        await dispatch_until(db, app.state.settings, lambda: len(hook.requests()) == 1)
        await dispatch_rounds(db, app.state.settings, 1)
        [delivery] = await deliveries(api, subscription["id"])
    assert delivery["status"] == "PENDING"
    assert delivery["lastError"] == "timed out"
    assert delivery["nextAttemptAt"] is not None


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
