"""Alembic environment: runs the migrations on the async engine of the configured database."""

import asyncio

from alembic import context
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


async def _run_async(url: str) -> None:
    engine = create_engine(url, get_settings())
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


url = context.config.get_main_option("sqlalchemy.url") or get_settings().database_url
asyncio.run(_run_async(url))
