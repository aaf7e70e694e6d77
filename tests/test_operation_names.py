"""Choosing the operation of a document (issue 13 item 10; GraphQL spec GetOperation()).

An unknown ``operationName`` and a document with several operations but no name are request
errors: nothing runs, the answer has no ``data``, and the status follows the
GraphQL-over-HTTP specification per media type (200 for application/json, 400 for
application/graphql-response+json), as for a document that does not validate.
"""

import pytest
from httpx import AsyncClient

from offerdesk.db import Database

from .helpers import snapshot

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
STATUS = {JSON: 200, GRAPHQL_RESPONSE: 400}
TWO_OPERATIONS = """
query ListOffers { offers { title } }
mutation AddOffer { createOffer(offer: {title: "Added"}) { offer { title } } }
"""


async def post(
    client: AsyncClient, token: str, accept: str, query: str, operation_name: str | None = None
) -> tuple[int, dict[str, object]]:
    body: dict[str, object] = {"query": query}
    if operation_name is not None:
        body["operationName"] = operation_name
    response = await client.post(
        "/graphql", json=body, headers={"Authorization": f"Bearer {token}", "Accept": accept}
    )
    assert response.headers["content-type"].startswith(accept)
    return response.status_code, response.json()


def only_error(body: dict[str, object]) -> dict[str, object]:
    assert "data" not in body, body
    errors = body["errors"]
    assert isinstance(errors, list)
    assert len(errors) == 1, errors
    error: dict[str, object] = errors[0]
    return error


@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
@pytest.mark.parametrize("query", ["query A { offers { id } }", TWO_OPERATIONS])
@pytest.mark.no_queries
async def test_unknown_operation_name_is_a_request_error_naming_it(
    client: AsyncClient, token: str, db: Database, accept: str, query: str
) -> None:
    before = await snapshot(db)
    status, body = await post(client, token, accept, query, "Nope")
    assert status == STATUS[accept]
    error = only_error(body)
    assert error["message"] == 'Unknown operation named "Nope".'
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert await snapshot(db) == before


@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
@pytest.mark.no_queries
async def test_several_operations_without_a_name_run_nothing(
    client: AsyncClient, token: str, db: Database, accept: str
) -> None:
    before = await snapshot(db)
    # The mutation second: running the first operation by default would hide the problem.
    for query in (TWO_OPERATIONS, "\n".join(reversed(TWO_OPERATIONS.strip().splitlines()))):
        status, body = await post(client, token, accept, query)
        assert status == STATUS[accept]
        error = only_error(body)
        assert "operation name" in str(error["message"])
        assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert await snapshot(db) == before


async def test_several_operations_over_get_without_a_name_are_refused_the_same(
    client: AsyncClient, token: str
) -> None:
    response = await client.get(
        "/graphql",
        params={"query": "query A { offers { id } } query B { offers { title } }"},
        headers={"Authorization": f"Bearer {token}", "Accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 400
    assert "operation name" in only_error(response.json())["message"]  # type: ignore[operator]


@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
async def test_the_named_operation_is_the_one_that_runs(
    client: AsyncClient, token: str, accept: str
) -> None:
    status, body = await post(client, token, accept, TWO_OPERATIONS, "AddOffer")
    assert (status, body) == (200, {"data": {"createOffer": {"offer": {"title": "Added"}}}})
    status, body = await post(client, token, accept, TWO_OPERATIONS, "ListOffers")
    assert (status, body) == (200, {"data": {"offers": [{"title": "Added"}]}})


@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
@pytest.mark.no_queries
async def test_a_document_without_an_operation_is_a_request_error(
    client: AsyncClient, token: str, accept: str
) -> None:
    status, body = await post(client, token, accept, "fragment F on Offer { id }")
    assert status == STATUS[accept]
    assert only_error(body)["message"] == "Must provide an operation."
