"""Listing and revoking API clients and tokens from the command line (issue 13 item 5).

The command runs as its own process; the server under test is another. A revoked token or
client stops working on the very next request, also for an answer the response cache holds.
"""

import re
import subprocess
from typing import Any

import pytest
from httpx import AsyncClient

from offerdesk.db import Database

from .helpers import snapshot
from .test_cli import offerdesk, succeeded

QUERY = {"query": "query { offers { id } }"}


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    """One read path (the default): the commands are what these tests try, and each runs as a
    process of its own. tests/test_compiled_reads.py holds a revoked or expired token, and a
    deactivated client, to the same 401 on both read paths."""
    return {}


def no_traceback(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    return result.stderr


async def ask(client: AsyncClient, token: str) -> int:
    response = await client.post(
        "/graphql", json=QUERY, headers={"Authorization": f"Bearer {token}"}
    )
    return response.status_code


async def new_token(database_url: str, scopes: str = "events.read") -> tuple[str, str]:
    """(token, its prefix) from `offerdesk token create`."""
    out = succeeded(await offerdesk(database_url, "token", "create", "--scopes", scopes))
    token = out.splitlines()[-1]
    prefix = re.search(r"prefix (\S+)", out)
    assert prefix, out
    assert token.startswith(prefix[1])
    return token, prefix[1]


async def test_token_list_shows_prefixes_and_metadata_never_tokens(
    database_url: str, client: AsyncClient
) -> None:
    token, prefix = await new_token(database_url, "events.read users.read")
    out = succeeded(await offerdesk(database_url, "token", "list"))
    [line] = out.splitlines()
    assert line.startswith(prefix)
    assert "active" in line
    assert "scopes=events.read users.read" in line
    assert token not in out
    assert token[len(prefix) :][:6] not in out


async def test_a_revoked_token_stops_working_on_the_next_request(
    database_url: str, client: AsyncClient
) -> None:
    token, prefix = await new_token(database_url)
    other, _ = await new_token(database_url)
    # Twice: the second answer comes from the response cache, which must not outlive access.
    assert [await ask(client, token), await ask(client, token)] == [200, 200]

    out = succeeded(await offerdesk(database_url, "token", "revoke", prefix))
    assert prefix in out
    response = await client.post(
        "/graphql", json=QUERY, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert await ask(client, other) == 200

    active = succeeded(await offerdesk(database_url, "token", "list"))
    assert prefix not in active
    every = succeeded(await offerdesk(database_url, "token", "list", "--all"))
    assert re.search(rf"^{prefix}\s+revoked\b", every, re.MULTILINE), every


async def test_a_whole_token_can_be_revoked_too(database_url: str, client: AsyncClient) -> None:
    token, _ = await new_token(database_url)
    succeeded(await offerdesk(database_url, "token", "revoke", token))
    assert await ask(client, token) == 401


async def test_a_revoked_client_loses_its_tokens_and_gets_no_new_ones(
    database_url: str, client: AsyncClient
) -> None:
    out = succeeded(
        await offerdesk(
            database_url, "client", "create", "--name", "hr-sync", "--scopes", "events.read"
        )
    )
    client_id = re.search(r"^client_id: (\S+)$", out, re.MULTILINE)
    secret = re.search(r"^client_secret: (\S+)$", out, re.MULTILINE)
    assert client_id
    assert secret
    credentials = {
        "grant_type": "client_credentials",
        "client_id": client_id[1],
        "client_secret": secret[1],
    }
    granted = await client.post("/oauth/token/", data=credentials)
    assert granted.status_code == 200
    token = granted.json()["access_token"]
    assert [await ask(client, token), await ask(client, token)] == [200, 200]

    listed = succeeded(await offerdesk(database_url, "client", "list"))
    assert re.search(rf"^{client_id[1]}\s+active\s+tokens=1\b.*name=hr-sync$", listed, re.M)
    assert secret[1] not in listed

    succeeded(await offerdesk(database_url, "client", "revoke", client_id[1]))
    assert await ask(client, token) == 401
    refused = await client.post("/oauth/token/", data=credentials)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    listed = succeeded(await offerdesk(database_url, "client", "list"))
    assert re.search(rf"^{client_id[1]}\s+revoked\s+tokens=0\b", listed, re.M), listed
    every = succeeded(await offerdesk(database_url, "token", "list", "--all"))
    assert f"client={client_id[1]}" in every
    assert "client revoked" in every


async def test_revoking_what_does_not_exist_fails_cleanly_and_changes_nothing(
    database_url: str, db: Database
) -> None:
    await new_token(database_url)
    before = await snapshot(db)
    for args, phrase in [
        (("token", "revoke", "odt_"), "12 characters"),
        (("token", "revoke", "odt_nosuchtok"), "not found"),
        (("token", "revoke", "odt_nosuchtoken-but-longer"), "not found"),
        (("client", "revoke", "odc_nosuchclient"), "not found"),
    ]:
        stderr = no_traceback(await offerdesk(database_url, *args))
        assert phrase in stderr
    assert await snapshot(db) == before
