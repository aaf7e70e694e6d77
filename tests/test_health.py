"""Health endpoints and the transport details of /graphql (SPEC §1)."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient

from offerdesk.app import create_app
from offerdesk.config import Settings
from offerdesk.db import Database

from .helpers import Api, snapshot

OFFERS = "query { offers { id } }"


@pytest.fixture(
    params=["postgresql-closed-port", "sqlite-missing-directory"],
)
async def unreachable(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncClient]:
    """A client of an app whose database cannot be reached."""
    if request.param == "postgresql-closed-port":
        url = "postgresql+asyncpg://postgres@127.0.0.1:1/offerdesk"
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'no-such-directory' / 'offerdesk.db'}"
    app = create_app(Settings(database_url=url))
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
        yield http
    await app.state.db.dispose()


async def test_healthz_answers_without_a_token(client: AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_readyz_answers_200_when_the_database_is_reachable(client: AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_readyz_answers_503_when_the_database_is_unreachable(
    unreachable: AsyncClient,
) -> None:
    response = await unreachable.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] != "ok"


async def test_healthz_answers_200_when_the_database_is_unreachable(
    unreachable: AsyncClient,
) -> None:
    response = await unreachable.get("/healthz")
    assert response.status_code == 200


async def test_graphql_with_trailing_slash_answers_like_without(
    client: AsyncClient, api: Api
) -> None:
    await api.data('mutation { createOffer(offer: {title: "Slash"}) { offer { id } } }')
    headers = {"Authorization": f"Bearer {api.token}"}
    plain = await client.post("/graphql", json={"query": OFFERS}, headers=headers)
    slashed = await client.post("/graphql/", json={"query": OFFERS}, headers=headers)
    assert plain.status_code == slashed.status_code == 200
    assert slashed.json() == plain.json()
    assert len(slashed.json()["data"]["offers"]) == 1
    # Without a token the slashed path refuses just the same, rather than redirecting.
    refused = await client.post("/graphql/", json={"query": OFFERS})
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("path", ["/graphql", "/graphql/"])
@pytest.mark.no_queries
async def test_browser_get_shows_graphiql_without_a_token(client: AsyncClient, path: str) -> None:
    response = await client.get(path, headers={"Accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_graphiql_is_off_when_the_setting_turns_it_off(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'offerdesk.db'}"
    app = create_app(Settings(database_url=url, graphiql=False))
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
        response = await http.get("/graphql", headers={"Accept": "text/html"})
    await app.state.db.dispose()
    assert not response.headers["content-type"].startswith("text/html")
    assert "graphiql" not in response.text.lower()


async def test_get_runs_a_query(client: AsyncClient, api: Api) -> None:
    response = await client.get(
        "/graphql",
        params={"query": OFFERS},
        headers={"Authorization": f"Bearer {api.token}", "Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"offers": []}}


async def test_get_of_a_mutation_is_405_and_changes_nothing(
    client: AsyncClient, api: Api, db: Database
) -> None:
    before = await snapshot(db)
    response = await client.get(
        "/graphql",
        params={"query": 'mutation { createOffer(offer: {title: "Via GET"}) { offer { id } } }'},
        headers={"Authorization": f"Bearer {api.token}", "Accept": "application/json"},
    )
    assert response.status_code == 405
    assert "POST" in response.headers["allow"]
    assert response.json()["errors"]
    assert await snapshot(db) == before


async def test_readyz_answers_503_for_a_database_without_the_schema(tmp_path: Path) -> None:
    # A SQLite path in an existing directory connects (it creates an empty file): not ready.
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"))
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
        response = await http.get("/readyz")
    await app.state.db.dispose()
    assert response.status_code == 503


@pytest.mark.parametrize("enabled", [False, True])
async def test_bench_floor_route_exists_only_when_turned_on(
    database_url: str, enabled: bool
) -> None:
    app = create_app(Settings(database_url=database_url, bench_floor=enabled))
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
        response = await http.get("/_bench/floor", params={"bytes": 1000})
    await app.state.db.dispose()
    if enabled:
        assert response.status_code == 200
        assert len(response.content) == 1000
    else:
        assert response.status_code == 404
