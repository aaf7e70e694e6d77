"""docs/webhooks.md documents every event type with an example envelope; each example must
have the shape of what is really sent (issue 12 item 4): every change is made through the
API, delivered to a real receiver process, and each example compared with the bodies of its
type (the same keys, at every depth, with values of the same JSON types). Both engines."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from offerdesk.db import Database
from offerdesk.outbox.models import EventType

from ..api_helpers import bulk_document, create, make_date, make_event, make_offer
from ..helpers import Api
from .helpers import dispatch_until, receiver

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {"webhook_retry_base_seconds": 0.01}


def documented() -> dict[str, dict[str, Any]]:
    """The example envelope under each ``### TYPE`` heading."""
    found = re.findall(r"^### (\w+)\n.*?```json\n(.*?)```", DOC.read_text(), re.S | re.M)
    return {kind: json.loads(example) for kind, example in found}


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


SUBSCRIBE = """mutation ($input: CreateWebhookSubscriptionInput!) {
  createWebhookSubscription(webhookSubscription: $input) { webhookSubscription { id } } }"""


async def make_every_change(api: Api) -> None:
    offer = await make_offer(api)
    await api.data(
        'mutation ($id: UUID!) { updateOffer(id: $id, offer: {title: "New"}) { offer { id } } }',
        {"id": offer},
    )
    event = await make_event(api, offerId=offer, maxParticipants=1, waitingList=True)
    await api.data(
        'mutation ($id: UUID!) { updateOfferEvent(id: $id, offerEvent: {title: "New"}) '
        "{ offerEvent { id } } }",
        {"id": event},
    )
    date = await make_date(api, event)
    await api.data(
        "mutation ($id: UUID!) { updateOfferEventDate(id: $id, offerEventDate: "
        '{location: "Room 1"}) { offerEventDate { id } } }',
        {"id": date},
    )
    await api.data(bulk_document("deleteOfferEventDates"), {"ids": [date]})
    first = await create(api, "user", name="Ada Lovelace")
    second = await create(api, "user")
    enroll = """mutation ($u: UUID!, $e: UUID!) { enrollUserInOfferEvent(
      enrollment: {userId: $u, offerEventId: $e}) { enrollment { id } } }"""
    await api.data(enroll, {"u": first, "e": event})
    await api.data(enroll, {"u": second, "e": event})
    # The withdrawal promotes the second user.
    await api.data(
        "mutation ($u: UUID!, $e: UUID!) { unenrollUserFromOfferEvent(userId: $u, "
        "offerEventId: $e) { success } }",
        {"u": first, "e": event},
    )
    await api.data(
        'mutation ($id: UUID!) { updateUser(id: $id, user: {name: "New"}) { user { id } } }',
        {"id": first},
    )
    item = await create(api, "contentItem")
    await api.data(
        'mutation ($id: UUID!) { updateContentItem(id: $id, contentItem: {title: "New"}) '
        "{ contentItem { id } } }",
        {"id": item},
    )
    for mutation, target in (
        ("archiveOfferEvents", event),
        ("archiveOffers", offer),
        ("archiveUsers", first),
        ("archiveContentItems", item),
    ):
        await api.data(bulk_document(mutation), {"ids": [target]})


async def test_every_documented_example_has_the_shape_of_what_is_sent(
    api: Api, db: Database, app: Starlette, tmp_path: Path
) -> None:
    examples = documented()
    assert set(examples) == set(EventType)
    with receiver(tmp_path) as hook:
        await api.data(
            SUBSCRIBE, {"input": {"url": hook.url, "events": [kind.value for kind in EventType]}}
        )
        await make_every_change(api)

        def every_type_arrived() -> bool:
            return {json.loads(r["body"])["type"] for r in hook.requests()} == set(examples)

        await dispatch_until(db, app.state.settings, every_type_arrived)
        sent = [json.loads(request["body"]) for request in hook.requests()]
    for kind, example in examples.items():
        assert example["type"] == kind
        shapes = [shape(body) for body in sent if body["type"] == kind]
        assert shape(example) in shapes, (kind, shapes)
