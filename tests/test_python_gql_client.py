"""The Python ``gql`` client (graphql-python) against a real ``offerdesk serve`` process.

Issue 4, point 8: a client library an integrator would pick runs the reference pages' seed
operations and one enrollment, with variables, over real HTTP. The client fetches the schema
by introspection (on by default locally) and validates every document against it before
sending, so a schema the library cannot read, or a document the served schema refuses, fails
here too.
"""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import TransportError, TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from graphql import GraphQLSchema

from offerdesk.db import Database

from .concurrency.servers import servers
from .conftest import make_token

CREATE_OFFER = gql(
    """
    mutation CreateOffer($offer: CreateOfferInput!) {
      createOffer(offer: $offer) { offer { id title description isActive } }
    }"""
)
CREATE_CONTENT_ITEM = gql(
    """
    mutation CreateContentItem($contentItem: CreateContentItemInput!) {
      createContentItem(contentItem: $contentItem) { contentItem { id type title } }
    }"""
)
CREATE_OFFER_EVENT = gql(
    """
    mutation CreateOfferEvent($offerEvent: CreateOfferEventInput!) {
      createOfferEvent(offerEvent: $offerEvent) {
        offerEvent { id title offerId contentId contentType contentTitle maxParticipants }
      }
    }"""
)
CREATE_OFFER_EVENT_DATE = gql(
    """
    mutation CreateOfferEventDate($offerEventDate: CreateOfferEventDateInput!) {
      createOfferEventDate(offerEventDate: $offerEventDate) {
        offerEventDate { id offerEventId start end }
      }
    }"""
)
OFFER_EVENT = gql(
    """
    query OfferEvent($id: UUID!) {
      offerEvent(id: $id) { id dates { start end } contentTitle spotsAvailable }
    }"""
)
OFFER = gql(
    """
    query Offer($id: UUID!) {
      offer(id: $id) { offerEvents { id title } }
    }"""
)
UPDATE_OFFER_EVENT = gql(
    """
    mutation UpdateOfferEvent($id: UUID!, $offerEvent: UpdateOfferEventInput!) {
      updateOfferEvent(id: $id, offerEvent: $offerEvent) {
        offerEvent { id title maxParticipants spotsAvailable }
      }
    }"""
)
ARCHIVE_OFFER_EVENTS = gql(
    """
    mutation ArchiveOfferEvents($archive: Boolean!, $ids: [UUID!]!) {
      archiveOfferEvents(archive: $archive, ids: $ids) {
        response { succeededIds failedIds }
      }
    }"""
)
CREATE_USER = gql(
    """
    mutation CreateUser($user: CreateUserInput!) {
      createUser(user: $user) { user { id name email } }
    }"""
)
ENROLL = gql(
    """
    mutation Enroll($enrollment: EnrollUserInput!) {
      enrollUserInOfferEvent(enrollment: $enrollment) {
        enrollment { id userId offerEventId status }
      }
    }"""
)


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[str]:
    # One process per engine for the module; each test's rows are emptied by ``app``'s teardown.
    with servers(database_url, 1) as urls:
        yield urls[0]


def transport(server: str, token: str, **httpx_options: Any) -> HTTPXAsyncTransport:
    return HTTPXAsyncTransport(
        url=f"{server}/graphql",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        **httpx_options,
    )


@pytest.fixture
async def session(server: str, db: Database) -> AsyncIterator[Any]:
    client = Client(
        transport=transport(server, await make_token(db)), fetch_schema_from_transport=True
    )
    async with client as connected:
        yield connected


async def run(session: Any, request: GraphQLRequest, **variables: Any) -> dict[str, Any]:
    result: dict[str, Any] = await session.execute(
        GraphQLRequest(request, variable_values=variables)
    )
    return result


async def test_the_schema_is_fetched_by_introspection(session: Any) -> None:
    schema = session.client.schema
    assert isinstance(schema, GraphQLSchema)
    assert schema.query_type is not None
    assert "offerEvent" in schema.query_type.fields
    assert schema.mutation_type is not None
    assert "enrollUserInOfferEvent" in schema.mutation_type.fields
    assert {"UUID", "DateTime", "ContentType"} <= set(schema.type_map)


async def test_seed_operations_and_an_enrollment(session: Any) -> None:
    offer = (
        await run(
            session,
            CREATE_OFFER,
            offer={"title": "Project management", "description": "Plan and deliver"},
        )
    )["createOffer"]["offer"]
    assert offer["title"] == "Project management"
    assert offer["isActive"] is True

    content = (
        await run(session, CREATE_CONTENT_ITEM, contentItem={"type": "TRAINING", "title": "PM"})
    )["createContentItem"]["contentItem"]
    assert content["type"] == "TRAINING"

    event = (
        await run(
            session,
            CREATE_OFFER_EVENT,
            offerEvent={
                "offerId": offer["id"],
                "title": "Starting moment September",
                "contentId": content["id"],
                "contentType": "TRAINING",
                "maxParticipants": 20,
            },
        )
    )["createOfferEvent"]["offerEvent"]
    assert event == {
        "id": event["id"],
        "title": "Starting moment September",
        "offerId": offer["id"],
        "contentId": content["id"],
        "contentType": "TRAINING",
        "contentTitle": "PM",
        "maxParticipants": 20,
    }

    for start, end in [
        ("2025-10-01T09:00:00+02:00", "2025-10-01T12:00:00+02:00"),
        ("2025-09-12T09:00:00Z", "2025-09-12T17:00:00Z"),
    ]:
        date = (
            await run(
                session,
                CREATE_OFFER_EVENT_DATE,
                offerEventDate={"offerEventId": event["id"], "start": start, "end": end},
            )
        )["createOfferEventDate"]["offerEventDate"]
        assert date["offerEventId"] == event["id"]

    found = (await run(session, OFFER_EVENT, id=event["id"]))["offerEvent"]
    assert found == {
        "id": event["id"],
        # Sorted by start, answered in UTC with Z.
        "dates": [
            {"start": "2025-09-12T09:00:00Z", "end": "2025-09-12T17:00:00Z"},
            {"start": "2025-10-01T07:00:00Z", "end": "2025-10-01T10:00:00Z"},
        ],
        "contentTitle": "PM",
        "spotsAvailable": 20,
    }

    listed = (await run(session, OFFER, id=offer["id"]))["offer"]["offerEvents"]
    assert listed == [{"id": event["id"], "title": "Starting moment September"}]

    user = (await run(session, CREATE_USER, user={"name": "Ada", "email": "ada@example.com"}))[
        "createUser"
    ]["user"]
    enrollment = (
        await run(session, ENROLL, enrollment={"userId": user["id"], "offerEventId": event["id"]})
    )["enrollUserInOfferEvent"]["enrollment"]
    assert enrollment["status"] == "ENROLLED"
    assert enrollment["userId"] == user["id"]
    assert enrollment["offerEventId"] == event["id"]
    found = (await run(session, OFFER_EVENT, id=event["id"]))["offerEvent"]
    assert found["spotsAvailable"] == 19

    updated = (
        await run(
            session,
            UPDATE_OFFER_EVENT,
            id=event["id"],
            offerEvent={"title": "Starting moment October", "maxParticipants": 10},
        )
    )["updateOfferEvent"]["offerEvent"]
    assert updated == {
        "id": event["id"],
        "title": "Starting moment October",
        "maxParticipants": 10,
        "spotsAvailable": 9,
    }

    archived = (await run(session, ARCHIVE_OFFER_EVENTS, archive=True, ids=[event["id"]]))[
        "archiveOfferEvents"
    ]["response"]
    assert archived == {"succeededIds": [event["id"]], "failedIds": []}


async def test_a_refusal_comes_back_as_the_clients_query_error(session: Any) -> None:
    with pytest.raises(TransportQueryError) as refused:
        await run(session, CREATE_OFFER, offer={"title": "   "})
    assert refused.value.errors is not None
    assert refused.value.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert refused.value.errors[0]["extensions"]["field"] == "offer.title"


async def test_a_bad_token_is_a_401_and_the_clients_transport_error(server: str) -> None:
    """gql reads any JSON body with ``errors`` as a GraphQL answer whatever the status, so the
    refusal surfaces as TransportQueryError (a TransportError) carrying UNAUTHENTICATED; the
    status on the wire, seen through httpx's response hook, is 401."""
    statuses: list[int] = []

    async def record(response: httpx.Response) -> None:
        statuses.append(response.status_code)

    client = Client(transport=transport(server, "not-a-token", event_hooks={"response": [record]}))
    async with client as connected:
        with pytest.raises(TransportError) as refused:
            await run(connected, OFFER_EVENT, id="123e4567-e89b-12d3-a456-426614174000")
    assert statuses == [401]
    assert isinstance(refused.value, TransportQueryError)
    assert refused.value.errors is not None
    assert [error["extensions"]["code"] for error in refused.value.errors] == ["UNAUTHENTICATED"]
