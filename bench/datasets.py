"""The benchmark datasets: their sizes, where they live, and the files the load scripts read."""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
DATA = BENCH / "data"
POSTGRES_URL = os.environ.get(
    "OFFERDESK_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432"
)
# Requests per storm event in M1: twice the capacity, so half are seated and half wait.
STORM_CAPACITY = 25
STORM_REQUESTS_PER_EVENT = 50


@dataclass(frozen=True)
class Dataset:
    name: str
    engine: str  # "postgresql" or "sqlite"
    offers: int
    events_per_offer: int
    dates_per_event: int
    users: int
    enrollments: int
    content_items: int
    # Extra events (capacity 25, waiting list on, empty) under one extra offer, for M1.
    storm_events: int
    seed: int = 20261124

    @property
    def events(self) -> int:
        return self.offers * self.events_per_offer

    @property
    def dates(self) -> int:
        return self.events * self.dates_per_event

    @property
    def url(self) -> str:
        if self.engine == "sqlite":
            return f"sqlite+aiosqlite:///{DATA / (self.name + '.sqlite3')}"
        return make_url(POSTGRES_URL).set(database=self.name).render_as_string(False)

    @property
    def directory(self) -> Path:
        return DATA / self.name

    @property
    def manifest_path(self) -> Path:
        return self.directory / "manifest.json"

    def spec(self) -> dict[str, Any]:
        return asdict(self)

    def label(self) -> str:
        return (
            f"{_short(self.offers)} offers / {_short(self.events)} events / "
            f"{_short(self.dates)} dates / {_short(self.users)} users / "
            f"{_short(self.enrollments)} enrollments"
        )

    def manifest(self) -> dict[str, Any] | None:
        if not self.manifest_path.exists():
            return None
        manifest: dict[str, Any] = json.loads(self.manifest_path.read_text())
        return manifest


def _short(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


DATASETS = {
    d.name: d
    for d in (
        # The dataset, on PostgreSQL.
        Dataset("offerdesk_bench", "postgresql", 10_000, 10, 3, 100_000, 1_000_000, 1_000, 2_000),
        # The same shape at 1k events: Q1's latency must not grow with the data.
        Dataset("offerdesk_bench_1k", "postgresql", 100, 10, 3, 1_000, 10_000, 100, 0),
        # The SQLite variant, a tenth of the size (loaded with executemany).
        Dataset("offerdesk_bench_sqlite", "sqlite", 1_000, 10, 3, 10_000, 100_000, 200, 1_000),
        # bench-smoke: tiny, both engines.
        Dataset("offerdesk_bench_smoke", "postgresql", 20, 10, 3, 500, 2_000, 20, 200),
        Dataset("offerdesk_bench_smoke_sqlite", "sqlite", 20, 10, 3, 500, 2_000, 20, 200),
    )
}

# What each `make` target runs: (engine, main dataset, the 1k-event dataset for Q1 scaling).
PROFILES: dict[str, list[tuple[str, str, str | None]]] = {
    "full": [
        ("postgresql", "offerdesk_bench", "offerdesk_bench_1k"),
        ("sqlite", "offerdesk_bench_sqlite", None),
    ],
    "smoke": [
        ("postgresql", "offerdesk_bench_smoke", None),
        ("sqlite", "offerdesk_bench_smoke_sqlite", None),
    ],
}


def profile_datasets(profile: str) -> list[Dataset]:
    names: list[str] = []
    for _, main, small in PROFILES[profile]:
        names += [main] if small is None else [main, small]
    return [DATASETS[name] for name in names]
