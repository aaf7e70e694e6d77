"""Rate limits (issue 13 item 6): per API client, shared by every process through the
database, RATE_LIMITED with HTTP 429 and Retry-After; refused authentications limited per
client address; all off unless configured."""

from typing import Any

import httpx
import pytest
from httpx import AsyncClient
from pydantic import ValidationError

from offerdesk.auth.scopes import ALL_SCOPES
from offerdesk.auth.service import create_client, issue_token
from offerdesk.config import Settings
from offerdesk.db import Database

from .concurrency.servers import servers
from .conftest import make_token
from .helpers import snapshot

QUERY = {"query": "query { offers { id } }"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_limited(response: httpx.Response, window: int) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= window
    body = response.json()
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"


class TestOffByDefault:
    async def test_nothing_is_limited_or_counted(
        self, client: AsyncClient, token: str, db: Database
    ) -> None:
        for _ in range(30):
            assert (
                await client.post("/graphql", json=QUERY, headers=bearer(token))
            ).status_code == 200
        for _ in range(10):
            refused = await client.post("/graphql", json=QUERY, headers=bearer("odt_wrong"))
            assert refused.status_code == 401
        assert (await snapshot(db))["rate_limits"] == []


class TestPerClient:
    @pytest.fixture
    def app_overrides(self) -> dict[str, Any]:
        return {"rate_limit": "3/3600"}

    async def test_a_client_over_its_budget_gets_429_with_retry_after(
        self, client: AsyncClient, db: Database
    ) -> None:
        async with db.transaction() as session:
            api_client, _ = await create_client(session, "busy", "events.read")
            first = (await issue_token(session, ALL_SCOPES, 3600, api_client)).token
            second = (await issue_token(session, ALL_SCOPES, 3600, api_client)).token
        other = await make_token(db)
        # The client's two tokens share one budget of three.
        for token in (first, second, first):
            assert (
                await client.post("/graphql", json=QUERY, headers=bearer(token))
            ).status_code == 200
        assert_limited(await client.post("/graphql", json=QUERY, headers=bearer(second)), 3600)
        assert_limited(await client.post("/graphql", json=QUERY, headers=bearer(first)), 3600)
        # Another caller has its own budget.
        assert (await client.post("/graphql", json=QUERY, headers=bearer(other))).status_code == 200


class TestAuthFailures:
    @pytest.fixture
    def app_overrides(self) -> dict[str, Any]:
        return {"auth_failure_limit": "2/3600"}

    async def test_an_address_guessing_tokens_is_stopped(
        self, client: AsyncClient, token: str
    ) -> None:
        for guess in ("odt_guess1", "odt_guess2"):
            assert (
                await client.post("/graphql", json=QUERY, headers=bearer(guess))
            ).status_code == 401
        # Now even a valid token from that address waits: the look-ups stop here.
        assert_limited(await client.post("/graphql", json=QUERY, headers=bearer(token)), 3600)

    async def test_an_address_guessing_client_secrets_is_stopped(
        self, client: AsyncClient, db: Database
    ) -> None:
        async with db.transaction() as session:
            api_client, secret = await create_client(session, "target", "events.read")
        form = {"grant_type": "client_credentials", "client_id": api_client.client_id}
        for guess in ("wrong-1", "wrong-2"):
            response = await client.post("/oauth/token/", data={**form, "client_secret": guess})
            assert response.status_code == 401
        limited = await client.post("/oauth/token/", data={**form, "client_secret": secret})
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"] == "rate_limited"


async def test_two_server_processes_share_one_budget(
    database_url: str, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OFFERDESK_RATE_LIMIT", "4/3600")
    with servers(database_url, 2) as [first, second]:
        async with httpx.AsyncClient(headers=bearer(token)) as http:
            answers = [
                (await http.post(f"{url}/graphql", json=QUERY)).status_code
                for url in (first, second, first, second)
            ]
            assert answers == [200, 200, 200, 200]
            for url in (first, second):
                assert_limited(await http.post(f"{url}/graphql", json=QUERY), 3600)


@pytest.mark.parametrize("value", ["10", "10/", "/60", "0/60", "10/0", "ten/60"])
def test_a_malformed_budget_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="COUNT/SECONDS"):
        Settings(rate_limit=value)
