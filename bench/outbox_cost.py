"""What events out cost (issue 12 item 8): ``python -m bench.outbox_cost``.

CPU per request in-process, as ``bench/cpu.py`` measures it (requests straight into the ASGI
app, one at a time, response cache off), for M1 (an enrollment) and Q1 (one offer event),
with the webhook dispatcher running beside the requests as in ``offerdesk serve``:

* ``off``: no dispatcher at all (what the outbox rows alone cost the request path);
* ``none``: no subscription (the outbox rows are still written);
* ``one``: one active subscription to every enrollment event, delivering to a receiver
  process on 127.0.0.1 (its CPU is not counted; the dispatcher's is, until every delivery
  of the run has succeeded).

Run it once more with ``PYTHONPATH`` naming a checkout without the outbox (``baseline``:
the code before issue 12) for the cost of the outbox rows themselves. SQLite's database work
is in this process; PostgreSQL's is not, so for PostgreSQL the median wall time of a
request is printed too. Rounds alternate the modes; figures are medians.
"""

import argparse
import asyncio
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.cpu import call
from bench.scenarios import M1, Q1
from offerdesk.app import create_app
from offerdesk.auth.scopes import ALL_SCOPES
from offerdesk.auth.service import issue_token
from offerdesk.config import Settings
from offerdesk.db import Database
from offerdesk.events import service as events
from offerdesk.migrate import upgrade
from offerdesk.offers import service as offers
from offerdesk.users import service as users

HAS_OUTBOX = importlib.util.find_spec("offerdesk.webhooks") is not None
RECEIVER = (
    "import http.server as h\n"
    "class R(h.BaseHTTPRequestHandler):\n"
    "    def do_POST(self):\n"
    "        self.rfile.read(int(self.headers['content-length']))\n"
    "        self.send_response(200); self.send_header('content-length', '0'); self.end_headers()\n"
    "    def log_message(self, *a): pass\n"
    "s = h.ThreadingHTTPServer(('127.0.0.1', 0), R)\n"
    "print(s.server_address[1], flush=True)\n"
    "s.serve_forever()\n"
)


async def prepare(url: str, users_needed: int) -> tuple[str, str, list[str]]:
    """An unlimited event, ``users_needed`` users and a token; (event id, token, user ids)."""
    db = Database(url, Settings(database_url=url))
    try:
        async with db.transaction() as session:
            offer = await offers.create(session, {"title": "Bench offer"})
            event = await events.create(session, {"offer_id": offer.id, "title": "Bench event"})
            ids = []
            for index in range(users_needed):
                user = await users.create(
                    session, {"name": f"U{index}", "email": f"u{index}-{uuid.uuid4().hex}@x.org"}
                )
                ids.append(str(user.id))
            token = (await issue_token(session, ALL_SCOPES, 86400)).token
        return str(event.id), token, ids
    finally:
        await db.dispose()


async def subscribe(url: str, receiver_url: str) -> None:
    from offerdesk.webhooks import service as webhooks

    db = Database(url, Settings(database_url=url))
    try:
        async with db.transaction() as session:
            await webhooks.create(
                session,
                {
                    "url": receiver_url,
                    "events": [  # type: ignore[typeddict-item]
                        "OFFER_EVENT_ENROLLED",
                        "OFFER_EVENT_ENROLLMENT_STATUS_UPDATED",
                        "OFFER_EVENT_UNENROLLED",
                    ],
                },
                webhooks.UrlPolicy(allow_http=True, allow_private=True),
            )
    finally:
        await db.dispose()


async def pending(app: Any) -> int:
    async with app.state.db.read_session() as session:
        return int(
            await session.scalar(
                text("SELECT count(*) FROM webhook_deliveries WHERE status = 'PENDING'")
            )
            or 0
        )


# How long a dispatcher runs before the measured requests start (its first round is done).
STARTUP_SECONDS = 1.0


async def run_mode(
    url: str, bodies: list[bytes], token: str, dispatch: bool
) -> tuple[float, float]:
    """(CPU ms per request, median wall ms per request) for ``bodies``, one at a time."""
    settings = Settings(
        database_url=url,
        response_cache_mb=0,
        access_log=False,
        log_level="WARNING",
    )
    app = create_app(settings)
    stop = asyncio.Event()
    task = None
    if dispatch and HAS_OUTBOX:
        from offerdesk.webhooks.dispatcher import Dispatcher

        task = asyncio.create_task(Dispatcher(app.state.db, app.state.settings).run(stop))
        # A serving process's dispatcher runs for its lifetime: its start (the HTTP client's
        # TLS context, the first prune) is not a cost of the requests measured here.
        await asyncio.sleep(STARTUP_SECONDS)
    try:
        walls = []
        start = time.process_time()
        for body in bodies:
            began = time.perf_counter()
            status, answer = await call(app, body, token)
            walls.append((time.perf_counter() - began) * 1000)
            if status != 200 or b'"errors"' in answer:
                raise RuntimeError(f"request failed: {status} {answer[:300]!r}")
        if task is not None:
            # The deliveries this run made are part of its cost.
            await asyncio.sleep(0.5)
            for _ in range(6000):
                if not await pending(app):
                    break
                await asyncio.sleep(0.05)
        cpu = (time.process_time() - start) / len(bodies) * 1000
        return cpu, statistics.median(walls)
    finally:
        stop.set()
        if task is not None:
            await task
        await app.state.db.dispose()


async def measure(url: str, rounds: int, count: int, receiver_url: str) -> dict[str, Any]:
    modes = ["off", "none", "one"] if HAS_OUTBOX else ["baseline"]
    event, token, user_ids = await prepare(url, rounds * len(modes) * (count + 20))
    q1 = [json.dumps({"query": Q1, "variables": {"id": event}}).encode()] * count
    results: dict[str, dict[str, list[tuple[float, float]]]] = {
        mode: {"M1": [], "Q1": []} for mode in modes
    }
    subscribed = False
    for _ in range(rounds):
        for mode in modes:
            if mode == "one" and not subscribed:
                await subscribe(url, receiver_url)
                subscribed = True
            if mode in ("off", "none") and subscribed:
                await set_active(url, False)
            if mode == "one":
                await set_active(url, True)
            take, user_ids = user_ids[: count + 20], user_ids[count + 20 :]
            m1 = [
                json.dumps({"query": M1, "variables": {"u": u, "e": event}}).encode() for u in take
            ]
            dispatch = mode in ("none", "one")
            await run_mode(url, m1[:20], token, dispatch)  # warm-up
            results[mode]["M1"].append(await run_mode(url, m1[20:], token, dispatch))
            results[mode]["Q1"].append(await run_mode(url, q1, token, dispatch))
    return {
        mode: {
            name: {
                "cpu_ms": round(statistics.median(r[0] for r in runs), 3),
                "wall_ms": round(statistics.median(r[1] for r in runs), 3),
            }
            for name, runs in by_name.items()
        }
        for mode, by_name in results.items()
    }


async def set_active(url: str, active: bool) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE webhook_subscriptions SET is_active = :a"), {"a": active}
            )
    finally:
        await engine.dispose()


async def fresh_postgres(base: str) -> str:
    name = f"offerdesk_bench_outbox_{uuid.uuid4().hex[:8]}"
    engine = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return make_url(base).set(database=name).render_as_string(hide_password=False)


async def drop_postgres(base: str, url: str) -> None:
    engine = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        name = make_url(url).database
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout is not None
        receiver_url = f"http://127.0.0.1:{int(receiver.stdout.readline())}/hook"
        if args.engine == "sqlite":
            url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'outbox.db'}"
        else:
            url = asyncio.run(fresh_postgres(args.postgres))
        try:
            upgrade(url)
            results = asyncio.run(measure(url, args.rounds, args.count, receiver_url))
        finally:
            if args.engine == "postgresql":
                asyncio.run(drop_postgres(args.postgres, url))
    finally:
        receiver.kill()
    for mode, rows in results.items():
        for name, row in rows.items():
            print(
                f"{args.engine} {mode:<8} {name}: {row['cpu_ms']} ms CPU/request, "
                f"median wall {row['wall_ms']} ms"
            )


if __name__ == "__main__":
    main()
