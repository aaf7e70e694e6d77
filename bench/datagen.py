"""Build a benchmark database: ``python -m bench.datagen [--profile full|smoke] [--force]``.

The schema comes from ``offerdesk migrate``; the rows are loaded in bulk, with COPY on
PostgreSQL (asyncpg's ``copy_records_to_table``) and executemany on SQLite. Everything is
derived from the dataset's seed, so two runs build the same rows with the same ids.

The rows keep the service's invariants, as if every enrollment had gone through the API:
each event's ``enrolled_count``/``waitlisted_count``/``waitlist_seq`` match its enrollment
rows, capacity is never exceeded, nobody waits while a seat is free, one enrollment per user
and event, and each event links its content in ``offer_event_contents``. Status history rows
are not written (the scenarios do not read them).
"""

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic.script import ScriptDirectory

from bench.datasets import (
    DATASETS,
    STORM_CAPACITY,
    STORM_REQUESTS_PER_EVENT,
    Dataset,
    profile_datasets,
)
from offerdesk.migrate import alembic_config

BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
FIRST_SESSION = datetime(2027, 1, 1, 9, tzinfo=UTC)
CONTENT_TYPES = ("TRAINING", "COURSE", "EXTERNAL_CONTENT", "SCORM", "VIDEO")
CAPACITIES = (None, 8, 10, 12, 15, 20, 25, 30)

SCOPES = "content.read content.write events.read events.write users.read users.write"
OFFERDESK = os.path.join(os.path.dirname(sys.executable), "offerdesk")

# Table columns in COPY order. Every NOT NULL column is given, none left to defaults.
COLUMNS: dict[str, tuple[str, ...]] = {
    "content_items": (
        "id", "ref", "type", "title", "description", "url", "is_active", "created_at", "updated_at",
    ),
    "offers": (
        "id", "ref", "title", "description", "is_active", "archived_at", "created_at", "updated_at",
    ),
    "users": (
        "id", "ref", "name", "email", "email_canonical", "is_active", "created_at", "updated_at",
    ),
    "offer_events": (
        "id", "ref", "offer_id", "title", "content_type", "max_participants",
        "min_participants", "waiting_list", "closing_date", "is_active", "enrolled_count",
        "waitlisted_count", "waitlist_seq", "created_at", "updated_at",
    ),
    "offer_event_contents": ("offer_event_id", "position", "content_item_id"),
    "offer_event_dates": (
        "id", "offer_event_id", "start", "end", "location", "created_at", "updated_at",
    ),
    "enrollments": (
        "id", "user_id", "offer_event_id", "status", "enrolled_at", "waitlist_seq",
        "created_at", "updated_at",
    ),
    "api_tokens": ("id", "token_hash", "client_id", "scopes", "expires_at", "created_at",
                   "updated_at"),
}  # fmt: skip


def make_id(seed: int, kind: str, index: int) -> uuid.UUID:
    digest = hashlib.blake2b(f"{seed}:{kind}:{index}".encode(), digest_size=16).digest()
    return uuid.UUID(bytes=digest, version=4)


@dataclass
class Plan:
    """What each event is, decided once; enrollment rows are re-derived from it when loaded."""

    dataset: Dataset
    content_ids: list[uuid.UUID] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    offer_ids: list[uuid.UUID] = field(default_factory=list)
    user_ids: list[uuid.UUID] = field(default_factory=list)
    event_ids: list[uuid.UUID] = field(default_factory=list)
    capacity: list[int | None] = field(default_factory=list)
    waiting_list: list[bool] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    storm_offer_id: uuid.UUID | None = None
    storm_event_ids: list[uuid.UUID] = field(default_factory=list)

    @classmethod
    def build(cls, d: Dataset) -> "Plan":
        rng = random.Random(d.seed)
        plan = cls(d)
        plan.content_ids = [make_id(d.seed, "content", i) for i in range(d.content_items)]
        plan.content_types = [rng.choice(CONTENT_TYPES) for _ in range(d.content_items)]
        plan.offer_ids = [make_id(d.seed, "offer", i) for i in range(d.offers)]
        plan.user_ids = [make_id(d.seed, "user", i) for i in range(d.users)]
        plan.event_ids = [make_id(d.seed, "event", i) for i in range(d.events)]
        plan.capacity = [rng.choice(CAPACITIES) for _ in range(d.events)]
        plan.waiting_list = [rng.random() < 0.5 for _ in range(d.events)]
        # Enrollment requests per event: pairs of (mean - k, mean + k), so the total is exact.
        mean, rest = divmod(d.enrollments, d.events)
        requests = [mean] * d.events
        for i in range(0, d.events - 1, 2):
            k = rng.randint(0, mean)
            requests[i] -= k
            requests[i + 1] += k
        for i in range(rest):
            requests[i] += 1
        if max(requests) > d.users:
            raise ValueError(f"{d.name}: an event would need more users than exist")
        plan.requests = requests
        if d.storm_events:
            plan.storm_offer_id = make_id(d.seed, "storm-offer", 0)
            plan.storm_event_ids = [make_id(d.seed, "storm", i) for i in range(d.storm_events)]
        return plan

    def enrollments_of(self, e: int) -> list[tuple[int, str, int | None]]:
        """Event ``e``'s enrollment rows as (user index, status, waitlist_seq), in the order
        the requests arrived, following the service's rules for each request."""
        d = self.dataset
        rng = random.Random(d.seed * 1_000_003 + e)
        capacity, waiting_list = self.capacity[e], self.waiting_list[e]
        rows: list[tuple[int, str, int | None]] = []
        enrolled = waitlisted = 0
        for user in rng.sample(range(d.users), self.requests[e]):
            if rng.random() < 0.05:
                # Enrolled once, withdrew since: holds no place.
                rows.append((user, "CANCELLED", None))
            elif capacity is None or enrolled < capacity:
                enrolled += 1
                rows.append((user, "ENROLLED", None))
            elif waiting_list:
                waitlisted += 1
                rows.append((user, "WAITLISTED", waitlisted))
            else:
                # Full without a waiting list: the organiser declined the request.
                rows.append((user, "DECLINED", None))
        return rows

    def token(self) -> str:
        digest = hashlib.sha256(f"{self.dataset.seed}:{self.dataset.name}".encode()).hexdigest()
        return f"odt_bench_{digest[:40]}"

    # --- rows, table by table, as tuples in COLUMNS order ---

    def content_rows(self) -> Iterator[tuple[Any, ...]]:
        for i, id_ in enumerate(self.content_ids):
            at = BASE_TIME + timedelta(seconds=i)
            yield (
                id_, f"content-{i}", self.content_types[i], f"Course material {i}",
                f"Material number {i} for the benchmark.", f"https://learn.example/c/{i}",
                True, at, at,
            )  # fmt: skip

    def offer_rows(self) -> Iterator[tuple[Any, ...]]:
        rng = random.Random(self.dataset.seed + 1)
        for i, id_ in enumerate(self.offer_ids):
            at = BASE_TIME + timedelta(minutes=1, seconds=i)
            active = rng.random() >= 0.02
            yield (
                id_, f"offer-{i}", f"Offer {i}: leadership and practice",
                f"Offer {i} brings together sessions on one subject.", active, None, at, at,
            )  # fmt: skip
        if self.storm_offer_id is not None:
            # Created last, so it is on no early catalogue page (Q3).
            at = BASE_TIME + timedelta(days=30)
            yield (self.storm_offer_id, "storm", "Registration opens now", None, True, None, at, at)

    def user_rows(self) -> Iterator[tuple[Any, ...]]:
        from offerdesk.users.service import email_address

        for i, id_ in enumerate(self.user_ids):
            at = BASE_TIME + timedelta(seconds=i)
            email = email_address(f"user{i}@bench.example", "email")
            yield (id_, f"user-{i}", f"User {i}", *email, True, at, at)

    def event_rows(self) -> Iterator[tuple[Any, ...]]:
        d = self.dataset
        rng = random.Random(d.seed + 2)
        for e, id_ in enumerate(self.event_ids):
            offer = e // d.events_per_offer
            content = self._content_of(e)[0]
            capacity = self.capacity[e]
            rows = self.enrollments_of(e)
            enrolled = sum(1 for _, status, _ in rows if status == "ENROLLED")
            waitlisted = sum(1 for _, status, _ in rows if status == "WAITLISTED")
            minimum = None if capacity is None or rng.random() < 0.5 else min(3, capacity)
            closing = None if rng.random() < 0.7 else datetime(2030, 1, 1, tzinfo=UTC)
            at = BASE_TIME + timedelta(hours=1, seconds=e)
            yield (
                id_, f"event-{e}", self.offer_ids[offer],
                f"Offer {offer}, session group {e % d.events_per_offer}",
                self.content_types[content], capacity, minimum, self.waiting_list[e], closing,
                rng.random() >= 0.03, enrolled, waitlisted, waitlisted, at, at,
            )  # fmt: skip
        for k, id_ in enumerate(self.storm_event_ids):
            at = BASE_TIME + timedelta(days=30, seconds=k)
            yield (
                id_, f"storm-{k}", self.storm_offer_id, f"Storm event {k}", None, STORM_CAPACITY,
                None, True, None, True, 0, 0, 0, at, at,
            )  # fmt: skip

    def _content_of(self, e: int) -> list[int]:
        first = (e * 7919) % self.dataset.content_items
        if e % 5 == 0 and self.dataset.content_items > 1:
            return [first, (first + 1) % self.dataset.content_items]
        return [first]

    def content_link_rows(self) -> Iterator[tuple[Any, ...]]:
        for e, id_ in enumerate(self.event_ids):
            for position, content in enumerate(self._content_of(e)):
                yield (id_, position, self.content_ids[content])

    def date_rows(self) -> Iterator[tuple[Any, ...]]:
        d = self.dataset
        rng = random.Random(d.seed + 3)
        n = 0
        for e, id_ in enumerate(self.event_ids):
            first = FIRST_SESSION + timedelta(days=rng.randrange(365), hours=rng.randrange(8))
            for k in range(d.dates_per_event):
                start = first + timedelta(days=7 * k)
                at = BASE_TIME + timedelta(hours=2, seconds=n)
                yield (
                    make_id(d.seed, "date", n), id_, start, start + timedelta(hours=2),
                    f"Room {e % 40}", at, at,
                )  # fmt: skip
                n += 1

    def enrollment_rows(self) -> Iterator[tuple[Any, ...]]:
        seed = self.dataset.seed
        n = 0
        for e, event_id in enumerate(self.event_ids):
            for user, status, seq in self.enrollments_of(e):
                at = BASE_TIME + timedelta(days=1, seconds=n)
                yield (make_id(seed, "enrollment", n), self.user_ids[user], event_id, status,
                       at, seq, at, at)  # fmt: skip
                n += 1

    def token_rows(self) -> Iterator[tuple[Any, ...]]:
        from offerdesk.auth.service import hash_secret

        at = BASE_TIME
        expires = datetime(2099, 1, 1, tzinfo=UTC)
        yield (make_id(self.dataset.seed, "token", 0), hash_secret(self.token()), None, SCOPES,
               expires, at, at)  # fmt: skip

    def tables(self) -> list[tuple[str, Iterable[tuple[Any, ...]]]]:
        """In foreign-key order."""
        return [
            ("content_items", self.content_rows()),
            ("offers", self.offer_rows()),
            ("users", self.user_rows()),
            ("offer_events", self.event_rows()),
            ("offer_event_contents", self.content_link_rows()),
            ("offer_event_dates", self.date_rows()),
            ("enrollments", self.enrollment_rows()),
            ("api_tokens", self.token_rows()),
        ]

    def storm_pairs(self) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """M1's requests in order: 50 distinct users for each storm event in turn, so the
        1000 requests in flight at a time crowd onto about 20 events."""
        pairs = []
        for k, event_id in enumerate(self.storm_event_ids):
            for j in range(STORM_REQUESTS_PER_EVENT):
                user = (k * STORM_REQUESTS_PER_EVENT + j) % self.dataset.users
                pairs.append((self.user_ids[user], event_id))
        return pairs


def migrate(url: str) -> None:
    env = {**os.environ, "OFFERDESK_DATABASE_URL": url, "OFFERDESK_LOG_LEVEL": "WARNING"}
    subprocess.run([OFFERDESK, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def load_postgresql(plan: Plan) -> dict[str, int]:
    import asyncpg

    d = plan.dataset
    admin = await asyncpg.connect(asyncpg_dsn(d.url.rsplit("/", 1)[0] + "/postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{d.name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{d.name}"')
    finally:
        await admin.close()
    migrate(d.url)
    counts = {}
    connection = await asyncpg.connect(asyncpg_dsn(d.url))
    try:
        for table, rows in plan.tables():
            result = await connection.copy_records_to_table(
                table, records=rows, columns=COLUMNS[table]
            )
            counts[table] = int(result.split()[-1])
        # Statistics and visibility maps, as a database that has lived a while has them.
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return counts


def load_sqlite(plan: Plan) -> dict[str, int]:
    from sqlalchemy import create_engine

    from offerdesk.db import Base
    from offerdesk.models import import_all

    import_all()
    d = plan.dataset
    path = d.url.split("///", 1)[1]
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    migrate(d.url)
    engine = create_engine(f"sqlite:///{path}")
    counts = {}
    with engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA synchronous=OFF")
        for table_name, rows in plan.tables():
            # Through the model's column types, so ids, times and enums are stored exactly
            # as the service stores them.
            table = Base.metadata.tables[table_name]
            columns = COLUMNS[table_name]
            insert = table.insert()
            counts[table_name] = 0
            for batch in _batches(rows, 10_000):
                connection.execute(insert, [dict(zip(columns, row, strict=True)) for row in batch])
                counts[table_name] += len(batch)
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()
    return counts


def _batches(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _write_lines(path: os.PathLike[str], lines: Sequence[str]) -> None:
    with open(path, "w") as out:
        out.write("\n".join(lines) + "\n")


def generate(d: Dataset) -> dict[str, Any]:
    began = time.perf_counter()
    plan = Plan.build(d)
    load = load_postgresql if d.engine == "postgresql" else None
    counts = asyncio.run(load(plan)) if load else load_sqlite(plan)
    seconds = time.perf_counter() - began
    d.directory.mkdir(parents=True, exist_ok=True)
    # Plain lines for wrk's Lua scripts: ids to pick from, and M1's (user, event) pairs.
    _write_lines(d.directory / "event_ids.txt", [str(id_) for id_ in plan.event_ids])
    _write_lines(d.directory / "offer_ids.txt", [str(id_) for id_ in plan.offer_ids])
    _write_lines(d.directory / "storm_pairs.txt", [f"{u}\t{e}" for u, e in plan.storm_pairs()])
    manifest = {
        "spec": d.spec(),
        "url": d.url,
        "token": plan.token(),
        "rows": counts,
        "storm_event_ids": [str(id_) for id_ in plan.storm_event_ids],
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "generation_seconds": round(seconds, 1),
    }
    d.manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def is_current(d: Dataset) -> bool:
    """The dataset's manifest matches its spec, and its database holds the rows and is at the
    latest migration (a schema change means generating again)."""
    manifest = d.manifest()
    if manifest is None or manifest.get("spec") != d.spec():
        return False
    head = ScriptDirectory.from_config(alembic_config(d.url)).get_current_head()
    try:
        offers, revision = _count_offers(d)
    except Exception:
        return False
    return offers == manifest["rows"]["offers"] and revision == head


def _count_offers(d: Dataset) -> tuple[int, str | None]:
    """The dataset's number of offers and its schema's migration revision."""
    offers_sql = "SELECT count(*) FROM offers"
    revision_sql = "SELECT version_num FROM alembic_version"
    if d.engine == "postgresql":

        async def count() -> tuple[int, str | None]:
            import asyncpg

            connection = await asyncpg.connect(asyncpg_dsn(d.url))
            try:
                offers = int(await connection.fetchval(offers_sql))
                return offers, await connection.fetchval(revision_sql)
            finally:
                await connection.close()

        return asyncio.run(count())
    path = d.url.split("///", 1)[1]
    if not os.path.exists(path):
        return -1, None
    with contextlib.closing(sqlite3.connect(path)) as connection:
        offers = int(connection.execute(offers_sql).fetchone()[0])
        return offers, connection.execute(revision_sql).fetchone()[0]


def ensure(d: Dataset, force: bool = False) -> dict[str, Any]:
    if not force and is_current(d):
        manifest = d.manifest()
        assert manifest is not None
        # Kept rows, current schema: migrations added since the data was made apply to it.
        migrate(d.url)
        print(f"{d.name}: up to date ({d.label()})", flush=True)
        return manifest
    print(f"{d.name}: generating {d.label()} on {d.engine} ...", flush=True)
    manifest = generate(d)
    print(f"{d.name}: done in {manifest['generation_seconds']} s {manifest['rows']}", flush=True)
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=["full", "smoke"], default="full")
    parser.add_argument("--dataset", choices=sorted(DATASETS), action="append")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args()
    names = args.dataset or [d.name for d in profile_datasets(args.profile)]
    for d in (DATASETS[name] for name in names):
        ensure(d, force=args.force)


if __name__ == "__main__":
    main()
