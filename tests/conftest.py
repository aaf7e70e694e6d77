"""Fixtures that run every behaviour test on both engines.

SQLite always runs. PostgreSQL runs when ``OFFERDESK_TEST_POSTGRES_URL`` names a server (CI
sets it): a fresh database is created for the test run and dropped after it. Both databases
are built by the Alembic migrations, never by ``create_all``.
"""

import asyncio
import inspect
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient, Request
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette

from offerdesk.app import create_app
from offerdesk.auth.scopes import ALL_SCOPES, Scope
from offerdesk.auth.service import issue_token
from offerdesk.config import Settings
from offerdesk.db import Base, Database
from offerdesk.migrate import upgrade
from offerdesk.models import import_all

from .helpers import Api, query_document

import_all()
POSTGRES_URL = os.environ.get("OFFERDESK_TEST_POSTGRES_URL")


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> None:
    # Every async test runs on anyio's asyncio backend without a marker on each one.
    if collector.funcnamefilter(name) and inspect.iscoroutinefunction(obj):  # type: ignore[attr-defined]
        pytest.mark.anyio(obj)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


async def _admin(sql: str) -> None:
    assert POSTGRES_URL
    engine = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(sql))
    await engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'offerdesk.db'}"
        upgrade(url)
        yield url
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need OFFERDESK_TEST_POSTGRES_URL (CI sets it)")
    name = f"offerdesk_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def settings_for(database_url: str, **overrides: Any) -> Settings:
    return Settings(database_url=database_url, **overrides)


async def empty_all_tables(db: Database) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    async with db.transaction() as session:
        if db.dialect == "postgresql":
            await session.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for table in tables:
                await session.execute(text(f"DELETE FROM {table}"))


# The two paths of query operations (``Settings.compiled_reads``), by their test ids.
READ_PATHS = {"compiled": True, "executor": False}


@pytest.fixture
def compiled_reads(request: pytest.FixtureRequest) -> bool:
    """Whether query operations are answered by compiled SQL (the default) or the executor."""
    return bool(getattr(request, "param", True))


@pytest.hookimpl(trylast=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # A test that sends requests to the in-process app (``client``, ``api``) runs once on each
    # read path: the executor is the reference, and the path of every fallback, so it must
    # answer the suite's reads as the compiled statements do. The path reaches the app through
    # conftest's ``app_overrides``: a module that overrides that fixture keeps its own choice
    # unless its override asks for ``compiled_reads``. A test that builds its own app asks for
    # ``compiled_reads`` itself and passes it on. A test marked ``no_queries`` has nothing a
    # second run could show (the client fixture checks the mark). trylast: the engine's id
    # comes first ([sqlite-executor]).
    through_client = {"client", "compiled_reads"} <= set(metafunc.fixturenames)
    asks = "compiled_reads" in inspect.signature(metafunc.function).parameters
    if (through_client or asks) and not metafunc.definition.get_closest_marker("no_queries"):
        metafunc.parametrize(
            "compiled_reads", list(READ_PATHS.values()), ids=list(READ_PATHS), indirect=True
        )


@pytest.fixture
def app_overrides(compiled_reads: bool) -> dict[str, Any]:
    """Settings a test module changes for its app (override this fixture there)."""
    return {"compiled_reads": compiled_reads}


@pytest.fixture
async def app(database_url: str, app_overrides: dict[str, Any]) -> AsyncIterator[Starlette]:
    application = create_app(settings_for(database_url, **app_overrides))
    yield application
    await empty_all_tables(application.state.db)
    await application.state.db.dispose()


@pytest.fixture
def db(app: Starlette) -> Database:
    database: Database = app.state.db
    return database


@pytest.fixture
async def client(app: Starlette, request: pytest.FixtureRequest) -> AsyncIterator[AsyncClient]:
    # A test marked no_queries runs on one read path only (pytest_generate_tests above): its
    # requests are watched, so that a test that reads cannot keep the mark.
    queries: list[str] = []

    async def note_queries(sent: Request) -> None:
        document = await query_document(sent)
        if document is not None:
            queries.append(document)

    watched = request.node.get_closest_marker("no_queries") is not None
    async with AsyncClient(
        transport=ASGITransport(app=app),
        base_url="http://test",
        event_hooks={"request": [note_queries] if watched else []},
    ) as http:
        yield http
    # After the test, where no exception handler of the test can swallow it.
    assert not queries, f"marked no_queries, but sent query operations: {queries}"


async def make_token(db: Database, scopes: frozenset[Scope] = ALL_SCOPES, ttl: int = 3600) -> str:
    async with db.transaction() as session:
        return (await issue_token(session, scopes, ttl)).token


@pytest.fixture
async def token(db: Database) -> str:
    return await make_token(db)


@pytest.fixture
def api(client: AsyncClient, token: str) -> Api:
    return Api(client, token)
