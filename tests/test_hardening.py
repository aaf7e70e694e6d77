"""Query limits, the production profile probed like a GraphQL security scanner, masked errors."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from graphql import get_introspection_query
from httpx import ASGITransport, AsyncClient
from sqlalchemy import make_url

from offerdesk.app import create_app
from offerdesk.config import Settings
from offerdesk.offers import service as offers_service

from .conftest import empty_all_tables, make_token

DEEP = "{ offers { offerEvents { offer { offerEvents { offer { offerEvents { offer { offerEvents { offer { offerEvents { id } } } } } } } } } } }"  # noqa: E501


@contextlib.asynccontextmanager
async def app_client(database_url: str, **settings: Any) -> AsyncIterator[tuple[AsyncClient, str]]:
    app = create_app(Settings(database_url=database_url, **settings))
    token = await make_token(app.state.db)
    headers = {"Authorization": f"Bearer {token}"}
    transport = ASGITransport(app=app)
    try:
        async with AsyncClient(transport=transport, base_url="http://test", headers=headers) as c:
            yield c, token
    finally:
        await empty_all_tables(app.state.db)
        await app.state.db.dispose()


def aliases(count: int) -> str:
    return "{ " + " ".join(f"a{i}: offers {{ id }}" for i in range(count)) + " }"


def directives(count: int) -> str:
    return "{ offers { id " + " ".join("@include(if: true)" for _ in range(count)) + " } }"


def codes(answer: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in answer.get("errors", [])]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (aliases(16), "16 aliases"),
        (DEEP, "11 levels deep"),
        (directives(51), "51 directives"),
        ("{ " + " ".join("offers { id }" for _ in range(300)) + " }", "more than 1000 tokens"),
    ],
    ids=["aliases", "depth", "directives", "tokens"],
)
async def test_limits_refuse_before_execution_with_too_complex(
    database_url: str, query: str, message: str
) -> None:
    async with app_client(database_url) as (client, _):
        answer = (await client.post("/graphql", json={"query": query})).json()
    assert "data" not in answer
    assert "TOO_COMPLEX" in codes(answer)
    assert any(message in error["message"] for error in answer["errors"])


async def test_limits_admit_documents_at_the_limit(database_url: str) -> None:
    async with app_client(database_url) as (client, _):
        for query in (aliases(15), directives(1)):
            answer = (await client.post("/graphql", json={"query": query})).json()
            assert "errors" not in answer, answer


async def test_limits_are_configurable(database_url: str) -> None:
    async with app_client(database_url, max_aliases=2, max_query_depth=2) as (client, _):
        answer = (await client.post("/graphql", json={"query": aliases(3)})).json()
        assert codes(answer) == ["TOO_COMPLEX"]
        deep = "{ offers { offerEvents { id } } }"
        assert codes((await client.post("/graphql", json={"query": deep})).json()) == [
            "TOO_COMPLEX"
        ]


async def test_oversized_body_is_refused_with_413(database_url: str) -> None:
    async with app_client(database_url, max_body_bytes=4096) as (client, _):
        query = "{ offers { id } }" + " " * 5000
        response = await client.post("/graphql", json={"query": query})
        assert response.status_code == 413
        assert codes(response.json()) == ["TOO_COMPLEX"]
        # Without a Content-Length (a streamed body) the limit holds too.

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"query": "{ offers { id } }'
            for _ in range(10):
                yield b" " * 1000
            yield b'"}'

        streamed = await client.post(
            "/graphql", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413


async def test_batched_requests_are_refused(database_url: str) -> None:
    async with app_client(database_url) as (client, _):
        response = await client.post(
            "/graphql", json=[{"query": "{ offers { id } }"}, {"query": "{ offers { id } }"}]
        )
    assert response.status_code == 400
    assert "data" not in response.json()


# --- the production profile, probed the way GraphQL security scanners probe ---


@pytest.fixture
async def production(database_url: str) -> AsyncIterator[tuple[AsyncClient, str]]:
    async with app_client(database_url, env="production") as pair:
        yield pair


async def test_production_has_no_introspection(production: tuple[AsyncClient, str]) -> None:
    client, _ = production
    for query in (
        "{ __schema { queryType { name } } }",
        '{ __type(name: "Offer") { name } }',
        "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
    ):
        answer = (await client.post("/graphql", json={"query": query})).json()
        assert "data" not in answer, answer
        assert "GRAPHQL_VALIDATION_FAILED" in codes(answer)


async def test_production_gives_no_field_suggestions(production: tuple[AsyncClient, str]) -> None:
    client, _ = production
    answer = (await client.post("/graphql", json={"query": "{ offerz { id } }"})).json()
    assert codes(answer) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "Did you mean" not in answer["errors"][0]["message"]


async def test_development_keeps_field_suggestions(database_url: str) -> None:
    async with app_client(database_url) as (client, _):
        answer = (await client.post("/graphql", json={"query": "{ offerz { id } }"})).json()
    assert "Did you mean" in answer["errors"][0]["message"]


@pytest.mark.parametrize("env", ["development", "production"])
@pytest.mark.parametrize(
    "query",
    [
        "query { __typename @aa @aa @aa @aa @aa @aa @aa @aa @aa @aa }",
        "query { __typename @skip(if: false) @skip(if: false) @skip(if: false) }",
        "query { __typename @aa @skip(if: false) @skip(if: false) @bb }",
    ],
)
async def test_repeated_or_unknown_directives_get_one_error(
    database_url: str, env: str, query: str
) -> None:
    """Issue 14 (6): a directive-overloading probe gets one error, not one per directive."""
    async with app_client(database_url, env=env) as (client, _):
        answer = (await client.post("/graphql", json={"query": query})).json()
    assert "data" not in answer, answer
    assert codes(answer) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_production_serves_no_ide(production: tuple[AsyncClient, str]) -> None:
    client, _ = production
    for path in ("/graphql", "/graphql/"):
        response = await client.get(path, headers={"accept": "text/html"})
        assert "text/html" not in response.headers.get("content-type", "")
        assert "graphiql" not in response.text.lower()
    assert (await client.get("/graphiql/static/graphiql.min.js")).status_code == 404


async def test_production_refuses_get_mutations_and_form_posts(
    production: tuple[AsyncClient, str],
) -> None:
    client, _ = production
    mutation = 'mutation { createOffer(offer: {title: "x"}) { offer { id } } }'
    assert (await client.get("/graphql", params={"query": mutation})).status_code == 405
    # Queries over GET are off in production too: nothing there needs them.
    get_query = await client.get("/graphql", params={"query": "{ offers { id } }"})
    assert get_query.status_code == 405
    assert "data" not in get_query.json()
    for content_type, body in (
        ("application/x-www-form-urlencoded", f"query={mutation}"),
        (
            "multipart/form-data; boundary=x",
            f'--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n{mutation}\r\n--x--',
        ),
        ("text/plain", f'{{"query": "{mutation}"}}'),
    ):
        response = await client.post(
            "/graphql", content=body, headers={"content-type": content_type}
        )
        assert response.status_code in (400, 415), (content_type, response.status_code)
    listed = (await client.post("/graphql", json={"query": "{ offers { id } }"})).json()
    assert listed == {"data": {"offers": []}}


async def test_production_answers_carry_no_tracing_or_server_details(
    production: tuple[AsyncClient, str],
) -> None:
    client, _ = production
    response = await client.post("/graphql", json={"query": "{ offers { id } }"})
    assert "extensions" not in response.json()
    assert "server" not in response.headers


async def test_production_refuses_alias_and_directive_overloading(
    production: tuple[AsyncClient, str],
) -> None:
    client, _ = production
    for query in (aliases(101), directives(60)):
        answer = (await client.post("/graphql", json={"query": query})).json()
        assert "data" not in answer
        assert "TOO_COMPLEX" in codes(answer)


async def test_production_unparsable_document_reveals_nothing(
    production: tuple[AsyncClient, str],
) -> None:
    client, _ = production
    answer = (await client.post("/graphql", json={"query": "{ offers { id "})).json()
    assert codes(answer) == ["GRAPHQL_PARSE_FAILED"]


# --- masked errors ---


async def test_unexpected_exception_is_masked_and_logged_under_its_request_id(
    database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "SELECT password FROM secrets -- driver said: boom at /srv/offerdesk/db.py:42"

    async def explode(*_: Any, **__: Any) -> None:
        raise RuntimeError(secret)

    monkeypatch.setattr(offers_service, "find_many", explode)
    # The explosion is in the executor's resolver; a compiled read does not call it.
    async with app_client(database_url, compiled_reads=False) as (client, _):
        with caplog.at_level(logging.ERROR, logger="offerdesk"):
            response = await client.post("/graphql", json={"query": "{ offers { id } }"})
    answer = response.json()
    [error] = answer["errors"]
    request_id = error["extensions"]["requestId"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert request_id in error["message"]
    assert response.headers["x-request-id"] == request_id
    for leak in ("SELECT", "password", "boom", "Traceback", "RuntimeError", ".py"):
        assert leak not in response.text
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged, "the log has no record under the request id"
    assert any(r.exc_info and secret in str(r.exc_info[1]) for r in logged)


class TcpProxy:
    """A TCP proxy to PostgreSQL that a test can cut and restore: a real database outage."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, upstream_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


# An outage of a database server: SQLite is a file inside the process, it has none.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_database_outage_is_503_and_the_service_recovers(database_url: str) -> None:
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    token = await make_token(create_app(Settings(database_url=database_url)).state.db)
    app = create_app(Settings(database_url=proxied))
    headers = {"Authorization": f"Bearer {token}"}
    query = {"query": "{ offers { id } }"}
    async with AsyncClient(
        transport=ASGITransport(app=app), base_url="http://test", headers=headers
    ) as client:
        assert (await client.post("/graphql", json=query)).json() == {"data": {"offers": []}}
        assert (await client.get("/readyz")).status_code == 200

        await proxy.stop()
        mutation = {"query": 'mutation { createOffer(offer: {title: "Lost"}) { offer { id } } }'}
        for body in (query, mutation):
            # Said as what it is (SPEC §2.5): unavailable, nothing written, retry later.
            down = await client.post("/graphql", json=body)
            assert down.status_code == 503
            assert int(down.headers["retry-after"]) > 0
            [error] = down.json()["errors"]
            assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            assert "requestId" in error["extensions"]
            for leak in ("asyncpg", "connection", "Errno", "sqlalchemy"):
                assert leak.lower() not in down.text.lower()
        assert (await client.get("/readyz")).status_code == 503
        assert (await client.get("/healthz")).status_code == 200

        await proxy.start()
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.post("/graphql", json=query)).json() == {"data": {"offers": []}}
    await app.state.db.dispose()
    await proxy.stop()


async def test_standard_introspection_query_passes_the_limits_in_development(
    database_url: str,
) -> None:
    # Every client's schema fetch is 15 levels deep; introspection is not counted for depth.
    async with app_client(database_url) as (client, _):
        answer = (await client.post("/graphql", json={"query": get_introspection_query()})).json()
    assert "errors" not in answer, answer.get("errors")
    assert answer["data"]["__schema"]["queryType"]["name"] == "Query"
