"""Real ``offerdesk serve`` processes for the concurrency tests, and a storm of requests."""

import asyncio
import concurrent.futures
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[2]
OFFERDESK = Path(sys.executable).parent / "offerdesk"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# Each server process's pool is sized to what the PostgreSQL server can still accept, shared
# with everything else running on it; below this many connections per process a storm would
# only measure waiting for connections, so the test stops and says so instead.
MIN_CONNECTIONS_PER_PROCESS = 4
# Connections the test process itself holds meanwhile (its fixtures' engines, an admin one).
TEST_PROCESS_CONNECTIONS = 6
DEFAULT_POOL, DEFAULT_OVERFLOW = 10, 10


async def _slots(database_url: str) -> tuple[int, int]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT current_setting('max_connections')::int"
                        " - current_setting('superuser_reserved_connections')::int,"
                        " (SELECT count(*) FROM pg_stat_activity"
                        "  WHERE backend_type = 'client backend')"
                    )
                )
            ).one()
            return int(row[0]), int(row[1])
    finally:
        await engine.dispose()


def free_connection_slots(database_url: str) -> tuple[int, int]:
    """(connections ordinary users may open on the server, connections open now)."""
    # In a thread: the caller may be inside an event loop already (an async test).
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _slots(database_url)).result()


def pool_sizes(allowed: int, in_use: int, processes: int) -> tuple[int, int] | str:
    """(pool size, max overflow) per server process so that ``processes`` of them fit in
    what the server has left, at most the defaults; or why they cannot (one line)."""
    free = allowed - in_use - TEST_PROCESS_CONNECTIONS
    per_process = free // processes
    if per_process < MIN_CONNECTIONS_PER_PROCESS:
        return (
            f"PostgreSQL has {max(allowed - in_use, 0)} free connection slots"
            f" ({in_use} of {allowed} in use); {processes} server process(es) need at least"
            f" {processes * MIN_CONNECTIONS_PER_PROCESS + TEST_PROCESS_CONNECTIONS}:"
            " close other clients or raise max_connections"
        )
    pool = min(DEFAULT_POOL, max(MIN_CONNECTIONS_PER_PROCESS // 2, per_process // 2))
    return pool, min(DEFAULT_OVERFLOW, per_process - pool)


def pool_environment(database_url: str, processes: int) -> dict[str, str]:
    """OFFERDESK_DB_POOL_SIZE/MAX_OVERFLOW for server processes on ``database_url``; fails
    the test in one line when the server has too few connections left."""
    if not make_url(database_url).get_backend_name().startswith("postgresql"):
        return {}
    sizes = pool_sizes(*free_connection_slots(database_url), processes)
    if isinstance(sizes, str):
        pytest.fail(sizes, pytrace=False)
    return {"OFFERDESK_DB_POOL_SIZE": str(sizes[0]), "OFFERDESK_DB_MAX_OVERFLOW": str(sizes[1])}


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server at {url} exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not start within {timeout} s")


@contextmanager
def server_processes(
    database_url: str, count: int, settings: dict[str, str] | None = None
) -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    """Start ``count`` separate ``offerdesk serve`` processes on one database; yield each one's
    base URL and process (a crash test kills one). ``settings`` are further ``OFFERDESK_*``
    environment variables for them."""
    env = {
        **os.environ,
        "OFFERDESK_DATABASE_URL": database_url,
        "OFFERDESK_LOG_LEVEL": "WARNING",
        **pool_environment(database_url, count),
        **(settings or {}),
    }
    started: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        for _ in range(count):
            port = free_port()
            argv = [str(OFFERDESK), "serve", "--no-migrate", "--port", str(port)]
            started.append((f"http://127.0.0.1:{port}", subprocess.Popen(argv, cwd=ROOT, env=env)))
        for url, process in started:
            _wait_until_up(url, process)
        yield started
    finally:
        for _, process in started:
            process.terminate()
        for _, process in started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def servers(
    database_url: str, count: int, settings: dict[str, str] | None = None
) -> Iterator[list[str]]:
    """``server_processes``, yielding only the base URLs."""
    with server_processes(database_url, count, settings) as started:
        yield [url for url, _ in started]


async def storm(
    urls: Sequence[str], token: str, bodies: Sequence[dict[str, Any]], path: str = "/graphql"
) -> tuple[list[dict[str, Any]], float]:
    """POST every body at once, spread round-robin over the servers; (answers, seconds)."""
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=len(bodies))
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(limits=limits, timeout=120, headers=headers) as client:
        start = asyncio.Event()

        async def one(index: int, body: dict[str, Any]) -> dict[str, Any]:
            await start.wait()
            response = await client.post(f"{urls[index % len(urls)]}{path}", json=body)
            answer: dict[str, Any] = response.json()
            answer["_status"] = response.status_code
            return answer

        tasks = [asyncio.create_task(one(i, body)) for i, body in enumerate(bodies)]
        await asyncio.sleep(0)
        began = time.perf_counter()
        start.set()
        answers = await asyncio.gather(*tasks)
        return list(answers), time.perf_counter() - began
