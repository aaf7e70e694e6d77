"""The access log and the log format (issue 13 item 3).

One line per request with method, path, status, duration, request id and API client id;
never a token, a query string or a variable's value. JSON lines with OFFERDESK_LOG_FORMAT=json,
checked on a real ``offerdesk serve`` process. A failed readiness probe logs one line.
"""

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from httpx import ASGITransport, AsyncClient

from offerdesk.app import create_app
from offerdesk.auth.scopes import ALL_SCOPES
from offerdesk.auth.service import create_client, issue_token
from offerdesk.config import Settings
from offerdesk.db import Database
from offerdesk.logs import ACCESS_LOGGER, TEXT_FORMAT, JsonFormatter

from .concurrency.servers import _wait_until_up, free_port

OFFERDESK = Path(sys.executable).parent / "offerdesk"
SECRET_VALUE = "v4lue-that-must-not-be-logged"
QUERY = "query Offers($title: String) { offers { id } }"


@pytest.fixture
def access(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The captured logs of the test, with the access log's INFO lines."""
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    return caplog


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == ACCESS_LOGGER]


def formatted(record: logging.LogRecord) -> tuple[str, dict[str, object]]:
    """The record as a text line and as a parsed JSON line."""
    text = logging.Formatter(TEXT_FORMAT).format(record)
    entry = json.loads(JsonFormatter().format(record))
    assert "\n" not in text
    return text, entry


async def client_token(db: Database) -> tuple[str, str]:
    """(the public client id, a token issued to that client)."""
    async with db.transaction() as session:
        client, _ = await create_client(session, "logged", "events.read")
        issued = await issue_token(session, ALL_SCOPES, 3600, client)
        return client.client_id, issued.token


async def test_one_line_per_request_with_its_fields_and_no_secrets(
    client: AsyncClient, db: Database, access: pytest.LogCaptureFixture
) -> None:
    client_id, token = await client_token(db)
    response = await client.post(
        "/graphql",
        json={"query": QUERY, "variables": {"title": SECRET_VALUE}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    [record] = access_records(access)
    text, entry = formatted(record)
    assert entry["logger"] == ACCESS_LOGGER
    assert entry["method"] == "POST"
    assert entry["path"] == "/graphql"
    assert entry["status"] == 200
    assert isinstance(entry["duration_ms"], float)
    assert entry["request_id"] == response.headers["x-request-id"]
    assert entry["client_id"] == client_id
    assert f"client_id={client_id}" in text
    assert "POST /graphql 200" in text
    for line in (text, json.dumps(entry)):
        assert token not in line
        assert SECRET_VALUE not in line


async def test_get_queries_are_logged_without_their_query_string(
    client: AsyncClient, token: str, access: pytest.LogCaptureFixture
) -> None:
    response = await client.get(
        "/graphql",
        params={"query": QUERY, "variables": json.dumps({"title": SECRET_VALUE})},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    assert response.status_code == 200
    [record] = access_records(access)
    text, entry = formatted(record)
    assert entry["path"] == "/graphql"
    assert entry["client_id"] is None
    assert SECRET_VALUE not in text
    assert "query" not in text.split("request_id=")[0].split("/graphql")[1]


async def test_refused_requests_are_logged_with_their_status(
    client: AsyncClient, access: pytest.LogCaptureFixture
) -> None:
    unauthenticated = await client.post(
        "/graphql", json={"query": QUERY}, headers={"Authorization": "Bearer odt_wrong"}
    )
    too_large = await client.post(
        "/graphql", content=b"x" * 2_000_000, headers={"Content-Type": "application/json"}
    )
    missing = await client.get("/nothing-here")
    records = access_records(access)
    assert [(r.method, r.path, r.status) for r in records] == [  # type: ignore[attr-defined]
        ("POST", "/graphql", unauthenticated.status_code),
        ("POST", "/graphql", too_large.status_code),
        ("GET", "/nothing-here", missing.status_code),
    ]
    assert [unauthenticated.status_code, too_large.status_code, missing.status_code] == [
        401,
        413,
        404,
    ]
    assert all("odt_wrong" not in formatted(record)[0] for record in records)


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("req-42.a_b-c", True), ("two words", False), ("req:42", False), ("x" * 65, False)],
)
async def test_request_id_is_the_clients_when_well_formed(
    client: AsyncClient, token: str, access: pytest.LogCaptureFixture, sent: str, kept: bool
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ offers(search: 1) { id } }"},
        headers={"Authorization": f"Bearer {token}", "X-Request-Id": sent},
    )
    [record] = access_records(access)
    request_id = response.headers["x-request-id"]
    assert record.request_id == request_id  # type: ignore[attr-defined]
    if kept:
        assert request_id == sent
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)


async def test_access_log_can_be_turned_off(
    database_url: str, access: pytest.LogCaptureFixture
) -> None:
    app = create_app(Settings(database_url=database_url, access_log=False))
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
        assert (await http.get("/healthz")).status_code == 200
    await app.state.db.dispose()
    assert access_records(access) == []


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://postgres:pw-not-logged@127.0.0.1:1/offerdesk",
        "sqlite+aiosqlite:////no-such-directory/offerdesk.db",
    ],
)
async def test_a_failed_readiness_probe_logs_one_line_without_a_traceback(
    caplog: pytest.LogCaptureFixture, url: str
) -> None:
    caplog.set_level(logging.INFO)
    app = create_app(Settings(database_url=url))
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
        response = await http.get("/readyz")
    await app.state.db.dispose()
    assert response.status_code == 503
    [warning] = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert warning.exc_info is None
    line = logging.Formatter(TEXT_FORMAT).format(warning)
    assert "\n" not in line
    assert "readiness check failed" in line
    assert "pw-not-logged" not in line


def test_serve_writes_json_lines_when_asked(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    log_file = tmp_path / "stderr.log"
    env = {
        **os.environ,
        "OFFERDESK_DATABASE_URL": database_url,
        "OFFERDESK_LOG_FORMAT": "json",
        "OFFERDESK_LOG_LEVEL": "INFO",
    }
    with log_file.open("wb") as stderr:
        process = subprocess.Popen(
            [str(OFFERDESK), "serve", "--no-migrate", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_up(url, process)
            response = httpx.get(f"{url}/readyz", headers={"X-Request-Id": "probe-1"})
            assert response.status_code == 200
        finally:
            process.terminate()
            process.wait(timeout=10)
    lines = log_file.read_text().splitlines()
    entries = [json.loads(line) for line in lines]  # every line is JSON
    readyz = [e for e in entries if e["logger"] == ACCESS_LOGGER and e["path"] == "/readyz"]
    assert len(readyz) == 1
    assert readyz[0]["status"] == 200
    assert readyz[0]["request_id"] == "probe-1"
    assert any(e["message"].startswith("database: ") for e in entries)
