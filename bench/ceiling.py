"""The database's own ceiling for a scenario: ``python -m bench.ceiling`` (``make bench``).

Each read scenario's request is run once in-process (as bench.explain does) to capture the
statements it sends; they are then replayed by ``pgbench`` (C, prepared statements, the same
client count as bench.run) against the same PostgreSQL database, with the parameters written
in as literals. One pgbench "transaction" is one request's statements, so its rate is what
the database alone could answer on this machine if the service cost nothing: the ceiling any
server in front of it stays under. Writes bench/CEILING.md.
"""

import argparse
import asyncio
import re
import shutil
import subprocess
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench.datagen import ensure
from bench.datasets import BENCH, DATASETS, Dataset
from bench.explain import capture
from bench.run import LOADS

PGBENCH_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        value = value.isoformat()
    if isinstance(value, uuid.UUID):
        value = str(value)
    return "'" + str(value).replace("'", "''") + "'"


def inline(sql: str, params: Any) -> str:
    """``sql`` with its ``$n`` parameters written in as literals, on one line."""
    args = list(params) if isinstance(params, list | tuple) else []
    text = re.sub(r"\$(\d+)", lambda m: literal(args[int(m.group(1)) - 1]), sql)
    return " ".join(text.split()) + ";"


def pgbench() -> str:
    found = shutil.which("pgbench") or next(
        (str(d / "pgbench") for d in PGBENCH_DIRS if (d / "pgbench").exists()), None
    )
    if found is None:
        raise SystemExit("pgbench not found (it comes with the PostgreSQL server package)")
    return found


def replay(d: Dataset, statements: list[tuple[str, Any]], clients: int, seconds: int) -> float:
    url = make_url(d.url)
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        script.write("\n".join(inline(sql, params) for sql, params in statements) + "\n")
        script.flush()
        argv = [pgbench(), "-n", "-M", "prepared", "-f", script.name, "-c", str(clients)]
        argv += ["-j", "1", "-T", str(seconds), "-h", url.host or "127.0.0.1"]
        argv += ["-p", str(url.port or 5432), "-U", url.username or "postgres", url.database or ""]
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    found = re.search(r"tps = ([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"pgbench printed no rate:\n{out}")
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=LOADS["full"].duration)
    args = parser.parse_args()
    d = DATASETS["offerdesk_bench"]
    manifest = ensure(d)
    captured = asyncio.run(capture(d, manifest["token"]))
    clients = LOADS["full"].read_connections
    lines = [
        "# The database's own ceiling",
        "",
        f"`python -m bench.ceiling` ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC) on {d.name}: "
        f"{d.label()}. Each scenario's statements, as one request sends them, replayed by "
        f"pgbench (prepared, {clients} clients, {args.seconds} s): requests per second the "
        "database alone could answer here, sharing the two cores with pgbench only. A "
        "request the service computes can only be slower (a repeated query answered from the "
        "response cache runs none of these statements).",
        "",
        "| scenario | statements | requests/s (pgbench) |",
        "|---|--:|--:|",
    ]
    for name, statements in captured.items():
        rate = replay(d, statements, clients, args.seconds)
        print(f"{name}: {len(statements)} statements, {rate:.0f} requests/s", flush=True)
        lines.append(f"| {name} | {len(statements)} | {rate:,.0f} |")
    (BENCH / "CEILING.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {BENCH / 'CEILING.md'}")


if __name__ == "__main__":
    main()
