"""The Alembic migrations build exactly the schema the models describe, on both engines."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from offerdesk.db import Base, Database
from offerdesk.migrate import alembic_config, upgrade
from offerdesk.users.models import User


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def differences(url: str) -> list[Any]:
    """What autogenerate would change to make the database match the models."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_differences)
    finally:
        await engine.dispose()


async def table_names(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
            return set(names)
    finally:
        await engine.dispose()


async def current_revisions(url: str) -> list[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return [row[0] for row in rows]
    finally:
        await engine.dispose()


def head(url: str) -> str:
    heads = ScriptDirectory.from_config(alembic_config(url)).get_heads()
    assert len(heads) == 1, f"the migrations have several heads: {heads}"
    return heads[0]


@pytest.fixture
async def scratch_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the same engine as ``database_url``, dropped afterwards."""
    if database_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
        return
    name = f"offerdesk_scratch_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def test_migrated_database_is_at_the_single_head(database_url: str) -> None:
    assert await current_revisions(database_url) == [head(database_url)]


async def test_migrated_database_matches_the_models(database_url: str) -> None:
    assert await differences(database_url) == []


async def test_email_constraint_refuses_one_canonical_address_twice(db: Database) -> None:
    # Straight to the table: the database, not the service's own check, must refuse it.
    async with db.transaction() as session:
        await session.execute(
            insert(User).values(name="Ada", email="Ada@Example.org", email_canonical="ada@x.org")
        )
    with pytest.raises(IntegrityError) as refused:
        async with db.transaction() as session:
            await session.execute(
                insert(User).values(name="Ada 2", email="ADA@x.org", email_canonical="ada@x.org")
            )
    assert "email_canonical" in str(refused.value)
    async with db.read_session() as session:
        emails = (await session.scalars(text("SELECT email FROM users"))).all()
    assert emails == ["Ada@Example.org"]


async def test_downgrade_to_base_and_upgrade_again(scratch_url: str) -> None:
    await anyio.to_thread.run_sync(upgrade, scratch_url)
    assert await differences(scratch_url) == []

    await anyio.to_thread.run_sync(command.downgrade, alembic_config(scratch_url), "base")
    assert await table_names(scratch_url) == {"alembic_version"}
    assert await current_revisions(scratch_url) == []
    # The comparison sees an empty database for what it is: every model table is missing.
    missing = {diff[1].name for diff in await differences(scratch_url) if diff[0] == "add_table"}
    assert missing == set(Base.metadata.tables)

    await anyio.to_thread.run_sync(upgrade, scratch_url)
    assert await differences(scratch_url) == []
    assert await current_revisions(scratch_url) == [head(scratch_url)]
