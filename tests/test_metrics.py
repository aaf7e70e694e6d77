"""Prometheus metrics at GET /metrics (issue 13 item 4), read with Prometheus's own text
parser: requests by route, operation and status, latency, enrollments by outcome, database
connections; behind a bearer token; every worker's counts in any worker's answer."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx import AsyncClient
from prometheus_client.parser import text_string_to_metric_families

from offerdesk.db import Database

from .concurrency.servers import _wait_until_up, free_port
from .helpers import Api
from .test_enrollments import make_event, make_users

OFFERDESK = Path(sys.executable).parent / "offerdesk"
METRICS_TOKEN = "metrics-secret-0123456789"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def app_overrides(compiled_reads: bool) -> dict[str, Any]:
    # Both read paths (conftest): a known query answered directly names its operation for
    # the counters in its own place (graphql/http.py).
    return {"metrics_token": METRICS_TOKEN, "compiled_reads": compiled_reads}


def parse(text: str) -> Samples:
    """Every sample of a scrape, by (name, labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: AsyncClient) -> Samples:
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def test_metrics_need_the_metrics_token(client: AsyncClient, token: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {token}"}):
        response = await client.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "offerdesk_" not in response.text


async def test_metrics_are_off_without_the_setting(database_url: str) -> None:
    from httpx import ASGITransport

    from offerdesk.app import create_app
    from offerdesk.config import Settings

    app = create_app(Settings(database_url=database_url))
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
        response = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    await app.state.db.dispose()
    assert response.status_code == 404


def test_a_short_metrics_token_is_refused() -> None:
    from pydantic import ValidationError

    from offerdesk.config import Settings

    with pytest.raises(ValidationError, match="16 characters"):
        Settings(metrics_token="short")


async def test_requests_are_counted_by_route_operation_and_status(
    client: AsyncClient, api: Api
) -> None:
    before = await scrape(client)
    for _ in range(3):
        assert "errors" not in await api("query Catalogue { offers { id } }")
    refused = await client.post("/graphql", json={"query": "{ offers { id } }"})
    assert refused.status_code == 401
    after = await scrape(client)

    def grew(**labels: str) -> float:
        name = "offerdesk_http_requests_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew(route="/graphql", operation="Catalogue", status="200") == 3
    assert grew(route="/graphql", operation="-", status="401") == 1
    buckets = "offerdesk_http_request_duration_seconds_count"
    assert value(after, buckets, route="/graphql") - value(before, buckets, route="/graphql") == 4
    # The pools: what they may open, and what they hold.
    assert value(after, "offerdesk_db_pool_capacity") > 0
    assert value(after, "offerdesk_db_connections_open") >= 1
    assert value(after, "offerdesk_db_connections_in_use") >= 0


async def test_enrollments_are_counted_by_outcome(
    client: AsyncClient, api: Api, db: Database
) -> None:
    queue = await make_event(db, capacity=1, waiting_list=True)
    closed = await make_event(db, capacity=1, waiting_list=False)
    ada, bob, cy = await make_users(db, 3)
    enroll = """mutation($u: UUID!, $e: UUID!) {
      enrollUserInOfferEvent(enrollment: {userId: $u, offerEventId: $e}) { enrollment { id } } }"""
    before = await scrape(client)
    await api.data(enroll, {"u": ada, "e": queue})
    await api.data(enroll, {"u": bob, "e": queue})
    await api.data(enroll, {"u": ada, "e": closed})
    full = await api(enroll, {"u": cy, "e": closed})
    assert full["errors"][0]["extensions"]["code"] == "EVENT_FULL"
    await api.data(
        "mutation($u: UUID!, $e: UUID!) { unenrollUserFromOfferEvent(userId: $u, offerEventId: $e)"
        " { success } }",
        {"u": ada, "e": queue},
    )
    after = await scrape(client)

    def grew(outcome: str) -> float:
        name = "offerdesk_enrollments_total"
        return value(after, name, outcome=outcome) - value(before, name, outcome=outcome)

    assert {
        outcome: grew(outcome)
        for outcome in ("enroll", "waitlist", "EVENT_FULL", "unenroll", "promotion")
    } == {"enroll": 2, "waitlist": 1, "EVENT_FULL": 1, "unenroll": 1, "promotion": 1}


async def test_a_keyed_request_counts_the_enrollments_it_kept(
    client: AsyncClient, token: str, db: Database
) -> None:
    # With an Idempotency-Key the fields run in SAVEPOINTs of one transaction: the refused
    # second one is rolled back alone, and the first one's enrollment is still counted.
    event = await make_event(db, capacity=1, waiting_list=False)
    ada, bob = await make_users(db, 2)
    both = f"""mutation {{
      a: enrollUserInOfferEvent(enrollment: {{userId: "{ada}", offerEventId: "{event}"}}) {{
        enrollment {{ status }} }}
      b: enrollUserInOfferEvent(enrollment: {{userId: "{bob}", offerEventId: "{event}"}}) {{
        enrollment {{ status }} }} }}"""
    before = await scrape(client)
    response = await client.post(
        "/graphql",
        json={"query": both},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "two-enrollments"},
    )
    answer = response.json()
    assert answer["data"] == {"a": {"enrollment": {"status": "ENROLLED"}}, "b": None}
    assert answer["errors"][0]["extensions"]["code"] == "EVENT_FULL"
    after = await scrape(client)
    name = "offerdesk_enrollments_total"
    assert {
        outcome: value(after, name, outcome=outcome) - value(before, name, outcome=outcome)
        for outcome in ("enroll", "EVENT_FULL")
    } == {"enroll": 1, "EVENT_FULL": 1}


@contextmanager
def two_workers(database_url: str) -> Iterator[str]:
    """``offerdesk serve --workers 2`` with metrics on; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "OFFERDESK_DATABASE_URL": database_url,
        "OFFERDESK_METRICS_TOKEN": METRICS_TOKEN,
        "OFFERDESK_LOG_LEVEL": "WARNING",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        [str(OFFERDESK), "serve", "--no-migrate", "--workers", "2", "--port", str(port)], env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


async def test_every_worker_is_counted_whichever_answers(database_url: str, token: str) -> None:
    requests = 20
    totals = []
    # No keep-alive: every request on a new connection, so both workers get a share.
    limits = httpx.Limits(max_keepalive_connections=0)
    with two_workers(database_url) as url:
        async with httpx.AsyncClient(base_url=url, limits=limits) as http:
            for _ in range(requests):
                response = await http.post(
                    "/graphql",
                    json={"query": "query Spread { offers { id } }"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert response.status_code == 200
            for _ in range(6):
                scraped = await http.get(
                    "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
                )
                assert scraped.status_code == 200
                totals.append(
                    value(
                        parse(scraped.text),
                        "offerdesk_http_requests_total",
                        route="/graphql",
                        operation="Spread",
                        status="200",
                    )
                )
    assert totals == [requests] * 6
