"""The scenarios' GraphQL documents, and running one request in-process to see its SQL."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from httpx import ASGITransport, AsyncClient
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.util import await_only

from bench.datasets import Dataset
from offerdesk.app import create_app
from offerdesk.config import Settings
from offerdesk.db import Database

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


@asynccontextmanager
async def statements_sent(db: Database) -> AsyncIterator[list[tuple[str, Any]]]:
    """The SQL statements sent to the database inside the block, with their parameters, however
    they are sent: through SQLAlchemy, or on the driver's own connection (graphql/direct.py).

    SQLite: the driver's trace callback, which sees every statement (its parameters written
    in). PostgreSQL: SQLAlchemy's statements (sent as prepared statements, which asyncpg's
    query loggers do not see) and asyncpg's logged queries (the rest: BEGIN, COMMIT, direct
    statements)."""
    statements: list[tuple[str, Any]] = []
    active = True

    def trace(statement: str) -> None:
        # SQLite traces what runs inside a statement (a trigger, the pragma_user_version
        # table function) as "-- <sql>", or (CPython's sqlite3 passes each program's
        # expanded SQL) as the statement's own text again, right after it: part of the
        # statement, not a statement sent. (So two identical statements sent back to back,
        # parameters included, count once.)
        if not active or statement.startswith("-- "):
            return
        if statements and statements[-1][0] == statement:
            return
        statements.append((statement, None))

    def logged(record: Any) -> None:
        if active:
            statements.append((record.query, record.args))

    def record(_conn: Connection, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    attached: list[Any] = []

    def checkout(_dbapi: Any, connection_record: Any, _proxy: Any) -> None:
        driver = connection_record.driver_connection
        if db.dialect == "sqlite":
            await_only(driver.set_trace_callback(trace))
        else:
            driver.add_query_logger(logged)
            attached.append(driver)

    engine = db.engine.sync_engine
    event.listen(engine.pool, "checkout", checkout)
    # The connections graphql/direct.py keeps checked out between requests are not checked
    # out again (Database.driver_connection): their loggers are attached now.
    for kept in db._kept:
        driver = kept.driver_connection
        driver.add_query_logger(logged)
        attached.append(driver)
    if db.dialect != "sqlite":
        event.listen(engine, "before_cursor_execute", record)
    # SQLite's direct writes run on a connection of their own (Database.sqlite_writer).
    await db.trace_sqlite_writer(trace)
    try:
        yield statements
    finally:
        # asyncpg calls its query loggers on the loop's next turn: let them run first.
        await asyncio.sleep(0)
        active = False
        await db.trace_sqlite_writer(None)
        event.remove(engine.pool, "checkout", checkout)
        if db.dialect != "sqlite":
            event.remove(engine, "before_cursor_execute", record)
        for driver in attached:
            driver.remove_query_logger(logged)


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
        async with statements_sent(self.app.state.db) as statements:
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
