"""Checks a command makes before it uses the database, and errors explained to people.

The command line must never answer a mistake in ``OFFERDESK_DATABASE_URL`` (or a server that
is down, or a database that was never migrated) with a traceback: each case becomes one
:class:`DatabaseProblem` whose message says what is wrong and how to fix it.
"""

import asyncio
import socket
import sys
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from offerdesk.config import SUPPORTED_DRIVERS, Settings, describe_database
from offerdesk.db import create_engine
from offerdesk.migrate import alembic_config


def _migrate_command() -> str:
    """How to run ``migrate``, spelt the way this command was started (``.venv/bin/offerdesk``
    is not on the PATH, so a bare ``offerdesk`` would be wrong advice)."""
    program = sys.argv[0] if sys.argv and Path(sys.argv[0]).name == "offerdesk" else "offerdesk"
    return f"{program} migrate"


URL_EXAMPLES = "postgresql://user:password@host:5432/dbname or sqlite:///path/to/offerdesk.db"


class DatabaseProblem(Exception):
    """A database that cannot be used as configured; ``str()`` is the message for people
    (one or two lines: what is wrong, then what to do)."""


def parse_database_url(url: str) -> URL:
    """The parsed URL of a database Offerdesk can use.

    Raises :class:`DatabaseProblem` for a URL that does not parse or names a database or
    driver other than PostgreSQL (asyncpg) and SQLite (aiosqlite).
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseProblem(
            "OFFERDESK_DATABASE_URL is not a database URL.\n"
            f"Set it to a URL such as {URL_EXAMPLES}."
        ) from exc
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise DatabaseProblem(
            f'OFFERDESK_DATABASE_URL names "{parsed.drivername}", which Offerdesk cannot use.\n'
            f"Use PostgreSQL or SQLite: {URL_EXAMPLES} (the async driver is added for you)."
        )
    return parsed


def _sqlite_file(parsed: URL) -> Path | None:
    if not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).resolve()


def _server(parsed: URL) -> str:
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}"


def explain(exc: BaseException, url: str) -> str | None:
    """One or two lines saying what a database error means and how to fix it, or None when
    ``exc`` (or what caused it) is not a database problem we recognise."""
    if isinstance(exc, DatabaseProblem):
        return str(exc)
    try:
        parsed = parse_database_url(url)
    except DatabaseProblem as problem:
        return str(problem)
    where = describe_database(url)
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        message = _explain_one(current, parsed, where)
        if message:
            return message
        current = current.__cause__ or current.__context__
    return None


def _explain_one(exc: BaseException, parsed: URL, where: str) -> str | None:
    if isinstance(exc, NoSuchModuleError | ModuleNotFoundError):
        return (
            f"The database driver for {parsed.drivername} is not installed.\n"
            f"Use PostgreSQL or SQLite: {URL_EXAMPLES}."
        )
    if isinstance(exc, socket.gaierror):
        return (
            f'Cannot find the database host "{parsed.host}" ({exc.strerror}).\n'
            "Check the host name in OFFERDESK_DATABASE_URL."
        )
    if isinstance(exc, ConnectionRefusedError):
        return (
            f"Cannot connect to PostgreSQL at {_server(parsed)}: connection refused.\n"
            "Is the server running? Check the host and port in OFFERDESK_DATABASE_URL."
        )
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return (
            f"Cannot connect to PostgreSQL at {_server(parsed)}: no answer in time.\n"
            "Check the host and port in OFFERDESK_DATABASE_URL and any firewall between."
        )
    if isinstance(exc, OSError) and not isinstance(exc, DBAPIError):
        return f"Cannot connect to the database ({where}): {exc.strerror or exc}."
    if isinstance(exc, DBAPIError):
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        detail = detail.removeprefix("(sqlite3.OperationalError) ")
        if "does not exist" in detail and "database" in detail:
            return (
                f'The database "{parsed.database}" does not exist on {_server(parsed)}.\n'
                f"Create it (createdb -h {parsed.host or 'localhost'} -p {parsed.port or 5432}"
                f" -U {parsed.username or 'postgres'} {parsed.database}),"
                f" then run {_migrate_command()}."
            )
        if "role" in detail and "does not exist" in detail:
            return (
                f"PostgreSQL at {_server(parsed)} refused the user: {detail}.\n"
                "Check the user name in OFFERDESK_DATABASE_URL."
            )
        if "password" in detail or "authentication" in detail:
            return (
                f"PostgreSQL at {_server(parsed)} refused the login: {detail}.\n"
                "Check the user and password in OFFERDESK_DATABASE_URL."
            )
        if "unable to open database file" in detail:
            file = _sqlite_file(parsed)
            return (
                f"Cannot open the SQLite file {file}.\n"
                "Check that its directory exists and is writable, or set OFFERDESK_DATABASE_URL."
            )
        if "no such table" in detail or ("relation" in detail and "does not exist" in detail):
            return (
                f"The database ({where}) is not migrated: {detail}.\n"
                f"Run {_migrate_command()} (with the same OFFERDESK_DATABASE_URL)."
            )
        return f"The database ({where}) refused: {detail}."
    return None


def check_can_create(url: str) -> None:
    """For ``migrate`` (which may create a SQLite file): the URL is usable and a SQLite
    file's directory exists. Raises :class:`DatabaseProblem`."""
    parsed = parse_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        file = _sqlite_file(parsed)
        if file is not None and not file.parent.is_dir():
            raise DatabaseProblem(
                f"The directory {file.parent} for the SQLite file does not exist.\n"
                "Create it, or set OFFERDESK_DATABASE_URL to a file in an existing directory."
            )


def check_migrated(url: str, settings: Settings) -> None:
    """The database exists, answers, and is migrated to this version's head.

    Never creates anything: a SQLite file that is not there is reported, not created.
    Raises :class:`DatabaseProblem` with what to do.
    """
    parsed = parse_database_url(url)
    where = describe_database(url)
    if parsed.get_backend_name() == "sqlite":
        file = _sqlite_file(parsed)
        if file is not None and not file.exists():
            raise DatabaseProblem(
                f"There is no database at {file}.\n"
                f"Run {_migrate_command()} to create it there,"
                " or set OFFERDESK_DATABASE_URL to yours."
            )
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    try:
        versions = asyncio.run(_versions(url, settings))
    except Exception as exc:
        raise DatabaseProblem(explain(exc, url) or f"Cannot use the database ({where}).") from exc
    if versions is None:
        raise DatabaseProblem(
            f"The database ({where}) is not migrated: it has no Offerdesk tables.\n"
            f"Run {_migrate_command()} (with the same OFFERDESK_DATABASE_URL)."
        )
    if versions != [head]:
        found = ", ".join(versions) or "none"
        raise DatabaseProblem(
            f"The database ({where}) is at migration {found}; this Offerdesk needs {head}.\n"
            f"Run {_migrate_command()} (a newer database needs a newer Offerdesk)."
        )


def _has_version_table(connection: Connection) -> bool:
    return bool(inspect(connection).has_table("alembic_version"))


async def _versions(url: str, settings: Settings) -> list[str] | None:
    """The revisions in ``alembic_version``, or None when the table does not exist."""
    engine = create_engine(url, settings)
    try:
        async with engine.connect() as connection:
            if not await connection.run_sync(_has_version_table):
                return None
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return [str(row[0]) for row in rows]
    finally:
        await engine.dispose()
