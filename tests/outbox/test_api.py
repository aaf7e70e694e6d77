"""The change feed on the wire (issue 12 item 5): ``changes(after, first, types)`` pages
every change oldest first; a reader going on from its last cursor gets the rest; types
filter; user events need users.read; bad cursors, sizes and type lists are BAD_USER_INPUT
naming the argument. Both engines."""

import asyncio
from typing import Any

from sqlalchemy import text

from offerdesk.auth.scopes import Scope
from offerdesk.db import Database

from ..api_helpers import make_event, make_offer
from ..conftest import make_token
from ..helpers import Api

CHANGES = """query ($after: String, $first: Int, $types: [WebhookEventType!]) {
  changes(after: $after, first: $first, types: $types) {
    edges { cursor node { id type objectId occurredAt data } }
    pageInfo { hasNextPage endCursor } } }"""

CREATE_USER = """mutation ($input: CreateUserInput!) { createUser(user: $input) { user { id } } }"""

ENROLL = """mutation ($input: EnrollUserInput!) {
  enrollUserInOfferEvent(enrollment: $input) { enrollment { id } } }"""


async def caught_up(api: Api, db: Database) -> None:
    """Wait until the feed hands out every stored event. On PostgreSQL an event waits until
    every older transaction of the server has ended, other databases' too (a shared server
    may be running one); SQLite hands them out at once."""
    async with db.read_session() as session:
        stored = int(await session.scalar(text("SELECT count(*) FROM outbox_events")) or 0)
    for _ in range(1200):
        seen, cursor = 0, None
        while True:
            page = await changes(api, first=100, after=cursor)
            seen += len(page["edges"])
            cursor = page["pageInfo"]["endCursor"]
            if not page["pageInfo"]["hasNextPage"]:
                break
        if seen >= stored:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the feed never handed out all {stored} events")


async def changes(api: Api, token: str | None = None, **variables: Any) -> dict[str, Any]:
    result = await api(CHANGES, variables, token=token)
    assert "errors" not in result, result["errors"]
    page: dict[str, Any] = result["data"]["changes"]
    return page


async def test_a_reader_pages_every_change_and_goes_on_from_its_cursor(
    api: Api, db: Database
) -> None:
    offers = [await make_offer(api) for _ in range(3)]
    await caught_up(api, db)
    first = await changes(api, first=2)
    assert [edge["node"]["objectId"] for edge in first["edges"]] == offers[:2]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await changes(api, after=first["pageInfo"]["endCursor"])
    assert [edge["node"]["objectId"] for edge in rest["edges"]] == offers[2:]
    assert rest["pageInfo"]["hasNextPage"] is False
    # Nothing new: an empty page, and no end cursor (the reader keeps its own).
    cursor = rest["pageInfo"]["endCursor"]
    empty = await changes(api, after=cursor)
    assert empty == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}
    later = await make_offer(api)
    await caught_up(api, db)
    news = await changes(api, after=cursor)
    assert [(e["node"]["type"], e["node"]["objectId"]) for e in news["edges"]] == [
        ("OFFER_CREATED", later)
    ]
    node = news["edges"][0]["node"]
    assert node["data"] == {"id": later}
    assert node["occurredAt"].endswith("Z")


async def test_types_choose_the_events(api: Api, db: Database) -> None:
    await make_offer(api)
    event = await make_event(api)
    await caught_up(api, db)
    page = await changes(api, types=["OFFER_EVENT_CREATED"])
    assert [edge["node"]["objectId"] for edge in page["edges"]] == [event]


async def test_enrollment_events_carry_the_reference_keys(api: Api, db: Database) -> None:
    event = await make_event(api, maxParticipants=5)
    user = (await api.data(CREATE_USER, {"input": {"name": "Ada", "email": "ada@example.com"}}))[
        "createUser"
    ]["user"]["id"]
    enrollment = (await api.data(ENROLL, {"input": {"userId": user, "offerEventId": event}}))[
        "enrollUserInOfferEvent"
    ]["enrollment"]["id"]
    await caught_up(api, db)
    page = await changes(api, types=["OFFER_EVENT_ENROLLED"])
    [node] = [edge["node"] for edge in page["edges"]]
    data = node["data"]
    assert node["objectId"] == data["id"] == enrollment
    assert data["event"] == "OFFER_EVENT_ENROLLED"
    assert (data["status"], data["previousStatus"], data["cause"]) == ("ENROLLED", None, "ENROLL")
    assert (data["userId"], data["offerEventId"]) == (user, event)
    assert data["user"] == {
        "id": user,
        "ref": None,
        "name": "Ada",
        "email": "ada@example.com",
        "isActive": True,
    }
    assert data["offer_event"]["id"] == event
    assert data["offer_event"]["max_subscriptions"] == 5
    assert data["offer_event"]["cancelled"] is False
    # The reference's form: milliseconds and Z.
    assert data["sentDate"] == node["occurredAt"][:23] + "Z"
    assert data["waitlistPosition"] is None


async def test_user_events_need_users_read(api: Api, db: Database) -> None:
    await api.data(CREATE_USER, {"input": {"name": "Bo", "email": "bo@example.com"}})
    offer = await make_offer(api)
    await caught_up(api, db)
    token = await make_token(db, frozenset({Scope.EVENTS_READ}))
    page = await changes(api, token=token)
    assert [edge["node"]["objectId"] for edge in page["edges"]] == [offer]
    # Nor is a user shown inside an enrollment event without users.read.
    event = await make_event(api)
    user = (await api.data(CREATE_USER, {"input": {"name": "Cy", "email": "cy@example.com"}}))[
        "createUser"
    ]["user"]["id"]
    await api.data(ENROLL, {"input": {"userId": user, "offerEventId": event}})
    await caught_up(api, db)
    enrolled = await changes(api, token=token, types=["OFFER_EVENT_ENROLLED"])
    [data] = [edge["node"]["data"] for edge in enrolled["edges"]]
    assert data["user"] is None
    assert data["userId"] == user
    full = await changes(api, types=["OFFER_EVENT_ENROLLED"])
    assert full["edges"][0]["node"]["data"]["user"]["name"] == "Cy"
    refused = await api(CHANGES, {"types": ["USER_CREATED"]}, token=token)
    [error] = refused["errors"]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("FORBIDDEN", "types")
    everything = await changes(api, first=2)
    assert [edge["node"]["type"] for edge in everything["edges"]] == [
        "USER_CREATED",
        "OFFER_CREATED",
    ]


async def test_bad_arguments_name_the_argument(api: Api) -> None:
    for variables, field in (
        ({"after": "not a cursor"}, "after"),
        ({"first": 101}, "first"),
        ({"first": 0}, "first"),
        ({"types": []}, "types"),
    ):
        error = await api.error(CHANGES, variables)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (variables, error)
        assert error["extensions"]["field"] == field, (variables, error)
    unknown = await api.error(CHANGES, {"types": ["NO_SUCH_EVENT"]})
    assert unknown["extensions"]["code"] == "BAD_USER_INPUT", unknown
