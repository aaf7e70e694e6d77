"""Alembic environment: runs the migrations on the async engine of the configured database."""

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import Connection

from offerdesk.config import get_settings
from offerdesk.db import Base, create_engine
from offerdesk.models import import_all

import_all()
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            _check_foreign_keys(connection)


def _foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
    # SQLite changes a table by rebuilding it (batch mode): dropping the old copy of a table
    # others reference (users, under enrollments) fails with foreign keys on, and the pragma
    # cannot change inside a transaction. So migrations run with them off, as Alembic's batch
    # documentation advises, and _check_foreign_keys proves nothing was broken.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"the migrations broke foreign keys (table, rowid, parent): {broken}")


async def _run_async(url: str) -> None:
    engine = create_engine(url, get_settings())
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _foreign_keys_off)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


url = context.config.get_main_option("sqlalchemy.url") or get_settings().database_url
asyncio.run(_run_async(url))
