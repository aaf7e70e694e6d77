"""Offerdesk beside PostGraphile on the same database: ``python -m bench.comparison``.

Four targets answer Q1, Q2, Q3u and Q3 on the full PostgreSQL dataset, all up at once: the
**floor** (Offerdesk's plain route with a precomputed body of the scenario's size), Offerdesk
with **compiled** reads (the default), Offerdesk with ``OFFERDESK_COMPILED_READS=0`` (the
**executor**), and **PostGraphile** 5 (one Node 22 process). Both Offerdesk servers run two
workers with their default settings, the response cache included (Q3u defeats it, Q3 is what
it is for). Rounds interleave the targets, each round starting with the next one, so a change
in the machine's load hits them all alike; the figures are each target's medians over the
rounds. CPU ms/req is the serving processes' own CPU time (Offerdesk: its workers; PostGraphile:
the node process, all its threads) divided by the requests answered.

PostGraphile comes from bench/postgraphile/ (its package-lock.json pins postgraphile and the
``node`` package that brings Node 22), installed here with ``npm ci`` and never a dependency of
the service. It runs without authentication; Offerdesk checks its bearer token on every
request, and that check is part of Offerdesk's cost. What Offerdesk computes beyond columns
(``spotsAvailable``, ``contentTitle``, an offer's events by first date, the catalogue's
listing) is given to PostGraphile as SQL functions in a scratch schema created at the start and
dropped at the end. Before measuring, one sample of every scenario is asked of all three
servers and their answers must carry the same data.

Writes its section into bench/RESULTS.md (replacing an earlier one) and bench/comparison.json;
``--output`` puts the section into another file, and comparison.json beside it, for quick runs.
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from bench.datagen import asyncpg_dsn, ensure
from bench.datasets import BENCH, DATA, DATASETS, Dataset
from bench.run import (
    LOADS,
    Load,
    balanced,
    free_port,
    machine,
    server,
    server_cpu,
    stop_process,
    wrk,
)
from bench.scenarios import SCENARIOS, Scenario

POSTGRAPHILE = BENCH / "postgraphile"
NODE = POSTGRAPHILE / "node_modules" / ".bin" / "node"
SCRATCH = "offerdesk_bench_postgraphile"
SCENARIO_NAMES = ("Q1", "Q2", "Q3u", "Q3")
TARGETS = ("floor", "compiled", "executor", "postgraphile")
MARKER = "<!-- bench.comparison -->"

# PostGraphile's computed columns: functions taking the table's row, each the rule Offerdesk
# applies (events/models.py, events/service.py, offers/service.py).
SCRATCH_SQL = f"""
DROP SCHEMA IF EXISTS {SCRATCH} CASCADE;
CREATE SCHEMA {SCRATCH};
-- Null when unlimited, else the free seats, never below 0 (OfferEvent.spots_available).
CREATE FUNCTION {SCRATCH}.offer_events_spots_available(e public.offer_events) RETURNS integer
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN e.max_participants IS NULL THEN NULL
              ELSE greatest(e.max_participants - e.enrolled_count, 0) END
$$;
-- The title of the first linked content item (position 0 is the event's contentId).
CREATE FUNCTION {SCRATCH}.offer_events_content_title(e public.offer_events) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT c.title FROM public.offer_event_contents l
  JOIN public.content_items c ON c.id = l.content_item_id
  WHERE l.offer_event_id = e.id ORDER BY l.position LIMIT 1
$$;
-- Every event of the offer by first date, events without dates last, then by creation
-- (events.service.event_order).
CREATE FUNCTION {SCRATCH}.offers_offer_events(o public.offers)
RETURNS SETOF public.offer_events LANGUAGE sql STABLE AS $$
  SELECT e.* FROM public.offer_events e WHERE e.offer_id = o.id
  ORDER BY (SELECT min(d.start) FROM public.offer_event_dates d WHERE d.offer_event_id = e.id)
           NULLS LAST, e.created_at, e.id
$$;
-- paginatedOffers' rows: active and not archived, in creation order (offers.service).
CREATE FUNCTION {SCRATCH}.paginated_offers() RETURNS SETOF public.offers
LANGUAGE sql STABLE AS $$
  SELECT o.* FROM public.offers o WHERE o.is_active AND o.archived_at IS NULL
  ORDER BY o.created_at, o.id
$$;
"""

# The one place PostGraphile's documents differ from Offerdesk's: a relation's list is in no
# particular order unless asked, and Offerdesk sorts an event's dates by start (SPEC §3.7).
DATES = "dates {"
DATES_BY_START = "dates(orderBy: [START_ASC, ID_ASC]) {"

DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def postgraphile_scenario(scenario: Scenario) -> Scenario:
    """``scenario`` as PostGraphile is asked it: the same document but for the dates' order."""
    return replace(scenario, query=scenario.query.replace(DATES, DATES_BY_START))


# --- PostGraphile -----------------------------------------------------------------------------


def install() -> None:
    """``npm ci`` in bench/postgraphile/ unless its node_modules match package-lock.json."""
    installed = POSTGRAPHILE / "node_modules" / ".package-lock.json"
    lock = POSTGRAPHILE / "package-lock.json"
    if NODE.exists() and installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    if shutil.which("npm") is None:
        raise SystemExit("the PostGraphile comparator needs npm (Debian: apt-get install npm)")
    print("bench/postgraphile: npm ci ...", flush=True)
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"],
        cwd=POSTGRAPHILE,
        check=True,
        stdout=subprocess.DEVNULL,
    )


async def _execute(d: Dataset, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(asyncpg_dsn(d.url))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def scratch_schema(d: Dataset) -> Iterator[None]:
    """The computed columns' schema for as long as PostGraphile runs; dropped afterwards."""
    asyncio.run(_execute(d, SCRATCH_SQL))
    try:
        yield
    finally:
        asyncio.run(_execute(d, f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE"))


@contextmanager
def postgraphile(d: Dataset) -> Iterator[tuple[str, int]]:
    """A PostGraphile server over ``d``'s database: its URL and its process id."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": asyncpg_dsn(d.url),
        "SCRATCH_SCHEMA": SCRATCH,
        "PORT": str(port),
        "NODE_ENV": "production",
    }
    log = (DATA / f"postgraphile-{d.name}.log").open("ab")
    process = subprocess.Popen(
        [str(NODE), "server.mjs"], cwd=POSTGRAPHILE, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"PostGraphile exited with {process.returncode} (see {log.name})"
                )
            try:
                probe = httpx.post(f"{url}/graphql", json={"query": "{__typename}"}, timeout=1)
                if probe.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("PostGraphile did not start")
            time.sleep(0.2)
        yield url, process.pid
    finally:
        stop_process(process)
        log.close()


# --- the same data ----------------------------------------------------------------------------


def canonical(value: Any) -> Any:
    """``value`` with every RFC 3339 date-time as the instant it names: PostGraphile writes
    ``2027-01-18T11:00:00.000000+00:00`` where Offerdesk writes ``2027-01-18T11:00:00Z``."""
    if isinstance(value, dict):
        return {key: canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    if isinstance(value, str) and DATETIME.fullmatch(value):
        return datetime.fromisoformat(value).astimezone(UTC)
    return value


def _answer(url: str, body: dict[str, Any], token: str) -> tuple[Any, int]:
    response = httpx.post(
        f"{url}/graphql", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    answer = response.json()
    if response.status_code != 200 or "errors" in answer:
        raise RuntimeError(f"{url}: {response.status_code} {str(answer)[:500]}")
    return answer["data"], len(response.content)


def same_data(d: Dataset, token: str, urls: dict[str, str], scenario: Scenario) -> dict[str, int]:
    """One sample of ``scenario`` asked of every server; the answers' sizes in bytes. Raises
    unless both Offerdesk paths answer the same and PostGraphile the same data."""
    values = scenario.ids(d)[0]
    compiled, size = _answer(urls["compiled"], scenario.body(values), token)
    executor, executor_size = _answer(urls["executor"], scenario.body(values), token)
    ours = postgraphile_scenario(scenario).body(values)
    theirs, postgraphile_size = _answer(urls["postgraphile"], ours, token)
    if executor != compiled:
        raise RuntimeError(f"{scenario.name}: compiled reads and the executor answer differently")
    if canonical(theirs) != canonical(compiled):
        raise RuntimeError(f"{scenario.name}: PostGraphile's data differs from Offerdesk's")
    return {"compiled": size, "executor": executor_size, "postgraphile": postgraphile_size}


# --- the run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    root: int  # the server's first process: uvicorn's supervisor, or node


def supervisor(workers: list[int]) -> int:
    """The process that started uvicorn's ``workers`` (/proc/<pid>/stat's parent id)."""
    return int(Path(f"/proc/{workers[0]}/stat").read_text().rsplit(")", 1)[1].split()[1])


def measure(
    target: Target,
    scenario: Scenario,
    d: Dataset,
    token: str,
    floor_bytes: int,
    load: Load,
    attempts: int = 3,
) -> dict[str, Any]:
    """One wrk run of ``scenario`` against ``target``: req/s, latency, CPU per request. A run
    of Offerdesk whose two workers split the connections lopsidedly is made again on new
    connections, up to ``attempts`` times (bench.run.balanced)."""
    if target.name == "postgraphile":
        scenario = postgraphile_scenario(scenario)
    path = f"/_bench/floor?bytes={floor_bytes}" if target.name == "floor" else "/graphql"
    drive = partial(
        wrk, target.url, path, scenario, d, token, load.read_connections, load.read_threads
    )
    figures, cpu, tried = balanced(
        partial(drive, load.duration), partial(server_cpu, target.root), attempts
    )
    return {
        "rps": figures["rps"],
        "p50_ms": round(figures["p50_us"] / 1000, 2),
        "p99_ms": round(figures["p99_us"] / 1000, 2),
        "errors": figures["errors"],
        "requests": figures["requests"],
        "cpu_ms_per_request": round(1000 * cpu / max(figures["requests"], 1), 3),
        # Per worker, each attempt: how evenly the connections were spread.
        "cpu_s_per_worker": [[round(c, 2) for c in used] for used in tried],
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """A target's medians over the rounds, with every round's req/s and CPU beside them."""
    return {
        "rps": round(statistics.median(r["rps"] for r in runs), 1),
        "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 2),
        "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 2),
        "cpu_ms_per_request": round(statistics.median(r["cpu_ms_per_request"] for r in runs), 3),
        "errors": sum(r["errors"] for r in runs),
        "rounds": runs,
    }


def ratio(rps: float, base: float) -> float | None:
    """``rps`` as a multiple of ``base``; None when ``base`` answered nothing (a run too short
    for one computed page)."""
    return round(rps / base, 3) if base else None


def compare(d: Dataset, load: Load, rounds: int, names: list[str]) -> dict[str, Any]:
    """Every scenario of ``names`` against the four targets in ``rounds`` interleaved rounds."""
    token = ensure(d)["token"]
    install()
    scenarios = [SCENARIOS[name] for name in names]
    with ExitStack() as stack:
        stack.enter_context(scratch_schema(d))
        compiled_url, compiled_workers = stack.enter_context(server(d, 2))
        executor_url, executor_workers = stack.enter_context(
            server(d, 2, {"OFFERDESK_COMPILED_READS": "0"})
        )
        postgraphile_url, postgraphile_pid = stack.enter_context(postgraphile(d))
        compiled = supervisor(compiled_workers)
        targets = [
            Target("floor", compiled_url, compiled),
            Target("compiled", compiled_url, compiled),
            Target("executor", executor_url, supervisor(executor_workers)),
            Target("postgraphile", postgraphile_url, postgraphile_pid),
        ]
        urls = {t.name: t.url for t in targets}
        sizes = {s.name: same_data(d, token, urls, s) for s in scenarios}
        print(f"  same data from all three servers: {sizes}", flush=True)
        if load.warmup:
            for scenario in scenarios:
                for target in targets:
                    warm = replace(load, duration=load.warmup)
                    size = sizes[scenario.name]["compiled"]
                    measure(target, scenario, d, token, size, warm, attempts=1)
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {
            s.name: {t.name: [] for t in targets} for s in scenarios
        }
        for round_ in range(rounds):
            # Each round starts with the next target, so none is always first after a pause.
            order = targets[round_ % len(targets) :] + targets[: round_ % len(targets)]
            for scenario in scenarios:
                for target in order:
                    size = sizes[scenario.name]["compiled"]
                    run = measure(target, scenario, d, token, size, load)
                    runs[scenario.name][target.name].append(run)
                    print(
                        f"  round {round_ + 1} {scenario.name:<3} {target.name:<12} "
                        f"{run['rps']:>9.1f} req/s  p50 {run['p50_ms']:>8.2f} ms  "
                        f"cpu/req {run['cpu_ms_per_request']} ms  errors {run['errors']}  "
                        f"load {os.getloadavg()[0]:.2f}",
                        flush=True,
                    )
    results: dict[str, Any] = {}
    for scenario in scenarios:
        summary = {name: summarize(found) for name, found in runs[scenario.name].items()}
        for row in summary.values():
            row["ratio_to_floor"] = ratio(row["rps"], summary["floor"]["rps"])
            row["ratio_to_postgraphile"] = ratio(row["rps"], summary["postgraphile"]["rps"])
        results[scenario.name] = {
            "title": scenario.title,
            "response_bytes": sizes[scenario.name],
            "targets": summary,
        }
    return results


# --- results ----------------------------------------------------------------------------------

LABELS = {
    "floor": "floor (plain route, same body size)",
    "compiled": "Offerdesk, compiled reads (default)",
    "executor": "Offerdesk, `OFFERDESK_COMPILED_READS=0`",
    "postgraphile": "PostGraphile 5 (1 process, no auth)",
}


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def render(found: dict[str, Any]) -> str:
    """The comparison's section of RESULTS.md."""
    load = found["load"]
    m = found["machine"]
    out = [
        MARKER,
        "## Offerdesk beside PostGraphile (PostgreSQL, same database)",
        "",
        f"`python -m bench.comparison` ({found['finished_at']}, commit {m['commit']}) on "
        f"{found['dataset']}: {found['rounds']} interleaved rounds of {load['duration']} s per "
        f"target and scenario after a {load['warmup']} s warm-up, wrk "
        f"{load['read_connections']} connections / {load['read_threads']} thread; medians. "
        f"Load average before: `{m['uptime']}`.",
        "",
        "Offerdesk: `offerdesk serve`, 2 workers, default settings (response cache on: Q3 "
        "is served from it, Q3u defeats it), bearer token checked on every request. "
        f"PostGraphile {found['postgraphile_version']} on Node {found['node_version']}: one "
        "process, **no authentication** (no JWT, no role switch), the same PostgreSQL "
        "database; `spotsAvailable`, `contentTitle`, an offer's events by first date and the "
        "catalogue's listing are SQL functions in a scratch schema (bench/comparison.py). "
        "PostGraphile is sent the same documents but for `dates(orderBy: [START_ASC, ID_ASC])`; "
        "one sample of each scenario was checked to carry the same data from all three "
        "servers before measuring. CPU ms/req: the serving processes' own CPU (Offerdesk's "
        "two workers; PostGraphile's node process) per request answered.",
        "",
        "| scenario | target | req/s | p50 ms | p99 ms | CPU ms/req | ratio to floor "
        "| ratio to PostGraphile | errors | req/s by round |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for name, scenario in found["scenarios"].items():
        for target, row in scenario["targets"].items():
            cpu = "" if target == "floor" else f"{row['cpu_ms_per_request']:.3g}"
            by_round = ", ".join(f"{r['rps']:,.0f}" for r in row["rounds"])
            out.append(
                f"| {name} | {LABELS[target]} | {row['rps']:,.1f} | {row['p50_ms']} "
                f"| {row['p99_ms']} | {cpu} | {_times(row['ratio_to_floor'])} "
                f"| {_times(row['ratio_to_postgraphile'])} | {row['errors']} | {by_round} |"
            )
    out += [
        "",
        "Response sizes in bytes, one sample (PostGraphile's date-times carry microseconds and "
        "an offset, Offerdesk's end in `Z`):",
    ]
    for name, scenario in found["scenarios"].items():
        sizes = scenario["response_bytes"]
        out.append(
            f"* {name} ({scenario['title']}): Offerdesk {sizes['compiled']:,}, "
            f"PostGraphile {sizes['postgraphile']:,}."
        )
    out += ["", MARKER, ""]
    return "\n".join(out)


def write_section(path: Path, section: str) -> None:
    """``section`` in place of the comparison already in ``path``, else at its end."""
    text = path.read_text() if path.exists() else ""
    parts = text.split(MARKER)
    if len(parts) == 3:
        text = parts[0] + section + parts[2].lstrip("\n")
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _version(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, cwd=POSTGRAPHILE).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, help="seconds per wrk run (default: 10)")
    parser.add_argument("--warmup", type=int, help="seconds of warm-up per target and scenario")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scenario", choices=SCENARIO_NAMES, action="append")
    parser.add_argument("--output", type=Path, help="file for the section (default RESULTS.md)")
    parser.add_argument(
        "--dataset",
        choices=sorted(name for name, d in DATASETS.items() if d.engine == "postgresql"),
        default="offerdesk_bench",
    )
    args = parser.parse_args()
    load = LOADS["full"]
    if args.duration:
        load = replace(load, duration=args.duration, warmup=min(load.warmup, args.duration))
    if args.warmup is not None:
        load = replace(load, warmup=args.warmup)
    d = DATASETS[args.dataset]
    started = datetime.now(UTC)
    found: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "load": load.__dict__,
        "rounds": args.rounds,
        "dataset": d.label(),
    }
    print(f"comparison: {found['machine']['uptime']}", flush=True)
    found["scenarios"] = compare(d, load, args.rounds, args.scenario or list(SCENARIO_NAMES))
    found["node_version"] = _version([str(NODE), "--version"]).removeprefix("v")
    package = json.loads((POSTGRAPHILE / "node_modules/postgraphile/package.json").read_text())
    found["postgraphile_version"] = package["version"]
    found["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    output = args.output or BENCH / "RESULTS.md"
    write_section(output, render(found))
    json_path = output.parent / "comparison.json"
    json_path.write_text(json.dumps(found, indent=2) + "\n")
    print(f"wrote {output} and {json_path}", flush=True)


if __name__ == "__main__":
    main()
