"""Where a scenario's time goes: ``python -m bench.profile --scenario Q3 [--py-spy PATH]``.

Starts the server on the scenario's dataset, drives it with wrk as ``bench.run`` does, and
samples every worker with py-spy meanwhile. py-spy is not a dependency of the project (install
it anywhere, e.g. ``pip install py-spy`` into a scratch venv, and pass its path). Writes the
raw stacks (all workers together) and a summary of the top frames (own time, and time
including callees) to bench/data/profile-<scenario>-<dataset>.txt.
"""

import argparse
import collections
import re
import shutil
import subprocess
import threading
from pathlib import Path

from bench.datagen import ensure
from bench.datasets import DATA, DATASETS
from bench.run import reset_storm, server, wrk
from bench.scenarios import SCENARIOS

# Frames that only carry the call down (event loop, ASGI layers): left out of the top lists.
PLUMBING = re.compile(r"^(<module>|run|Runner\.run|.*\.__call__|.*wrapped_app|.*\.app)\b")


def _package(frame: str) -> str:
    """The top-level package (or stdlib module) a frame's code is in."""
    match = re.search(r"\(([^)]*)\)$", frame)
    path = match.group(1) if match else ""
    if path.startswith("<") or not path:
        return "(interpreter)"
    head = path.split("/")[0]
    return head.removesuffix(".py")


def summarize(raw: Path, top: int) -> str:
    own: collections.Counter[str] = collections.Counter()
    including: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        total += samples
        own[frames[-1]] += samples
        packages[_package(frames[-1])] += samples
        for frame in set(frames):
            including[frame] += samples
    out = [f"{total} samples", "", "own time by package:"]
    out += [f"  {100 * n / total:5.1f}%  {name}" for name, n in packages.most_common(12)]
    out += ["", "own time (top frames):"]
    out += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    out += ["", "including callees:"]
    shown = [(f, n) for f, n in including.most_common() if not PLUMBING.match(f)][:top]
    out += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in shown]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), required=True)
    parser.add_argument("--dataset", default="offerdesk_bench", choices=sorted(DATASETS))
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, help="default: as bench.run uses")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    d = DATASETS[args.dataset]
    scenario = SCENARIOS[args.scenario]
    token = ensure(d)["token"]
    storm = scenario.name == "M1"
    connections = args.connections or (1000 if storm else 8)
    workers = 2 if d.engine == "postgresql" else 1
    if storm:
        reset_storm(d)
    raw = DATA / f"profile-{scenario.name}-{d.name}.raw"
    with server(d, workers) as (url, pids):
        load = threading.Thread(
            target=wrk,
            args=(url, "/graphql", scenario, d, token, connections, 2 if storm else 1),
            kwargs={"duration": args.seconds + 2},
        )
        load.start()
        # Every worker at once (one of them may have got all the connections), merged.
        spies = []
        for pid in pids:
            argv = [args.py_spy, "record", "--pid", str(pid), "--duration", str(args.seconds)]
            argv += [
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                f"{raw}.{pid}",
                "--nonblocking",
            ]
            spies.append(
                subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        for spy in spies:
            if spy.wait() != 0:
                raise SystemExit(f"py-spy failed ({args.py_spy})")
        parts = [Path(f"{raw}.{pid}") for pid in pids]
        raw.write_text("\n".join(part.read_text().strip() for part in parts) + "\n")
        for part in parts:
            part.unlink()
        load.join()
    if storm:
        reset_storm(d)
    summary = summarize(raw, args.top)
    output = raw.with_suffix(".txt")
    output.write_text(f"{scenario.name} on {d.name}, {connections} connections\n\n{summary}")
    print(output.read_text())


if __name__ == "__main__":
    main()
