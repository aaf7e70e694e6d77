"""The load runner: ``python -m bench.run [--profile full|smoke]`` (``make bench``).

For each engine it builds (or reuses) the dataset, counts each scenario's SQL statements by
running one request in-process, starts real ``offerdesk serve`` processes (two workers on
PostgreSQL, one on SQLite) with the floor route on, and drives them with wrk: for every
scenario first the floor (the same process answering a precomputed body of the scenario's
response size from a plain route), then the scenario itself. Peak memory is each worker's
VmHWM, reset before each scenario. After the enrollment storm, SQL checks that no event is
oversold and every counter matches its rows.

Writes bench/RESULTS.md and bench/results.json (smoke: bench/data/RESULTS-smoke.md/.json).
"""

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.datagen import ensure
from bench.datasets import BENCH, DATA, DATASETS, PROFILES, ROOT, Dataset
from bench.scenarios import Q3, SCENARIOS, InProcess, Scenario

OFFERDESK = Path(sys.executable).parent / "offerdesk"
LUA = BENCH / "wrk" / "graphql.lua"
PAGE_SIZES = (10, 50, 100)


@dataclass(frozen=True)
class Load:
    """How hard wrk pushes: read scenarios and the storm."""

    duration: int  # seconds per wrk run
    warmup: int
    read_connections: int = 8
    read_threads: int = 1
    storm_connections: int = 1000
    storm_threads: int = 2
    scaling_rounds: int = 5  # Q1 at 1k vs 100k events: alternating 5 s runs, this many each


LOADS = {
    "full": Load(duration=10, warmup=3),
    "smoke": Load(duration=1, warmup=0, read_connections=4),
}


# --- the server -------------------------------------------------------------------------------


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a server process: SIGTERM, then SIGKILL after 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    """A TCP port on the loopback that nothing listens on now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return children


def workers_of(root: int) -> list[int]:
    """The worker processes uvicorn's supervisor ``root`` has now (it replaces a worker whose
    event loop stayed blocked too long)."""
    pids = []
    for pid in _children(root):
        try:
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(pid)
        except FileNotFoundError:
            continue  # exited since it was listed
    return pids


def _worker_pids(process: subprocess.Popen[bytes], workers: int) -> list[int]:
    """uvicorn serves in the process itself with one worker, else in spawned children."""
    if workers == 1:
        return [process.pid]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pids = workers_of(process.pid)
        if len(pids) == workers:
            return pids
        time.sleep(0.1)
    raise RuntimeError("the server's workers did not all start")


# Q1's scaling comparison is about what a computed request costs as the data grows. With the
# response cache on, Q1's random ids over the 1k-event dataset repeat within seconds (4,000
# requests over 1,000 ids) and are answered from memory; over 100k events they almost never do.
NO_CACHE = {"OFFERDESK_RESPONSE_CACHE_MB": "0"}


@contextmanager
def server(
    d: Dataset, workers: int, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[str, list[int]]]:
    port = free_port()
    env = {
        **os.environ,
        "OFFERDESK_DATABASE_URL": d.url,
        "OFFERDESK_BENCH_FLOOR": "1",
        "OFFERDESK_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    argv = [str(OFFERDESK), "serve", "--no-migrate", "--workers", str(workers)]
    # wrk drops its connections mid-request when a run ends; the server logs each of those,
    # so its output goes to a file rather than between the figures.
    log = (DATA / f"server-{d.name}.log").open("ab")
    process = subprocess.Popen(
        [*argv, "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"offerdesk serve exited with {process.returncode}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("offerdesk serve did not start")
            time.sleep(0.1)
        yield url, _worker_pids(process, workers)
    finally:
        stop_process(process)
        log.close()


def _times(pid: int) -> tuple[float, float]:
    """User + system CPU seconds of ``pid`` itself and of the children it has reaped."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks, (int(fields[13]) + int(fields[14])) / ticks


def cpu_seconds(pids: list[int]) -> list[float]:
    """User + system CPU time each worker has used so far (/proc/<pid>/stat)."""
    return [_times(pid)[0] for pid in pids]


# A server's CPU seconds so far: all its processes together, and each worker's own by pid.
Usage = Callable[[], tuple[float, dict[int, float]]]


def workers_cpu(pids: list[int]) -> tuple[float, dict[int, float]]:
    """A ``Usage`` of these workers, for as long as they all live."""
    used = cpu_seconds(pids)
    return sum(used), dict(zip(pids, used, strict=True))


def server_cpu(root: int) -> tuple[float, dict[int, float]]:
    """A ``Usage`` of the server process ``root`` that stays right when uvicorn replaces a
    worker: a worker that has exited is counted in its supervisor's reaped children. A server
    without workers serves in ``root`` itself."""
    own, reaped = _times(root)
    workers = {}
    for pid in workers_of(root):
        try:
            workers[pid] = _times(pid)[0]
        except FileNotFoundError:
            continue  # exited since it was listed: counted once the supervisor reaps it
    return own + reaped + sum(workers.values()), workers or {root: own}


def balanced(
    run: Callable[[], dict[str, Any]], usage: Usage, attempts: int = 3
) -> tuple[dict[str, Any], float, list[list[float]]]:
    """The last of up to ``attempts`` wrk runs: its figures and the server's CPU seconds
    during it, with every run's CPU seconds per worker.

    uvicorn's workers share one listening socket, and one of them can accept all of wrk's
    connections at once, leaving the other idle (a finding of its own, see README). To
    measure two workers, a run whose CPU split is lopsided is made again on new connections
    (not after a worker was replaced: the new one started during the run).
    """
    tried: list[list[float]] = []
    for _ in range(attempts):
        total_before, before = usage()
        figures = run()
        total_after, after = usage()
        tried.append([after[pid] - before[pid] for pid in after if pid in before])
        if after.keys() != before.keys() or min(tried[-1]) >= 0.5 * max(tried[-1]):
            break
    return figures, total_after - total_before, tried


def reset_peak_memory(pids: list[int]) -> None:
    for pid in pids:
        # "5" resets the peak resident set size (VmHWM) to the current one (proc(5)).
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_memory_mib(pids: list[int]) -> list[float]:
    peaks = []
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        peaks.append(round(int(match.group(1)) / 1024, 1) if match else float("nan"))
    return peaks


# --- wrk --------------------------------------------------------------------------------------


def wrk(
    url: str,
    path: str,
    scenario: Scenario,
    d: Dataset,
    token: str,
    connections: int,
    threads: int,
    duration: int,
) -> dict[str, Any]:
    env = {
        **os.environ,
        "BENCH_BODY": scenario.body_template(),
        "BENCH_IDS": str(d.directory / scenario.ids_file) if scenario.ids_file else "",
        "BENCH_MODE": scenario.mode,
        "BENCH_THREADS": str(threads),
        "BENCH_TOKEN": token,
        "BENCH_PATH": path,
    }
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "60s",
        "-s",
        str(LUA),
        url,
    ]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            figures: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            seconds = figures["duration_us"] / 1e6
            figures["rps"] = round(figures["requests"] / seconds, 1)
            figures["errors"] = (
                figures["connect_errors"]
                + figures["read_errors"]
                + figures["write_errors"]
                + figures["timeouts"]
                + figures["bad_status"]
                + figures["graphql_errors"]
            )
            return figures
    raise RuntimeError(f"wrk printed no figures:\n{done.stdout}\n{done.stderr}")


# --- the database -----------------------------------------------------------------------------

STORM_EVENTS = (
    "SELECT e.id FROM offer_events e JOIN offers o ON o.id = e.offer_id WHERE o.ref = 'storm'"
)

INVARIANTS = {
    # More people seated than seats, by the counter or by the rows.
    "oversold": """
        SELECT count(*) FROM offer_events e
        LEFT JOIN (SELECT offer_event_id, count(*) AS n FROM enrollments
                   WHERE status = 'ENROLLED' GROUP BY offer_event_id) r
          ON r.offer_event_id = e.id
        WHERE e.max_participants IS NOT NULL
          AND (e.enrolled_count > e.max_participants OR COALESCE(r.n, 0) > e.max_participants)
    """,
    # A counter that does not match the event's enrollment rows.
    "counter_mismatch": """
        SELECT count(*) FROM offer_events e
        LEFT JOIN (SELECT offer_event_id,
                          SUM(CASE WHEN status = 'ENROLLED' THEN 1 ELSE 0 END) AS enrolled,
                          SUM(CASE WHEN status = 'WAITLISTED' THEN 1 ELSE 0 END) AS waiting,
                          MAX(waitlist_seq) AS seq
                   FROM enrollments GROUP BY offer_event_id) r
          ON r.offer_event_id = e.id
        WHERE e.enrolled_count <> COALESCE(r.enrolled, 0)
           OR e.waitlisted_count <> COALESCE(r.waiting, 0)
           OR e.waitlist_seq < COALESCE(r.seq, 0)
    """,
    # Someone waits while a seat is free.
    "waiting_with_free_seat": """
        SELECT count(*) FROM offer_events
        WHERE waitlisted_count > 0
          AND (max_participants IS NULL OR enrolled_count < max_participants)
    """,
}


async def _sql(d: Dataset, statements: list[str]) -> list[int]:
    engine = create_async_engine(d.url)
    results = []
    try:
        async with engine.begin() as connection:
            for statement in statements:
                result = await connection.execute(text(statement))
                results.append(int(result.scalar() or 0) if result.returns_rows else 0)
    finally:
        await engine.dispose()
    return results


def reset_storm(d: Dataset) -> None:
    """Empty the storm events again, so every M1 run starts from the same state."""
    asyncio.run(
        _sql(
            d,
            [
                "DELETE FROM enrollment_status_changes WHERE enrollment_id IN "
                f"(SELECT id FROM enrollments WHERE offer_event_id IN ({STORM_EVENTS}))",
                f"DELETE FROM enrollments WHERE offer_event_id IN ({STORM_EVENTS})",
                "UPDATE offer_events SET enrolled_count = 0, waitlisted_count = 0, "
                f"waitlist_seq = 0 WHERE id IN ({STORM_EVENTS})",
            ],
        )
    )


def check_storm(d: Dataset) -> dict[str, int]:
    names = list(INVARIANTS)
    storm = [
        f"SELECT count(*) FROM enrollments WHERE offer_event_id IN ({STORM_EVENTS})",
        f"SELECT count(*) FROM enrollments WHERE offer_event_id IN ({STORM_EVENTS}) "
        "AND status = 'ENROLLED'",
        f"SELECT count(*) FROM enrollments WHERE offer_event_id IN ({STORM_EVENTS}) "
        "AND status = 'WAITLISTED'",
    ]
    found = asyncio.run(_sql(d, [INVARIANTS[name] for name in names] + storm))
    checks = dict(zip(names, found, strict=False))
    checks["rows_created"], checks["enrolled"], checks["waitlisted"] = found[len(names) :]
    return checks


# --- one dataset ------------------------------------------------------------------------------


async def count_sql(d: Dataset, token: str, scenarios: list[Scenario]) -> dict[str, Any]:
    """Each scenario's request once, in-process: its SQL statements and response size."""
    app = InProcess(d, token)
    found: dict[str, Any] = {}
    try:
        q1 = SCENARIOS["Q1"]
        await app.run(q1.body(q1.ids(d)[0]))  # connect and warm every cache first
        for scenario in scenarios:
            rows = scenario.ids(d)
            # Twice, with the next line's ids where there is one (a second enrollment of the
            # same pair would change nothing): the first request of a document makes it known,
            # later ones are the steady state (graphql/direct.py), which is what is counted.
            await app.run(scenario.body(rows[0]))
            captured = await app.run(scenario.body(rows[min(1, len(rows) - 1)]))
            found[scenario.name] = {
                "statements": len(captured.statements),
                "response_bytes": captured.response_bytes,
            }
            if scenario.name == "Q3":
                by_size = {}
                for size in PAGE_SIZES:
                    await app.run({"query": Q3 % size})
                    sized = await app.run({"query": Q3 % size})
                    by_size[size] = len(sized.statements)
                found["Q3"]["statements_by_page_size"] = by_size
    finally:
        await app.close()
    return found


def run_dataset(
    d: Dataset,
    scenario_names: list[str],
    workers: int,
    load: Load,
    label: str | None = None,
    server_env: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    manifest = ensure(d)
    token = manifest["token"]
    scenarios = [SCENARIOS[name] for name in scenario_names]
    if "M1" in scenario_names:
        reset_storm(d)
    sql = asyncio.run(count_sql(d, token, scenarios))
    if "M1" in scenario_names:
        reset_storm(d)
    rows = []
    with server(d, workers, server_env) as (url, pids):
        for scenario in scenarios:
            storm = scenario.name == "M1"
            connections = load.storm_connections if storm else load.read_connections
            threads = load.storm_threads if storm else load.read_threads

            def drive(
                path: str,
                seconds: int,
                s: Scenario = scenario,
                c: int = connections,
                t: int = threads,
            ) -> dict[str, Any]:
                return wrk(url, path, s, d, token, c, t, seconds)

            size = sql[scenario.name]["response_bytes"]
            floor_path = f"/_bench/floor?bytes={size}"
            if load.warmup:
                if not storm:
                    drive("/graphql", load.warmup)
                drive(floor_path, load.warmup)
            reset_peak_memory(pids)
            load_before = os.getloadavg()[0]
            # The floor right before and right after: the machine's load drifts, and the
            # ratio should compare the scenario with the floor of the same moments.
            floor_before = drive(floor_path, load.duration)
            measured, cpu_used, tried = balanced(
                partial(drive, "/graphql", load.duration),
                partial(workers_cpu, pids),
                1 if storm else 3,
            )
            splits = [[round(c, 2) for c in used] for used in tried]
            floor_after = drive(floor_path, load.duration)
            if storm:
                # After the second floor run: requests still in flight when wrk stopped have
                # finished by now, so the counts are final.
                checks = check_storm(d)
            load_after = os.getloadavg()[0]
            floor = floor_before if floor_before["rps"] else floor_after
            floor_rps = round((floor_before["rps"] + floor_after["rps"]) / 2, 1)
            row = {
                "scenario": scenario.name,
                "title": scenario.title,
                "dataset": label or d.label(),
                "dataset_name": d.name,
                "workers": workers,
                "connections": connections,
                "duration_s": load.duration,
                "rps": measured["rps"],
                "p50_ms": round(measured["p50_us"] / 1000, 2),
                "p99_ms": round(measured["p99_us"] / 1000, 2),
                "errors": measured["errors"],
                "sql_per_request": sql[scenario.name]["statements"],
                "response_bytes": size,
                "floor_rps": floor_rps,
                "floor_rps_before_after": [floor_before["rps"], floor_after["rps"]],
                "floor_p50_ms": round(floor["p50_us"] / 1000, 2),
                "ratio_to_floor": round(measured["rps"] / floor_rps, 3) if floor_rps else 0,
                "peak_mib_per_worker": peak_memory_mib(pids),
                # The workers' own CPU time per answered request: what a request costs,
                # whatever else the machine was doing. Per worker, it also shows the balance.
                "cpu_s_per_worker": splits[-1],
                "cpu_splits_tried": splits,
                "worker_cpu_ms_per_request": round(
                    1000 * cpu_used / max(measured["requests"], 1), 2
                ),
                "load_average": [round(load_before, 2), round(load_after, 2)],
                "wrk": measured,
                "floor_wrk": [floor_before, floor_after],
            }
            if scenario.name == "Q3":
                row["sql_by_page_size"] = sql["Q3"]["statements_by_page_size"]
            if storm:
                row["storm"] = checks
                # Answered without an error within wrk's run (rows created also count the
                # requests that were still in flight when it stopped).
                answered = measured["requests"] - measured["errors"]
                row["enrollments_per_s"] = round(answered / (measured["duration_us"] / 1e6), 1)
            print(_line(row), flush=True)
            rows.append(row)
    return rows


def q1_scaling(big: Dataset, small: Dataset, workers: int, load: Load) -> dict[str, Any]:
    """Q1's latency on both datasets, in alternating runs against two servers that are up at
    the same time, so a change in the machine's load hits both alike."""
    q1 = SCENARIOS["Q1"]
    p50: dict[str, list[float]] = {big.name: [], small.name: []}
    tokens = {d.name: ensure(d)["token"] for d in (big, small)}
    with (
        server(big, workers, NO_CACHE) as (big_url, big_pids),
        server(small, workers, NO_CACHE) as (small_url, small_pids),
    ):
        servers = {big.name: (big, big_url, big_pids), small.name: (small, small_url, small_pids)}
        for d, url, _ in servers.values():
            if load.warmup:
                wrk(url, "/graphql", q1, d, tokens[d.name], load.read_connections, 1, 1)
        for _ in range(load.scaling_rounds):
            for name, (d, url, pids) in servers.items():
                figures, _, _ = balanced(
                    partial(wrk, url, "/graphql", q1, d, tokens[name], load.read_connections, 1, 5),
                    partial(workers_cpu, pids),
                )
                p50[name].append(round(figures["p50_us"] / 1000, 2))
    medians = {name: statistics.median(values) for name, values in p50.items()}
    change = medians[big.name] / medians[small.name] - 1
    print(f"  Q1 p50 by rounds: {p50} -> change {change:+.1%}", flush=True)
    return {
        "datasets": {big.name: big.label(), small.name: small.label()},
        "p50_ms_by_round": p50,
        "median_p50_ms": medians,
        "change": round(change, 3),
    }


def _line(row: dict[str, Any]) -> str:
    line = (
        f"  {row['scenario']:<3} {row['dataset_name']:<28} {row['rps']:>9.1f} req/s  "
        f"p50 {row['p50_ms']:>8.2f} ms  p99 {row['p99_ms']:>8.2f} ms  "
        f"sql {row['sql_per_request']:>2}  floor {row['floor_rps']:>8.1f}  "
        f"x{row['ratio_to_floor']:.3f}  errors {row['errors']}  "
        f"MiB {row['peak_mib_per_worker']}  cpu/req {row['worker_cpu_ms_per_request']} ms "
        f"{row['cpu_s_per_worker']}  load {row['load_average']}"
    )
    if "storm" in row:
        line += f"\n      storm: {row['enrollments_per_s']} enrollments/s {row['storm']}"
    return line


def postgres_reachable(d: Dataset) -> str | None:
    async def probe() -> None:
        engine = create_async_engine(d.url.rsplit("/", 1)[0] + "/postgres")
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"PostgreSQL unreachable: {exc.__class__.__name__}: {exc}"
    return None


# --- results ----------------------------------------------------------------------------------


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip()


def machine() -> dict[str, Any]:
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "wrk": wrk_version.split("[")[0].strip(),
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted_in_src": bool(_git("status", "--porcelain", "src")),
    }


def _ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    load = results["load"]
    out = [
        "# Benchmark results",
        "",
        f"`make bench` ({results['profile']} profile), {results['finished_at']}, commit "
        f"{m['commit']}{' with uncommitted changes in src/' if m['uncommitted_in_src'] else ''}. "
        f"Machine: {m['cpus']} CPUs, {m['memory_gib']} GiB, Python {m['python']}, {m['wrk']}; "
        "server, PostgreSQL and wrk share the machine (loopback).",
        f"Load average before the run: `{m['uptime']}` (other sessions use this machine too; "
        "each row gives the 1-minute load average before and after it).",
        "",
        f"wrk: reads {load['read_connections']} connections / {load['read_threads']} thread, "
        f"the storm {load['storm_connections']} connections / {load['storm_threads']} threads, "
        f"{load['duration']} s per run, after a {load['warmup']} s warm-up. **Floor**: the same "
        "server process answering a precomputed body of the scenario's response size from "
        "`/_bench/floor` (no GraphQL, no database), with the same requests and connections, "
        "measured right before and right after the scenario (the mean of the two). SQL/req: "
        "statements one request runs when computed, however they are sent (counted in-process "
        "on the scenario's second request, the steady state of known documents, response cache "
        "off). Peak "
        "memory: VmHWM of each worker, reset before the scenario. CPU ms/req: the workers' own CPU "
        "time during the scenario divided by the requests answered (for M1, by the requests "
        "wrk saw answered), with each worker's CPU seconds, which show how evenly the kernel "
        "spread wrk's connections over the workers.",
        "",
    ]
    for engine in results["engines"]:
        out += [f"## {engine['title']}", ""]
        if engine.get("skipped"):
            out += [f"Skipped: {engine['skipped']}", ""]
            continue
        out += [
            "| scenario | dataset | workers | req/s | p50 ms | p99 ms | SQL/req "
            "| floor req/s | ratio to floor | peak MiB/worker | CPU ms/req (s per worker) "
            "| errors | load avg |",
            "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for row in engine["rows"]:
            rps = row["rps"]
            name = row["scenario"]
            if "storm" in row:
                name += " (req/s = enrollments/s)"
                rps = row["enrollments_per_s"]
            out.append(
                f"| {name} | {row['dataset']} | {row['workers']} | {rps:,.1f} "
                f"| {_ms(row['p50_ms'])} | {_ms(row['p99_ms'])} | {row['sql_per_request']} "
                f"| {row['floor_rps']:,.1f} | {row['ratio_to_floor']:.3f} "
                f"| {' / '.join(f'{v:.0f}' for v in row['peak_mib_per_worker'])} "
                f"| {row['worker_cpu_ms_per_request']:.1f} "
                f"({' / '.join(f'{v:.1f}' for v in row['cpu_s_per_worker'])}) "
                f"| {row['errors']} | {row['load_average'][0]} → {row['load_average'][1]} |"
            )
        out.append("")
        for row in engine["rows"]:
            if "sql_by_page_size" in row:
                sizes = ", ".join(f"first={k}: {v}" for k, v in row["sql_by_page_size"].items())
                out.append(f"* Q3's SQL statements by page size: {sizes}.")
            if len(row.get("cpu_splits_tried", [])) > 1:
                out.append(
                    f"* {row['scenario']} ({row['dataset_name']}): workers' CPU seconds per "
                    f"attempt {row['cpu_splits_tried']} (run again while one worker had most "
                    "of the connections)."
                )
            if "storm" in row:
                s = row["storm"]
                out.append(
                    f"* M1: {row['wrk']['requests']} requests answered in {row['duration_s']} s, "
                    f"{s['rows_created']} enrollments created with those still in flight "
                    f"({s['enrolled']} seated, "
                    f"{s['waitlisted']} waiting), {row['errors']} errors; after the run "
                    f"{s['oversold']} events oversold, {s['counter_mismatch']} counters off "
                    f"their rows, {s['waiting_with_free_seat']} waiting beside a free seat "
                    "(whole database)."
                )
        if engine.get("q1_scaling"):
            scaling = engine["q1_scaling"]
            runs = "; ".join(
                f"{scaling['datasets'][name]}: {', '.join(map(str, values))}"
                for name, values in scaling["p50_ms_by_round"].items()
            )
            out.append(
                f"* Q1 p50 (ms) in alternating 5 s runs against both datasets' servers, both "
                f"with the response cache off (its random ids repeat within seconds over 1k "
                f"events, almost never over 100k): {runs}; "
                f"change of the medians {scaling['change']:+.1%}."
            )
        out.append("")
    if results.get("targets"):
        out += ["## Targets (PostgreSQL, 2 workers)", "", "| target | measured | met |"]
        out.append("|---|---|---|")
        for target in results["targets"]:
            out.append(
                f"| {target['target']} | {target['measured']} "
                f"| {'yes' if target['met'] else '**no**'} |"
            )
        out.append("")
    return "\n".join(out)


def targets(rows: list[dict[str, Any]], scaling: dict[str, Any] | None) -> list[dict[str, Any]]:
    main = {r["scenario"]: r for r in rows if r["dataset_name"] != "offerdesk_bench_1k"}
    found = []
    if "Q1" in main:
        ratio = main["Q1"]["ratio_to_floor"]
        found.append(
            {"target": "Q1 ≥ 0.15 x floor", "measured": f"{ratio:.3f} x", "met": ratio >= 0.15}
        )
    if "Q3" in main:
        q3 = main["Q3"]
        found.append(
            {
                "target": "Q3 ≥ 50 req/s",
                "measured": f"{q3['rps']:.1f} req/s",
                "met": q3["rps"] >= 50,
            }
        )
        sizes = q3["sql_by_page_size"]
        found.append({
            "target": "SQL statements per request independent of page size",
            "measured": ", ".join(f"first={k}: {v}" for k, v in sizes.items()),
            "met": len(set(sizes.values())) == 1,
        })  # fmt: skip
    if "M1" in main:
        m1 = main["M1"]
        s = m1["storm"]
        found.append({
            "target": "M1 ≥ 500 enrollments/s, zero errors, zero oversold",
            "measured": f"{m1['enrollments_per_s']:.1f}/s, {m1['errors']} errors, "
            f"{s['oversold']} oversold",
            "met": m1["enrollments_per_s"] >= 500 and m1["errors"] == 0 and s["oversold"] == 0,
        })  # fmt: skip
    if scaling:
        medians = scaling["median_p50_ms"]
        big, little = (medians[name] for name in scaling["datasets"])
        rounds = len(next(iter(scaling["p50_ms_by_round"].values())))
        found.append({
            "target": "Q1 p50 at 1k and 100k events within 20%",
            "measured": f"{little:.2f} ms at 1k vs {big:.2f} ms at 100k "
            f"({scaling['change']:+.0%}; medians of {rounds} alternating runs)",
            "met": abs(scaling["change"]) <= 0.20,
        })  # fmt: skip
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--engine", choices=["postgresql", "sqlite"], action="append")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), action="append")
    parser.add_argument("--duration", type=int, help="seconds per wrk run")
    parser.add_argument("--output", type=Path, help="RESULTS file (default by profile)")
    parser.add_argument(
        "--no-scaling", action="store_true", help="skip Q1 on the 1k-event dataset (quick runs)"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk; `make bench` does it)")
    load = LOADS[args.profile]
    if args.duration:
        load = Load(duration=args.duration, warmup=min(load.warmup, args.duration))
    names = args.scenario or list(SCENARIOS)
    started = datetime.now(UTC)
    results: dict[str, Any] = {
        "profile": args.profile,
        "started_at": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "load": load.__dict__,
        "engines": [],
    }
    print(f"bench ({args.profile}): {results['machine']['uptime']}", flush=True)
    for engine, main_name, small_name in PROFILES[args.profile]:
        if args.engine and engine not in args.engine:
            continue
        d = DATASETS[main_name]
        workers = 2 if engine == "postgresql" else 1
        title = f"{'PostgreSQL' if engine == 'postgresql' else 'SQLite'} ({workers} workers)"
        if workers == 1:
            title = title.replace("workers", "worker")
        entry: dict[str, Any] = {"engine": engine, "title": title, "rows": []}
        results["engines"].append(entry)
        skipped = postgres_reachable(d) if engine == "postgresql" else None
        if skipped:
            entry["skipped"] = skipped
            print(f"{engine}: {skipped}", flush=True)
            continue
        print(f"{title}: {d.label()}", flush=True)
        entry["rows"] += run_dataset(d, names, workers, load)
        if small_name and "Q1" in names and not args.no_scaling:
            small = DATASETS[small_name]
            no_cache = f"{small.label()}, response cache off"
            entry["rows"] += run_dataset(small, ["Q1"], workers, load, no_cache, NO_CACHE)
            entry["q1_scaling"] = q1_scaling(d, small, workers, load)
        if engine == "postgresql":
            results["targets"] = targets(entry["rows"], entry.get("q1_scaling"))
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["seconds"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    results["datasets"] = {
        name: {
            "label": d.label(),
            "generation_seconds": (d.manifest() or {}).get("generation_seconds"),
        }
        for name, d in DATASETS.items()
        if d.manifest()
    }
    output = args.output or (
        BENCH / "RESULTS.md" if args.profile == "full" else DATA / "RESULTS-smoke.md"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(results))
    default_json = "results.json" if args.profile == "full" else "results-smoke.json"
    # A named output (a quick before/after run) gets its JSON beside it, under its own name.
    json_path = output.with_suffix(".json") if args.output else output.with_name(default_json)
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {output} in {results['seconds']} s", flush=True)


if __name__ == "__main__":
    main()
