"""The scenarios' GraphQL documents, and running one request in-process to see its SQL."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from httpx import ASGITransport, AsyncClient
from sqlalchemy import event
from sqlalchemy.engine import Connection

from bench.datasets import Dataset
from offerdesk.app import create_app
from offerdesk.config import Settings

Q1 = (
    "query($id: UUID!) { offerEvent(id: $id) "
    "{ id title dates { start end } contentTitle spotsAvailable } }"
)
Q2 = "query($id: UUID!) { offer(id: $id) { offerEvents { id title } } }"
Q3 = (
    "query { paginatedOffers(first: %d) { edges { node { offerEvents "
    "{ title dates { start end } contentTitle spotsAvailable } } } } }"
)
M1 = (
    "mutation($u: UUID!, $e: UUID!) { enrollUserInOfferEvent("
    "enrollment: {userId: $u, offerEventId: $e}) { enrollment { id status } } }"
)


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    query: str
    # Which ids file of the dataset feeds the variables, and how they are picked.
    ids_file: str | None = None
    variables: tuple[str, ...] = ()
    mode: str = "random"  # "random", or "sequence": each line once, in order (M1)

    def body_template(self) -> str:
        """The POST body with __1__, __2__ where the ids go (filled in by the Lua script)."""
        body: dict[str, Any] = {"query": self.query}
        if self.variables:
            body["variables"] = {name: f"__{i + 1}__" for i, name in enumerate(self.variables)}
        return json.dumps(body, separators=(",", ":"))

    def body(self, values: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.body_template())
        for name, value in zip(self.variables, values, strict=False):
            body["variables"][name] = value
        return body

    def ids(self, d: Dataset) -> list[list[str]]:
        if self.ids_file is None:
            return [[]]
        lines = (d.directory / self.ids_file).read_text().splitlines()
        return [line.split("\t") for line in lines if line]


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("Q1", "offerEvent(id) over random ids", Q1, "event_ids.txt", ("id",)),
        Scenario("Q2", "offer(id) { offerEvents { id title } }", Q2, "offer_ids.txt", ("id",)),
        Scenario("Q3", "catalogue page: paginatedOffers(first: 50)", Q3 % 50),
        # The same page computed every time, as while writes keep moving the data version: a
        # variable the document does not use makes every request a new cache key (graphql-core
        # ignores it), while the parser and validation caches still apply.
        Scenario(
            "Q3u",
            "catalogue page, never from the response cache",
            Q3 % 50,
            "event_ids.txt",
            ("nonce",),
        ),
        Scenario(
            "M1",
            "enrollment storm: 1000 concurrent enrollUserInOfferEvent, capacity 25",
            M1,
            "storm_pairs.txt",
            ("u", "e"),
            mode="sequence",
        ),
    )
}


@dataclass
class Captured:
    statements: list[tuple[str, Any]]
    response_bytes: int
    body: dict[str, Any]


@contextmanager
def _capture(app: Any) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def record(_c: Connection, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    engine = app.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


class InProcess:
    """The app without a server: one request at a time through ASGI, its SQL recorded."""

    def __init__(self, d: Dataset, token: str) -> None:
        # Without the response cache: the statements a request runs when it is computed.
        self.app = create_app(Settings(database_url=d.url, response_cache_mb=0))
        self.client = AsyncClient(
            transport=ASGITransport(app=self.app),
            base_url="http://bench",
            headers={"Authorization": f"Bearer {token}"},
        )

    async def run(self, body: dict[str, Any]) -> Captured:
        with _capture(self.app) as statements:
            response = await self.client.post("/graphql", json=body)
        answer = response.json()
        if response.status_code != 200 or "errors" in answer:
            raise RuntimeError(f"scenario request failed: {response.status_code} {answer}")
        return Captured(statements, len(response.content), body)

    async def close(self) -> None:
        await self.client.aclose()
        await self.app.state.db.dispose()


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
