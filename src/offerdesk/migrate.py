"""Applying the Alembic migrations from code (the CLI, the server's start, the tests)."""

from importlib.resources import files

from alembic import command
from alembic.config import Config

from offerdesk.config import with_async_driver


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("offerdesk") / "migrations"))
    config.set_main_option("sqlalchemy.url", with_async_driver(database_url))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)
