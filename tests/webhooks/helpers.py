"""A real receiver process (receiver.py) and a dispatcher driven round by round."""

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from offerdesk.db import Database
from offerdesk.webhooks.dispatcher import Dispatcher

RECEIVER = Path(__file__).with_name("receiver.py")


class Receiver:
    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log

    def requests(self) -> list[dict[str, Any]]:
        """Every POST received so far, in order."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@contextmanager
def receiver(tmp_path: Path, plan: str = "200") -> Iterator[Receiver]:
    """A receiver process on 127.0.0.1 answering by ``plan`` (receiver.py)."""
    log = tmp_path / f"received-{len(list(tmp_path.glob('received-*')))}.jsonl"
    # Made now, not at the first request: a second receiver started before this one is
    # called must count it, or both would write to one file.
    log.touch(exist_ok=False)
    process = subprocess.Popen(
        [sys.executable, str(RECEIVER), str(log), plan], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield Receiver(f"http://127.0.0.1:{port}/hook", log)
    finally:
        process.kill()
        process.wait()


async def dispatch_until(
    db: Database, settings: Any, done: Callable[[], bool], rounds: int = 3000
) -> None:
    """Run dispatcher rounds until ``done()``; fails after ``rounds`` rounds (a minute or
    more: on PostgreSQL events wait for the server's older transactions, other databases'
    too, docs/decisions.md)."""
    dispatcher = Dispatcher(db, settings)
    async with dispatcher.client() as client:
        for _ in range(rounds):
            if done():
                return
            if not await dispatcher.step(client):
                await asyncio.sleep(0.02)
    assert done(), "the dispatcher did not get there"


async def dispatch_rounds(db: Database, settings: Any, rounds: int) -> None:
    """Run ``rounds`` dispatcher rounds, whether or not they find work."""
    dispatcher = Dispatcher(db, settings)
    async with dispatcher.client() as client:
        for _ in range(rounds):
            await dispatcher.step(client)
