"""Shared helpers of the API (wire) tests: GraphQL documents, the smallest valid input of each
entity kind, makers that create rows through the API, and ``refused``, which checks a refusal's
``extensions.code`` and ``extensions.field`` and that the database is left exactly as it was."""

import json
import uuid
from typing import Any

from offerdesk.db import Database

from .helpers import Api, snapshot

START = "2025-09-12T09:00:00Z"


END = "2025-09-12T12:00:00Z"


# The four entity kinds that have a title (or name) and a ref, by their input argument name.
KINDS = ("offer", "offerEvent", "contentItem", "user")


TITLE_FIELD = {"offer": "title", "offerEvent": "title", "contentItem": "title", "user": "name"}


INPUT_TYPE = {
    "offer": "Offer",
    "offerEvent": "OfferEvent",
    "contentItem": "ContentItem",
    "user": "User",
}


CREATE_EVENT = """mutation ($input: CreateOfferEventInput!) {
    createOfferEvent(offerEvent: $input) { offerEvent { id contentId contentType } } }"""


UPDATE_EVENT = """mutation ($id: UUID!, $input: UpdateOfferEventInput!) {
    updateOfferEvent(id: $id, offerEvent: $input) {
      offerEvent { id title maxParticipants minParticipants } } }"""


CREATE_DATE = """mutation ($input: CreateOfferEventDateInput!) {
    createOfferEventDate(offerEventDate: $input) { offerEventDate { id } } }"""


UPDATE_DATE = """mutation ($id: UUID!, $input: UpdateOfferEventDateInput!) {
    updateOfferEventDate(id: $id, offerEventDate: $input) { offerEventDate { id start end } } }"""


def literal(value: Any) -> str:
    """A Python value as a GraphQL literal (strings are escaped as in JSON, which GraphQL reads)."""
    return json.dumps(value)


def create_document(kind: str) -> str:
    name = INPUT_TYPE[kind]
    return "mutation ($input: Create%sInput!) { create%s(%s: $input) { %s { id } } }" % (
        name,
        name,
        kind,
        kind,
    )


def update_document(kind: str) -> str:
    name = INPUT_TYPE[kind]
    return (
        "mutation ($id: UUID!, $input: Update%sInput!) { update%s(id: $id, %s: $input) "
        "{ %s { id } } }" % (name, name, kind, kind)
    )


async def refused(
    api: Api,
    db: Database,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    code: str,
    field: str,
) -> dict[str, Any]:
    """The one error of a call that must fail with ``code`` on ``field`` and change nothing."""
    before = await snapshot(db)
    error = await api.error(query, variables)
    assert error["extensions"].get("code") == code, error
    assert error["extensions"].get("field") == field, error
    assert await snapshot(db) == before
    return error


async def make_offer(api: Api, **fields: Any) -> str:
    return await create(api, "offer", **fields)


async def make_content(api: Api, type_: str = "TRAINING", **fields: Any) -> str:
    return await create(api, "contentItem", type=type_, **fields)


async def make_event(api: Api, **fields: Any) -> str:
    return await create(api, "offerEvent", **fields)


async def make_date(api: Api, event_id: str, start: str = START, end: str = END) -> str:
    data = await api.data(
        CREATE_DATE, {"input": {"offerEventId": event_id, "start": start, "end": end}}
    )
    return str(data["createOfferEventDate"]["offerEventDate"]["id"])


async def valid_input(api: Api, kind: str) -> dict[str, Any]:
    """The smallest valid create input of each kind (an offer event gets a new offer)."""
    tag = uuid.uuid4().hex[:8]
    if kind == "offer":
        return {"title": f"Offer {tag}"}
    if kind == "offerEvent":
        return {"offerId": await make_offer(api), "title": f"Event {tag}"}
    if kind == "contentItem":
        return {"type": "TRAINING", "title": f"Content {tag}"}
    return {"name": f"User {tag}", "email": f"user-{tag}@example.com"}


async def create(api: Api, kind: str, **fields: Any) -> str:
    data = await api.data(
        create_document(kind), {"input": {**await valid_input(api, kind), **fields}}
    )
    return str(data[f"create{INPUT_TYPE[kind]}"][kind]["id"])


BULK = {
    "archiveOffers": "archive: true, ",
    "archiveOfferEvents": "archive: true, ",
    "deleteOfferEventDates": "",
    "archiveContentItems": "archive: true, ",
    "archiveUsers": "archive: true, ",
}


def bulk_document(mutation: str) -> str:
    return (
        "mutation ($ids: [UUID!]!) { %s(%sids: $ids) { response { succeededIds failedIds } } }"
        % (
            mutation,
            BULK[mutation],
        )
    )


async def bulk_target(api: Api, mutation: str) -> str:
    """A real id of what ``mutation`` acts on."""
    if mutation == "archiveOffers":
        return await make_offer(api)
    if mutation == "archiveOfferEvents":
        return await make_event(api)
    if mutation == "deleteOfferEventDates":
        return await make_date(api, await make_event(api))
    if mutation == "archiveContentItems":
        return await make_content(api)
    return await create(api, "user")
