"""Test helpers: a GraphQL caller over real HTTP (ASGI), database snapshots, SQL counting."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from bench.scenarios import statements_sent
from graphql import GraphQLError, OperationType, get_operation_ast, parse
from httpx import AsyncClient, Request, Response
from sqlalchemy import select

from offerdesk.db import Base, Database


class Api:
    """Sends GraphQL documents exactly as a client would: POST /graphql with a bearer token."""

    def __init__(self, client: AsyncClient, token: str) -> None:
        self.client = client
        self.token = token

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> Response:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return await self.client.post(
            "/graphql", json=body, headers={"Authorization": f"Bearer {token or self.token}"}
        )

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        response = await self.post(query, variables, token)
        result: dict[str, Any] = response.json()
        return result

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of a call that must succeed."""
        result = await self(query, variables)
        assert "errors" not in result, result.get("errors")
        data: dict[str, Any] = result["data"]
        return data

    async def error(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The one error of a call that must fail."""
        result = await self(query, variables)
        assert result.get("errors"), result
        assert len(result["errors"]) == 1, result["errors"]
        error: dict[str, Any] = result["errors"][0]
        return error


async def query_document(request: Request) -> str | None:
    """The GraphQL document of a request that sends a query operation to /graphql (GET or
    POST), else None: mutations, documents that do not parse or name no operation to run,
    and every other route."""
    if request.url.path.rstrip("/") != "/graphql":
        return None
    if request.method == "GET":
        params: Any = dict(request.url.params)
    else:
        try:
            params = orjson.loads(await request.aread())
        except orjson.JSONDecodeError:
            return None
    if not isinstance(params, dict):
        return None
    document, name = params.get("query"), params.get("operationName")
    if not isinstance(document, str) or not isinstance(name, str | None):
        return None
    try:
        operation = get_operation_ast(parse(document), name)
    except GraphQLError:
        return None
    if operation is None or operation.operation is not OperationType.QUERY:
        return None
    return document


async def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order: equal snapshots mean nothing changed."""
    state = {}
    async with db.read_session() as session:
        for table in Base.metadata.sorted_tables:
            rows = await session.execute(select(table).order_by(*table.primary_key.columns))
            state[table.name] = [tuple(row) for row in rows]
    return state


@asynccontextmanager
async def count_statements(db: Database) -> AsyncIterator[list[str]]:
    """The SQL statements sent to the database inside the block, however they are sent
    (bench.scenarios.statements_sent), without their parameters; filled when the block ends."""
    texts: list[str] = []
    async with statements_sent(db) as sent:
        yield texts
    texts.extend(statement for statement, _ in sent)
