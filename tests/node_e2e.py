"""Running the Node end-to-end scripts of ``tests/e2e`` from pytest.

The Node packages are pinned in ``tests/e2e/package-lock.json`` and installed with ``npm ci``
the first time a test needs them, and again whenever the lockfile is newer than the install
(npm writes ``node_modules/.package-lock.json`` last, so its age is the install's age). A
fresh clone therefore needs nothing but ``make test``. Node is on every machine of the
project; when it is missing the tests fail and say so, they are never skipped.
"""

import functools
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

E2E = Path(__file__).resolve().parent / "e2e"
LOCKFILE = E2E / "package-lock.json"
INSTALLED = E2E / "node_modules" / ".package-lock.json"
MIN_NODE = 20


def _node() -> str:
    node = shutil.which("node")
    assert node, "the end-to-end tests need Node.js >= 20 on PATH (node not found)"
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    major = int(version.stdout.strip().lstrip("v").split(".")[0])
    assert major >= MIN_NODE, f"the end-to-end tests need Node.js >= {MIN_NODE}, not {version}"
    return node


@functools.cache
def e2e_node() -> str:
    """Node's path, once ``tests/e2e/node_modules`` matches the lockfile."""
    node = _node()
    if not INSTALLED.exists() or INSTALLED.stat().st_mtime < LOCKFILE.stat().st_mtime:
        npm = shutil.which("npm")
        assert npm, "the end-to-end tests need npm on PATH to install tests/e2e (npm ci)"
        print(f"\nnpm ci in {E2E}", file=sys.stderr)
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=E2E,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"npm ci failed in {E2E}:\n{done.stdout}\n{done.stderr}"
    return node


def run_script(script: str, *args: str, timeout: float = 300) -> Any:
    """Run ``tests/e2e/<script>`` with ``args``; its stderr is shown, its stdout is JSON."""
    done = subprocess.run(
        [e2e_node(), script, *args],
        cwd=E2E,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    print(done.stderr, file=sys.stderr, end="")
    assert done.returncode == 0, (
        f"node {script} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    return json.loads(done.stdout)
