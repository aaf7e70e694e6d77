"""Real ``offerdesk serve`` processes for the concurrency tests, and a storm of requests."""

import asyncio
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

ROOT = Path(__file__).resolve().parents[2]
OFFERDESK = Path(sys.executable).parent / "offerdesk"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
def servers(
    database_url: str, count: int, settings: dict[str, str] | None = None
) -> Iterator[list[str]]:
    """Start ``count`` separate ``offerdesk serve`` processes on one database; yield their
    base URLs. ``settings`` are further ``OFFERDESK_*`` environment variables for them."""
    env = {
        **os.environ,
        "OFFERDESK_DATABASE_URL": database_url,
        "OFFERDESK_LOG_LEVEL": "WARNING",
        **(settings or {}),
    }
    processes: list[subprocess.Popen[bytes]] = []
    urls = []
    try:
        for _ in range(count):
            port = free_port()
            argv = [str(OFFERDESK), "serve", "--no-migrate", "--port", str(port)]
            process = subprocess.Popen(argv, cwd=ROOT, env=env)
            processes.append(process)
            urls.append(f"http://127.0.0.1:{port}")
        for url, process in zip(urls, processes, strict=True):
            _wait_until_up(url, process)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


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
