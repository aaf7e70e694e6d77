"""EXPLAIN (ANALYZE) of every SQL statement Q1-Q3 run: ``python -m bench.explain``.

Each scenario's request is run once in-process against the big PostgreSQL dataset; the
statements the app's engine sends (with their parameters) are then explained on the same
database, and bench/EXPLAIN.md lists each one with its plan and the scans it uses, so a
lookup path without an index shows up as a Seq Scan.
"""

import argparse
import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.datagen import asyncpg_dsn, ensure
from bench.datasets import BENCH, DATASETS, Dataset
from bench.scenarios import SCENARIOS, InProcess

SCAN = re.compile(r"((?:Parallel )?(?:Seq Scan|Index Only Scan|Index Scan|Bitmap Index Scan)"
                  r"(?: using \S+)? on \S+)")  # fmt: skip


async def capture(d: Dataset, token: str) -> dict[str, list[tuple[str, Any]]]:
    app = InProcess(d, token)
    found = {}
    try:
        q1 = SCENARIOS["Q1"]
        await app.run(q1.body(q1.ids(d)[0]))
        for name in ("Q1", "Q2", "Q3"):
            scenario = SCENARIOS[name]
            # A line from the middle of the ids file: a typical row, not the first one loaded.
            rows = scenario.ids(d)
            body = scenario.body(rows[len(rows) // 2])
            # The second request of a document: the statement every later request sends.
            await app.run(body)
            captured = await app.run(body)
            found[name] = captured.statements
    finally:
        await app.close()
    return found


async def explain(d: Dataset, statements: dict[str, list[tuple[str, Any]]]) -> str:
    import asyncpg

    connection = await asyncpg.connect(asyncpg_dsn(d.url))
    version = await connection.fetchval("SHOW server_version")
    out = [
        "# EXPLAIN of Q1-Q3",
        "",
        f"`python -m bench.explain` ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC) on {d.name}: "
        f"{d.label()}, PostgreSQL {version}. Every statement a request runs, in order, "
        "explained with `EXPLAIN (ANALYZE, BUFFERS)` and the parameters the app sent. "
        "Statements that read no table (transaction control) are not listed.",
        "",
    ]
    summary = ["| scenario | # | statement | scans | time ms |", "|---|--:|---|---|--:|"]
    details = []
    try:
        for name, captured in statements.items():
            details += [f"## {name}: {SCENARIOS[name].title}", "", "```graphql"]
            details += [SCENARIOS[name].query, "```", ""]
            for index, (sql, params) in enumerate(captured, start=1):
                args = list(params) if isinstance(params, (list, tuple)) else []
                rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
                plan = "\n".join(row[0] for row in rows)
                scans = sorted(set(SCAN.findall(plan)))
                took = re.search(r"Execution Time: ([\d.]+) ms", plan)
                first = " ".join(sql.split())[:90]
                summary.append(
                    f"| {name} | {index} | `{first}…` | {'; '.join(scans) or '(none)'} "
                    f"| {took.group(1) if took else ''} |"
                )
                details += [f"### {name}.{index}", "", "```sql", sql.strip(), "```", ""]
                details += [f"Parameters: `{_short(args)}`", "", "```", plan, "```", ""]
        # A Seq Scan is a missing index only on a table of some size: say how big each is.
        scanned = sorted({m.split(" on ")[-1] for line in summary for m in SCAN.findall(line)})
        sizes = await connection.fetch(
            "SELECT relname, reltuples::bigint FROM pg_class "
            "WHERE relkind = 'r' AND relname = ANY($1::text[])",
            scanned,
        )
        summary += [
            "",
            "Rows per table (pg_class.reltuples): "
            + ", ".join(f"{row[0]} {row[1]:,}" for row in sorted(sizes))
            + ". The planner reads a table of a few rows sequentially whatever its indexes "
            "(api_tokens holds the one bench token here).",
        ]
    finally:
        await connection.close()
    return "\n".join([*out, *summary, "", *details])


def _short(args: list[Any]) -> str:
    text = ", ".join(str(a) for a in args)
    return text if len(text) < 300 else text[:300] + f"… ({len(args)} values)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="offerdesk_bench")
    parser.add_argument("--output", type=Path, default=BENCH / "EXPLAIN.md")
    args = parser.parse_args()
    d = DATASETS[args.dataset]
    if d.engine != "postgresql":
        raise SystemExit("EXPLAIN (ANALYZE) is for the PostgreSQL datasets")
    manifest = ensure(d)
    statements = asyncio.run(capture(d, manifest["token"]))
    args.output.write_text(asyncio.run(explain(d, statements)))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
