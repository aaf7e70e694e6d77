"""The longest a worker's event loop is held up under the heaviest compiled page (issue 10, item 8).

``offerdesk serve`` with 2 workers on the full dataset; wrk sends Q3u (the catalogue page,
``first: 100``, computed every time) over 8 connections while a probe sends ``GET /healthz``
every 5 ms on 4 connections of its own (so both workers are probed). A probe's wait is how
long that worker's event loop could not get to it: the stall every other request on the worker
sees. Reported: the probes' p50, p99 and maximum, for compiled reads and for the executor
(``OFFERDESK_COMPILED_READS=0``), runs interleaved:

    .venv/bin/python -m bench.loop_stall --duration 20 --rounds 2
"""

import argparse
import asyncio
import json
import statistics
import threading
import time
from typing import Any

import httpx

from bench.datagen import ensure
from bench.datasets import DATASETS
from bench.run import NO_CACHE, server, wrk
from bench.scenarios import Q3, Scenario

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    d = DATASETS["offerdesk_bench"]
    manifest = ensure(d)
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
