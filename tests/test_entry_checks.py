"""Inputs checked at the entry points before they reach a driver or library (issue 15, items 4
and 6): the OAuth token endpoint's form and Basic credentials, the X-Request-Id header, and a
client that disconnects."""

import base64
import logging
from typing import Any

import pytest
from httpx import AsyncClient, Response
from starlette.applications import Starlette

from offerdesk.auth import service as auth_service
from offerdesk.auth.service import create_client
from offerdesk.db import Database

from .helpers import Api, snapshot

GRANT = {"grant_type": "client_credentials"}


async def new_client(db: Database) -> tuple[str, str]:
    async with db.transaction() as session:
        created, secret = await create_client(session, "hr-sync", "events.read")
        return created.client_id, secret


def basic(raw: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def assert_oauth_error(response: Response, status: int, error: str, names: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "no-store" in response.headers["cache-control"]
    body = response.json()
    assert body["error"] == error
    assert names in body["error_description"]


@pytest.mark.parametrize(
    ("form", "names"),
    [
        ({**GRANT, "client_id": "odc_\x00x", "client_secret": "s"}, "client_id"),
        ({**GRANT, "client_id": "odc_x", "client_secret": "s\x00"}, "client_secret"),
        ({**GRANT, "client_id": "odc_" + "x" * 300, "client_secret": "s"}, "client_id"),
        ({**GRANT, "client_id": "odc_x", "client_secret": "s" * 100_000}, "client_secret"),
        ({"grant_type": "client_\x00credentials"}, "grant_type"),
        ({**GRANT, "client_id": "c", "client_secret": "s", "scope": "events.read\x00"}, "scope"),
        ({**GRANT, "scope": "x" * 5000}, "scope"),
        ({**GRANT, **{f"f{i}": "1" for i in range(30)}}, "fields"),
        ({**GRANT, "a\x00b": "1"}, "parameter name"),
    ],
    ids=[
        "nul-id",
        "nul-secret",
        "long-id",
        "long-secret",
        "nul-grant",
        "nul-scope",
        "long-scope",
        "many-fields",
        "nul-name",
    ],
)
@pytest.mark.no_queries
async def test_malformed_token_request_fields_are_400_invalid_request(
    client: AsyncClient, db: Database, form: dict[str, str], names: str
) -> None:
    await new_client(db)
    response = await client.post("/oauth/token/", data=form)
    assert_oauth_error(response, 400, "invalid_request", names)
    assert (await snapshot(db))["api_tokens"] == []


@pytest.mark.parametrize(
    "headers",
    [
        basic(b"odc_\x00:secret"),
        basic(b"odc_x:sec\x00ret"),
        basic(b"odc_x:" + b"s" * 400),
        basic("odc_x:s\u00e9".encode("latin-1")),
        {"Authorization": "Basic not base64!"},
        basic(b"no colon"),
        {"Authorization": "Basic " + "A" * 5000},
    ],
    ids=["nul-id", "nul-secret", "long", "not-utf8", "not-base64", "no-colon", "huge"],
)
@pytest.mark.no_queries
async def test_malformed_basic_credentials_are_401_invalid_client(
    client: AsyncClient, db: Database, headers: dict[str, str]
) -> None:
    response = await client.post("/oauth/token/", data=GRANT, headers=headers)
    assert_oauth_error(response, 401, "invalid_client", "")
    assert response.headers["www-authenticate"].startswith("Basic")
    assert (await snapshot(db))["api_tokens"] == []


async def test_percent_encoded_nul_in_basic_credentials_is_refused(
    client: AsyncClient, db: Database
) -> None:
    client_id, secret = await new_client(db)
    response = await client.post(
        "/oauth/token/", data=GRANT, headers=basic(f"{client_id}%00:{secret}".encode())
    )
    assert_oauth_error(response, 401, "invalid_client", "client_id")


async def test_an_unknown_client_costs_the_same_hashing_as_a_known_one(
    client: AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Timing must not tell which client ids exist: the secret is hashed and compared in both
    cases (counted here, not timed)."""
    client_id, _ = await new_client(db)
    hashed: list[str] = []
    real_hash = auth_service.hash_secret

    def counting_hash(value: str) -> str:
        hashed.append(value)
        return real_hash(value)

    monkeypatch.setattr(auth_service, "hash_secret", counting_hash)
    for candidate in (client_id, "odc_unknown_client_id"):
        hashed.clear()
        response = await client.post(
            "/oauth/token/", data={**GRANT, "client_id": candidate, "client_secret": "wrong"}
        )
        assert response.status_code == 401
        assert hashed == ["wrong"], candidate


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("req-1.A_b", True),
        ("a" * 64, True),
        ("<script>alert(1)</script>", False),
        ("a" * 65, False),
        ("line\tbreak", False),
        ("a b", False),
    ],
)
async def test_x_request_id_is_echoed_only_in_a_safe_format(
    api: Api, client: AsyncClient, sent: str, kept: bool
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ offers { id } }"},
        headers={"Authorization": f"Bearer {api.token}", "X-Request-Id": sent},
    )
    assert response.status_code == 200
    echoed = response.headers["x-request-id"]
    if kept:
        assert echoed == sent
    else:
        assert echoed != sent
        assert len(echoed) == 32
        assert set(echoed) <= set("0123456789abcdef")


async def _asgi_post_then_disconnect(app: Starlette, path: str, headers: list[Any]) -> int:
    """A POST whose client goes away after half its body (ASGI ``http.disconnect``)."""
    messages = [
        {"type": "http.request", "body": b'{"query": "{ off', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("test", 80),
        "app": app,
    }
    await app(scope, receive, send)
    return len(sent)


async def test_a_client_that_disconnects_is_one_info_line_not_an_error(
    app: Starlette, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="offerdesk"):
        await _asgi_post_then_disconnect(
            app,
            "/graphql",
            [
                (b"content-type", b"application/json"),
                (b"authorization", f"Bearer {token}".encode()),
            ],
        )
        await _asgi_post_then_disconnect(
            app, "/oauth/token/", [(b"content-type", b"application/x-www-form-urlencoded")]
        )
    # The access log's own line per request (logs.py) is not about the disconnect.
    ours = [
        r for r in caplog.records if r.name.startswith("offerdesk") and r.name != "offerdesk.access"
    ]
    assert [r.levelno for r in ours] == [logging.INFO, logging.INFO], [r.getMessage() for r in ours]
    assert all(r.exc_info is None for r in ours)
    assert all("disconnected" in r.getMessage() for r in ours)
