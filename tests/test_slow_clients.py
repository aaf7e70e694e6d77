"""A slow client holds nothing (issue 15, item 3), against a real ``offerdesk serve`` process.

Fifty connections carrying a valid token send their headers and part of a body (or a chunked
body without its end; five with an Idempotency-Key) and then nothing. Before, each of them
held a pooled database connection (authentication came before the body): a pool of 20 was
empty and every other request waited 30 s and failed. Now ordinary requests on the same
process keep being answered (their latencies are printed with ``-s``, never asserted), and
the stalled ones get 408 once their body time-out is over. Headers that never end, or are
too large or too many, get 408 or 431.

The pool is made small (2 connections on PostgreSQL) and the request budget (2 s) shorter
than the body time-out (6 s), so that holding a connection per stalled client would fail the
ordinary requests with 503 (checked by moving authentication back before the body read).
"""

import asyncio
import contextlib
import statistics
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from .concurrency.servers import servers

SLOW_BODIES = 40
SLOW_CHUNKED = 5
# With an Idempotency-Key: its middleware reads the body before the endpoint does.
SLOW_KEYED = 5
ORDINARY = 30
QUERY = b'{"query": "{ offers { id } }"}'


@pytest.fixture
def server(database_url: str, token: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # A request budget shorter than the body time-out: a request queued behind the stalled
    # ones for a pooled connection would run out of it (503) long before they are sent away.
    monkeypatch.setenv("OFFERDESK_BODY_READ_TIMEOUT_SECONDS", "6")
    monkeypatch.setenv("OFFERDESK_REQUEST_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("OFFERDESK_HEADER_READ_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("OFFERDESK_DB_POOL_SIZE", "2")
    monkeypatch.setenv("OFFERDESK_DB_MAX_OVERFLOW", "0")
    monkeypatch.setenv("OFFERDESK_MAX_HEADER_BYTES", "16384")
    with servers(database_url, 1) as [url]:
        yield url


async def _open(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def _status_of(reader: asyncio.StreamReader) -> int:
    """The status code of the answer on a raw connection (0 when closed without one)."""
    line = await asyncio.wait_for(reader.readline(), timeout=60)
    return int(line.split()[1]) if line else 0


async def test_fifty_stalled_bodies_leave_ordinary_requests_answered(
    server: str, token: str
) -> None:
    stalled = []
    for index in range(SLOW_BODIES + SLOW_CHUNKED + SLOW_KEYED):
        reader, writer = await _open(server)
        head = (
            f"POST /graphql HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\n"
        )
        if index >= SLOW_BODIES + SLOW_CHUNKED:
            head += f"Idempotency-Key: stalled-{index}\r\n"
        if index < SLOW_BODIES or index >= SLOW_BODIES + SLOW_CHUNKED:
            writer.write((head + f"Content-Length: {len(QUERY)}\r\n\r\n").encode() + QUERY[:10])
        else:
            writer.write((head + "Transfer-Encoding: chunked\r\n\r\n").encode() + b"a\r\n")
            writer.write(QUERY[:10] + b"\r\n")
        await writer.drain()
        stalled.append((reader, writer))
    await asyncio.sleep(0.2)  # every stalled request has reached the application

    latencies = []
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server, headers=headers, timeout=60) as client:
        for _ in range(ORDINARY):
            began = time.perf_counter()
            response = await client.post(
                "/graphql", content=QUERY, headers={"content-type": "application/json"}
            )
            latencies.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, response.text
            assert response.json() == {"data": {"offers": []}}
    print(
        f"\n{SLOW_BODIES + SLOW_CHUNKED + SLOW_KEYED} stalled bodies open; "
        f"{ORDINARY} ordinary requests: median {statistics.median(latencies):.1f} ms,"
        f" max {max(latencies):.1f} ms",
        file=sys.stderr,
    )

    # The stalled ones are answered 408 once their body time-out is over, and closed.
    statuses = await asyncio.gather(*(_status_of(reader) for reader, _ in stalled))
    assert statuses == [408] * len(stalled)
    for _, writer in stalled:
        writer.close()


async def test_headers_too_large_too_many_or_too_slow_are_refused(server: str) -> None:
    cases = {
        "a 1 MB header": b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: "
        + b"a" * 1_000_000
        + b"\r\n\r\n",
        "10,000 headers": b"GET /healthz HTTP/1.1\r\nHost: t\r\n"
        + b"".join(b"X-H%d: 1\r\n" % i for i in range(10_000))
        + b"\r\n",
    }
    for name, request in cases.items():
        reader, writer = await _open(server)
        writer.write(request)
        # The server may close before reading it all: the answer is already sent.
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        assert await _status_of(reader) == 431, name
        writer.close()

    # Headers that never end, and a connection that never sends anything.
    never_ending = await _open(server)
    never_ending[1].write(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n")
    silent = await _open(server)
    assert await _status_of(never_ending[0]) == 408
    assert await _status_of(silent[0]) == 408
    # read() returns at end of stream: the connection was closed after the answer.
    assert (await never_ending[0].read()).endswith(b"\r\n\r\n")
    for _, writer in (never_ending, silent):
        writer.close()

    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        assert (await client.get("/healthz")).status_code == 200
