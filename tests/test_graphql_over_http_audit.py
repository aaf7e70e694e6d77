"""The GraphQL-over-HTTP audits of ``graphql-http`` (the reference implementation's
``auditServer``) against a real ``offerdesk serve`` process (SPEC §1, issue 4 point 1).

Every MUST and every SHOULD audit passes; the MAY audits are counted and shown (``-s``).
Below it, the choices the audits do not reach: the media type by q-value, and the 400 of a
parse error under Apollo Client's Accept header.
The transport does not depend on the engine, but the suite's pattern runs both: the audit
takes a few seconds per server.
"""

import sys
from collections import Counter

import pytest
from httpx import AsyncClient

from .concurrency.servers import servers
from .node_e2e import run_script

# graphql-http 1.23.1 (pinned in tests/e2e/package-lock.json) has 13 MUST, 23 SHOULD and 25
# MAY server audits: the counts prove the whole suite ran, not a part of it.
EXPECTED = {"MUST": 13, "SHOULD": 23, "MAY": 25}


async def test_graphql_over_http_audit(database_url: str, token: str) -> None:
    with servers(database_url, 1) as [url]:
        results = run_script("audit.mjs", f"{url}/graphql", token)

    by_level = Counter(result["level"] for result in results)
    passed = Counter(result["level"] for result in results if result["status"] == "ok")
    print(
        "\ngraphql-http audit: "
        + ", ".join(f"{level} {passed[level]}/{by_level[level]}" for level in EXPECTED),
        file=sys.stderr,
    )
    assert dict(by_level) == EXPECTED
    failing = [
        result
        for result in results
        if result["level"] in ("MUST", "SHOULD") and result["status"] != "ok"
    ]
    assert failing == []


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        # Apollo Client's and graphql-request's headers.
        ("application/graphql-response+json,application/json;q=0.9", "graphql-response+json"),
        ("application/graphql-response+json, application/json", "graphql-response+json"),
        # The q-values decide, not the order (RFC 9110 §12.5.1); q=0 means "not this one".
        ("application/graphql-response+json;q=0.5, application/json", "json"),
        ("application/json;q=0.5, application/graphql-response+json", "graphql-response+json"),
        ("application/graphql-response+json;q=0, */*", "json"),
        # Nothing we speak, or no header: application/json (the spec's default).
        ("text/html", "json"),
        ("", "json"),
    ],
)
async def test_the_answer_has_the_media_type_the_client_prefers(
    client: AsyncClient, token: str, accept: str, media_type: str
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={"Authorization": f"Bearer {token}", "Accept": accept},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == f"application/{media_type}; charset=utf-8"


async def test_a_request_error_is_400_without_data_for_apollo_clients_accept(
    client: AsyncClient, token: str
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ offerEvent(id: "},
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/graphql-response+json,application/json;q=0.9",
        },
    )
    assert response.status_code == 400
    assert "data" not in response.json()
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


@pytest.mark.parametrize("extensions", ["string", 1, True, [1]])
async def test_extensions_that_are_not_an_object_are_a_bad_request(
    client: AsyncClient, token: str, extensions: object
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ __typename }", "extensions": extensions},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert "data" not in response.json()
