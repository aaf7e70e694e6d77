"""The ``offerdesk`` command, run as a real process against the test database (SPEC §1)."""

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from alembic.script import ScriptDirectory
from httpx import AsyncClient
from sqlalchemy import text

from offerdesk.db import Database
from offerdesk.migrate import alembic_config

from .helpers import Api, snapshot

OFFERDESK = Path(sys.executable).parent / "offerdesk"
SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


async def offerdesk(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed console script with the test database configured."""
    assert OFFERDESK.exists(), f"{OFFERDESK} is missing: install the package (make install)"
    env = {**os.environ, "OFFERDESK_DATABASE_URL": database_url}
    done = await anyio.run_process([str(OFFERDESK), *args], env=env, check=False)
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return result.stdout


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    """One read path (the default): the command is what these tests try; their reads only
    check that its tokens and credentials work, which tests/test_compiled_reads.py holds
    the same on both paths."""
    return {}


def without_tokens(state: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {table: rows for table, rows in state.items() if table != "api_tokens"}


async def test_client_create_prints_credentials_that_obtain_a_token(
    database_url: str, client: AsyncClient, api: Api
) -> None:
    out = succeeded(
        await offerdesk(
            database_url,
            "client",
            "create",
            "--name",
            "hr-sync",
            "--scopes",
            "events.read events.write",
        )
    )
    client_id = re.search(r"^client_id: (\S+)$", out, re.MULTILINE)
    secret = re.search(r"^client_secret: (\S+)$", out, re.MULTILINE)
    assert client_id, out
    assert secret, out

    response = await client.post(
        "/oauth/token/",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id[1],
            "client_secret": secret[1],
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "events.read events.write"
    created = await api(
        'mutation { createOffer(offer: {title: "From the CLI client"}) { offer { title } } }',
        token=response.json()["access_token"],
    )
    assert created == {"data": {"createOffer": {"offer": {"title": "From the CLI client"}}}}


async def test_client_create_with_unknown_scope_fails_naming_it(
    database_url: str, db: Database
) -> None:
    result = await offerdesk(
        database_url, "client", "create", "--name", "hr-sync", "--scopes", "events.read bogus"
    )
    assert result.returncode != 0
    assert "bogus" in result.stderr
    assert (await snapshot(db))["api_clients"] == []


async def test_token_create_prints_a_working_token_on_its_last_line(
    database_url: str, api: Api
) -> None:
    out = succeeded(await offerdesk(database_url, "token", "create", "--scopes", "events.read"))
    token = out.splitlines()[-1]
    assert re.fullmatch(r"\S+", token), out

    assert (await api("query { offers { id } }", token=token)) == {"data": {"offers": []}}
    refused = await api(
        'mutation { createOffer(offer: {title: "Not allowed"}) { offer { id } } }', token=token
    )
    assert refused["data"] == {"createOffer": None}
    [error] = refused["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "events.write" in error["message"]


async def test_token_create_with_unknown_scope_fails_naming_it(
    database_url: str, db: Database
) -> None:
    result = await offerdesk(database_url, "token", "create", "--scopes", "bogus")
    assert result.returncode != 0
    assert "bogus" in result.stderr
    assert (await snapshot(db))["api_tokens"] == []


async def test_export_schema_prints_the_checked_in_schema() -> None:
    result = await anyio.run_process([str(OFFERDESK), "export-schema"], check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == SCHEMA_FILE.read_bytes(), "run `make schema` and commit schema.graphql"


async def test_migrate_on_a_migrated_database_succeeds_and_stays_at_head(
    database_url: str, db: Database
) -> None:
    before = await snapshot(db)
    out = succeeded(await offerdesk(database_url, "migrate"))
    assert "up to date" in out
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    async with db.read_session() as session:
        versions = (await session.scalars(text("SELECT version_num FROM alembic_version"))).all()
    assert versions == [head]
    assert await snapshot(db) == before


async def test_demo_loads_data_once_and_prints_a_token(
    database_url: str, db: Database, api: Api
) -> None:
    empty = await snapshot(db)
    assert all(rows == [] for table, rows in empty.items() if table != "api_tokens")

    out = succeeded(await offerdesk(database_url, "demo"))
    assert "demo data loaded" in out
    found = re.search(r'"Authorization": "Bearer ([^"\s]+)"', out)
    assert found, out
    offers = await api("query { offers { title offerEvents { title } } }", token=found[1])
    assert "errors" not in offers, offers
    assert offers["data"]["offers"], "the demo loaded no offers"
    assert all(offer["offerEvents"] for offer in offers["data"]["offers"])

    loaded = await snapshot(db)
    again = succeeded(await offerdesk(database_url, "demo"))
    assert "skipped" in again
    after = await snapshot(db)
    assert without_tokens(after) == without_tokens(loaded)
    # Only the new admin token was added.
    assert len(after["api_tokens"]) == len(loaded["api_tokens"]) + 1
