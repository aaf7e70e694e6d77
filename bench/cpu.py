"""CPU per request in-process, compiled reads on and off: ``python -m bench.cpu``.

No server and no wrk: requests go straight into the ASGI app (no HTTP client either, so its
own cost is not counted), one at a time, and the process's CPU time is divided by their
number. With SQLite the database's work is in this process too; with PostgreSQL it is not
(as a server worker's CPU does not include it). Rounds alternate the two paths; the figures
are the medians. The response cache is off: every answer is computed (Q3 is then Q3u).
"""

import argparse
import asyncio
import json
import random
import statistics
import time
from typing import Any

from bench.datagen import ensure
from bench.datasets import DATASETS
from bench.scenarios import Q1, Q3
from offerdesk.app import create_app
from offerdesk.config import Settings


async def call(app: Any, body: bytes, token: str) -> tuple[int, bytes]:
    """One POST /graphql through the ASGI interface."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "server": ("bench", 80),
        "client": ("127.0.0.1", 1),
        "headers": [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def cpu_per_request(
    url: str, compiled: bool, bodies: list[bytes], token: str, count: int
) -> float:
    """Milliseconds of this process's CPU per request, after a warm-up."""
    app = create_app(Settings(database_url=url, response_cache_mb=0, compiled_reads=compiled))
    try:
        for body in bodies[:20]:
            status, answer = await call(app, body, token)
            if status != 200 or b'"errors"' in answer:
                raise RuntimeError(f"scenario request failed: {status} {answer[:500]!r}")
        start = time.process_time()
        for index in range(count):
            await call(app, bodies[index % len(bodies)], token)
        return (time.process_time() - start) / count * 1000
    finally:
        await app.state.db.dispose()


async def measure(url: str, token: str, event_ids: list[str], rounds: int) -> dict[str, Any]:
    rng = random.Random(1)
    q1 = [
        json.dumps({"query": Q1, "variables": {"id": rng.choice(event_ids)}}).encode()
        for _ in range(500)
    ]
    q3u = [json.dumps({"query": Q3 % 50}).encode()]
    results: dict[str, Any] = {}
    for name, bodies, count in (("Q1", q1, 2000), ("Q3u", q3u, 60)):
        runs: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(rounds):
            for compiled in (False, True):
                runs[compiled].append(await cpu_per_request(url, compiled, bodies, token, count))
        results[name] = {
            "executor_ms": round(statistics.median(runs[False]), 3),
            "compiled_ms": round(statistics.median(runs[True]), 3),
            "runs": {"executor": runs[False], "compiled": runs[True]},
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="offerdesk_bench_1k")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    dataset = DATASETS[args.dataset]
    manifest = ensure(dataset)
    event_ids = (dataset.directory / "event_ids.txt").read_text().split()
    results = asyncio.run(measure(dataset.url, manifest["token"], event_ids, args.rounds))
    for name, row in results.items():
        print(
            f"{dataset.name} {name}: executor {row['executor_ms']} ms CPU/request, "
            f"compiled {row['compiled_ms']} ms ({row['executor_ms'] / row['compiled_ms']:.1f}x)"
        )


if __name__ == "__main__":
    main()
