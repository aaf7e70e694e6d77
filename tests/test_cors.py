"""Cross-origin access (issue 13 item 8): off by default; with OFFERDESK_CORS_ORIGINS set,
preflights are answered for the listed origins only, and only their pages may read answers.
A real browser checks the same in tests/test_cors_browser.py."""

from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient

from offerdesk.app import create_app
from offerdesk.config import Settings

LISTED = "https://admin.example.com"
ALSO_LISTED = "https://intranet.example.com"
OTHER = "https://evil.example.net"
QUERY = {"query": "query { offers { id } }"}


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    # A trailing slash and mixed separators, as an operator might write them.
    return {"cors_origins": f"{LISTED}/, {ALSO_LISTED}"}


def preflight_headers(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }


@pytest.mark.parametrize("origin", [LISTED, ALSO_LISTED])
async def test_preflight_from_a_listed_origin_is_allowed(client: AsyncClient, origin: str) -> None:
    response = await client.options("/graphql", headers=preflight_headers(origin))
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed
    # Bearer tokens only: a browser must never send cookies along.
    assert "access-control-allow-credentials" not in response.headers


async def test_preflight_from_another_origin_is_refused(client: AsyncClient) -> None:
    response = await client.options("/graphql", headers=preflight_headers(OTHER))
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_answers_carry_the_origin_only_for_listed_origins(
    client: AsyncClient, token: str
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    listed = await client.post("/graphql", json=QUERY, headers={**auth, "Origin": LISTED})
    assert listed.status_code == 200
    assert listed.headers["access-control-allow-origin"] == LISTED
    assert "x-request-id" in listed.headers["access-control-expose-headers"].lower()
    other = await client.post("/graphql", json=QUERY, headers={**auth, "Origin": OTHER})
    assert "access-control-allow-origin" not in other.headers


async def test_without_the_setting_there_is_no_cross_origin_access(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url))
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
        preflight = await http.options("/graphql", headers=preflight_headers(LISTED))
        health = await http.get("/healthz", headers={"Origin": LISTED})
    await app.state.db.dispose()
    assert preflight.status_code == 405
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in health.headers


def test_origins_are_read_comma_or_space_separated() -> None:
    settings = Settings(cors_origins="https://a.example/,https://b.example  https://c.example")
    assert settings.cors_origin_list == [
        "https://a.example",
        "https://b.example",
        "https://c.example",
    ]
    assert Settings().cors_origin_list == []
