"""The longest a worker's event loop is held up under the heaviest compiled page (issue 10, item 8).

``offerdesk serve`` with 2 workers on the full dataset; wrk sends Q3u (the catalogue page,
``first: 100``, computed every time) over 8 connections while a probe sends ``GET /healthz``
every 5 ms on 4 connections of its own (so both workers are probed). A probe's wait is how
long that worker's event loop could not get to it: the stall every other request on the worker
sees. Reported: the probes' p50, p99 and maximum, for compiled reads and for the executor
(``OFFERDESK_COMPILED_READS=0``), runs interleaved:

    .venv/bin/python -m bench.loop_stall --duration 20 --rounds 2

On this 2-core machine the database takes both cores under that load, so a probe's wait is
mostly the worker waiting for a core, not its loop being held. ``--steps PAGES`` measures the
loop itself: the same pages (compiled, 8 at a time) answered in-process, and the CPU time of
each turn of the loop (``longest_steps``): what a request's Python holds the loop for without
yielding.
"""

import argparse
import asyncio
import json
import statistics
import threading
import time
from typing import Any

import httpx
from httpx import ASGITransport, AsyncClient

from bench.datagen import ensure
from bench.datasets import DATASETS
from bench.run import NO_CACHE, server, wrk
from bench.scenarios import Q3, Scenario
from offerdesk.app import create_app, tune_gc
from offerdesk.config import Settings

PROBE_INTERVAL = 0.005
PROBE_CONNECTIONS = 4


async def _probe(url: str, stop: threading.Event, waits: list[float]) -> None:
    async def one_connection() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            while not stop.is_set():
                started = time.perf_counter()
                response = await client.get("/healthz")
                response.raise_for_status()
                waits.append(time.perf_counter() - started)
                await asyncio.sleep(PROBE_INTERVAL)

    await asyncio.gather(*(one_connection() for _ in range(PROBE_CONNECTIONS)))


def measure(url: str, scenario: Scenario, token: str, duration: int) -> dict[str, Any]:
    """wrk's figures for ``scenario`` and the probes' waits in milliseconds, in one run."""
    stop = threading.Event()
    waits: list[float] = []
    prober = threading.Thread(target=lambda: asyncio.run(_probe(url, stop, waits)))
    prober.start()
    try:
        d = DATASETS["offerdesk_bench"]
        load = wrk(url, "/graphql", scenario, d, token, 8, 1, duration)
    finally:
        stop.set()
        prober.join()
    ms = sorted(wait * 1000 for wait in waits)
    return {
        "rps": load["rps"],
        "errors": load["errors"],
        "probes": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[int(len(ms) * 0.99) - 1], 2),
        "max_ms": round(ms[-1], 2),
    }


async def longest_steps(token: str, pages: int, concurrency: int = 8) -> dict[str, Any]:
    """How long the loop is held between two of its turns (ms of the process's CPU time)
    while ``pages`` compiled catalogue pages of 100 are answered in-process, ``concurrency``
    at a time, after warm-up pages that make the document known.

    A task that yields at once (``asyncio.sleep(0)``) runs once every turn of the loop and
    notes the process's CPU time: between two notes is the work of one turn, every step and
    callback that ran in it, so the longest is an upper bound of the longest step. CPU time,
    not wall time: the database's work on the same cores, and the process waiting for one,
    are not counted as the loop's."""
    d = DATASETS["offerdesk_bench"]
    app = create_app(Settings(database_url=d.url, response_cache_mb=0, log_level="WARNING"))
    # As a serving process does at start-up (its lifespan), or full collections of the
    # start-up heap would be measured as the requests' steps.
    tune_gc()
    turns: list[float] = []
    done = asyncio.Event()

    async def watch() -> None:
        last = time.process_time()
        while not done.is_set():
            await asyncio.sleep(0)
            now = time.process_time()
            turns.append(now - last)
            last = now

    headers = {"Authorization": f"Bearer {token}"}
    async with AsyncClient(
        transport=ASGITransport(app=app), base_url="http://bench", headers=headers
    ) as client:

        async def page(nonce: int) -> None:
            body = {"query": Q3 % 100, "variables": {"nonce": nonce}}
            response = await client.post("/graphql", json=body)
            response.raise_for_status()

        # The document becomes known; the direct path compiles and prepares its statement.
        for warm_up in range(-concurrency - 1, 0):
            await page(warm_up)
        watcher = asyncio.create_task(watch())
        for start in range(0, pages, concurrency):
            await asyncio.gather(*(page(n) for n in range(start, start + concurrency)))
        done.set()
        await watcher
    await app.state.db.dispose()
    ms = sorted(turn * 1000 for turn in turns)
    return {
        "pages": pages,
        "turns": len(ms),
        "p99_ms": round(ms[int(len(ms) * 0.99)], 2),
        "p999_ms": round(ms[int(len(ms) * 0.999)], 2),
        "longest_ms": [round(m, 2) for m in ms[-5:]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, metavar="PAGES", help="the in-process measure")
    args = parser.parse_args()
    d = DATASETS["offerdesk_bench"]
    manifest = ensure(d)
    if args.steps:
        print(json.dumps(asyncio.run(longest_steps(manifest["token"], args.steps))))
        return
    # Q3u at the largest page size: every request its own cache key (an unused variable).
    scenario = Scenario("Q3u-100", "catalogue page of 100", Q3 % 100, "event_ids.txt", ("nonce",))
    results: dict[str, list[dict[str, Any]]] = {"compiled": [], "executor": []}
    for _ in range(args.rounds):
        for name, env in (("compiled", {}), ("executor", {"OFFERDESK_COMPILED_READS": "0"})):
            with server(d, 2, {**NO_CACHE, **env}) as (url, _workers):
                results[name].append(measure(url, scenario, manifest["token"], args.duration))
    for name, runs in results.items():
        worst = max(run["max_ms"] for run in runs)
        print(f"{name}: {json.dumps(runs)}")
        print(f"{name}: longest probe wait {worst} ms over {args.rounds} runs")


if __name__ == "__main__":
    main()
