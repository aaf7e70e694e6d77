"""The ``offerdesk`` command facing mistakes in its environment (issue 13, items 1 and 2).

Each case runs the installed command as a real process, in an empty working directory:
it must exit non-zero with a short explanation, no traceback, and leave no file behind.
"""

import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest
from sqlalchemy import inspect, make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from offerdesk.config import Settings, describe_database, with_async_driver

OFFERDESK = Path(sys.executable).parent / "offerdesk"
POSTGRES_URL = os.environ.get("OFFERDESK_TEST_POSTGRES_URL")


async def run(
    cwd: Path, *args: str, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The console script run in ``cwd`` (OFFERDESK_DATABASE_URL unset when None)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OFFERDESK_")}
    if database_url is not None:
        env["OFFERDESK_DATABASE_URL"] = database_url
    done = await anyio.run_process([str(OFFERDESK), *args], env=env, cwd=cwd, check=False)
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def refused(result: subprocess.CompletedProcess[str], *phrases: str) -> str:
    """The explanation of a command that must fail cleanly, checked for ``phrases``."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    error_lines = [line for line in result.stderr.splitlines() if not line.startswith("database:")]
    assert 1 <= len(error_lines) <= 2, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, (phrase, result.stderr)
    return result.stderr


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """An empty working directory that must still be empty afterwards."""
    directory = tmp_path / "cwd"
    directory.mkdir()
    yield directory
    assert list(directory.iterdir()) == [], "the command left a file behind"


@pytest.fixture
async def empty_database_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database that exists but was never migrated, of the engine of ``database_url``."""
    if database_url.startswith("sqlite"):
        file = tmp_path / "empty.db"
        engine = create_async_engine(f"sqlite+aiosqlite:///{file}")
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        await engine.dispose()
        yield f"sqlite+aiosqlite:///{file}"
        engine = create_async_engine(f"sqlite+aiosqlite:///{file}")
    else:
        name = f"offerdesk_empty_{uuid.uuid4().hex[:12]}"
        admin = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
        yield url
        engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        assert tables == [], "a refused command created tables"
    finally:
        await engine.dispose()
        if not database_url.startswith("sqlite"):
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await admin.dispose()


def server_url(database_url: str, **parts: object) -> str:
    """The PostgreSQL URL of ``database_url`` with some parts changed."""
    return make_url(database_url).set(**parts).render_as_string(hide_password=False)  # type: ignore[arg-type]


# --- without a database --------------------------------------------------------------------


async def test_version_prints_the_package_version(workdir: Path) -> None:
    result = await run(workdir, "--version")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"offerdesk \d+\.\d+\.\d+\S*\n", result.stdout), result.stdout


@pytest.mark.parametrize(
    ("url", "phrase"),
    [
        ("not a url", "is not a database URL"),
        ("", "is not a database URL"),
        ("mysql://root@127.0.0.1/offerdesk", '"mysql"'),
        ("postgresql+psycopg2://postgres@127.0.0.1/offerdesk", '"postgresql+psycopg2"'),
    ],
)
@pytest.mark.parametrize("command", [["migrate"], ["token", "create", "--scopes", "events.read"]])
async def test_unusable_url_is_explained(
    workdir: Path, url: str, phrase: str, command: list[str]
) -> None:
    refused(await run(workdir, *command, database_url=url), phrase, "OFFERDESK_DATABASE_URL")


async def test_unknown_scope_is_named_with_the_known_ones(workdir: Path) -> None:
    stderr = refused(await run(workdir, "token", "create", "--scopes", "events.read bogus"))
    assert "bogus" in stderr
    assert "events.write" in stderr


async def test_bad_setting_is_named(workdir: Path) -> None:
    env_url = f"sqlite:///{workdir / 'offerdesk.db'}"
    result = await anyio.run_process(
        [str(OFFERDESK), "migrate"],
        env={**os.environ, "OFFERDESK_DATABASE_URL": env_url, "OFFERDESK_TOKEN_TTL_SECONDS": "x"},
        cwd=workdir,
        check=False,
    )
    stderr = result.stderr.decode()
    assert result.returncode != 0
    assert "Traceback" not in stderr
    assert "OFFERDESK_TOKEN_TTL_SECONDS" in stderr


async def test_serve_on_a_busy_port_says_so(workdir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = await run(
            workdir,
            "serve",
            "--port",
            str(port),
            database_url=f"sqlite:///{workdir / 'offerdesk.db'}",
        )
    refused(result, f"port {port}", "--port")


# --- SQLite -----------------------------------------------------------------------------------


async def test_default_database_missing_is_reported_not_created(workdir: Path) -> None:
    stderr = refused(await run(workdir, "token", "create", "--scopes", "events.read"))
    # The default is ./offerdesk.db, relative to where the command runs.
    assert f"database: SQLite file {workdir}/offerdesk.db" in stderr
    assert "migrate" in stderr


@pytest.mark.parametrize(
    "command",
    [
        ["token", "create", "--scopes", "events.read"],
        ["client", "create", "--name", "x", "--scopes", "events.read"],
        ["client", "list"],
        ["client", "revoke", "odc_x"],
        ["token", "list"],
        ["token", "revoke", "odt_12345678"],
        ["demo"],
        ["serve", "--no-migrate", "--port", "0"],
    ],
)
async def test_commands_needing_a_database_do_not_create_one(
    workdir: Path, command: list[str]
) -> None:
    url = f"sqlite:///{workdir / 'data.db'}"
    refused(await run(workdir, *command, database_url=url), "no database at", "migrate")


async def test_sqlite_file_in_a_missing_directory_is_explained(workdir: Path) -> None:
    url = f"sqlite:///{workdir / 'missing' / 'offerdesk.db'}"
    refused(await run(workdir, "migrate", database_url=url), "directory", "does not exist")


async def test_migrate_then_token_create_work_with_a_driverless_sqlite_url(
    workdir: Path,
) -> None:
    file = workdir / "offerdesk.db"
    migrated = await run(workdir, "migrate", database_url=f"sqlite:///{file}")
    assert migrated.returncode == 0, migrated.stderr
    assert f"database: SQLite file {file}" in migrated.stderr
    created = await run(
        workdir, "token", "create", "--scopes", "events.read", database_url=f"sqlite:///{file}"
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.splitlines()[-1].startswith("odt_")
    # The database line goes to stderr: the token stays alone on stdout's last line.
    assert "database:" not in created.stdout
    for leftover in os.listdir(workdir):
        os.unlink(workdir / leftover)


# --- either engine ----------------------------------------------------------------------------


async def test_unmigrated_database_is_reported_and_left_untouched(
    workdir: Path, empty_database_url: str
) -> None:
    stderr = refused(
        await run(
            workdir,
            "token",
            "create",
            "--scopes",
            "events.read",
            database_url=empty_database_url,
        ),
        "not migrated",
        "migrate",
    )
    assert describe_database(empty_database_url) in stderr


async def test_every_command_names_its_database_with_the_password_masked(
    workdir: Path, database_url: str
) -> None:
    if database_url.startswith("sqlite"):
        url, shown = database_url, describe_database(database_url)
    else:
        url = server_url(database_url, password="s3cret-pw")
        shown = make_url(url).render_as_string(hide_password=True)
        assert ":***@" in shown
    # PostgreSQL here trusts local connections: the password is sent and not checked.
    for command in (["migrate"], ["token", "list"], ["client", "list"]):
        result = await run(workdir, *command, database_url=url)
        assert result.returncode == 0, result.stderr
        assert f"database: {shown}" in result.stderr
        assert "s3cret-pw" not in result.stdout + result.stderr


# --- PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture
def postgres_server() -> str:
    """The test PostgreSQL server's URL (the run is skipped without one, as in conftest)."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need OFFERDESK_TEST_POSTGRES_URL (CI sets it)")
    return POSTGRES_URL


@pytest.mark.parametrize(
    ("parts", "phrases"),
    [
        ({"port": 1}, ["127.0.0.1:1", "connection refused"]),
        ({"host": "no-such-host.invalid"}, ['"no-such-host.invalid"']),
        ({"database": "offerdesk_no_such_database"}, ["does not exist", "createdb"]),
        ({"username": "no_such_role"}, ["no_such_role", "user"]),
    ],
)
async def test_unreachable_postgresql_is_explained(
    workdir: Path, postgres_server: str, parts: dict[str, object], phrases: list[str]
) -> None:
    url = server_url(postgres_server, **parts)
    for command in (["migrate"], ["token", "create", "--scopes", "events.read"]):
        refused(await run(workdir, *command, database_url=url), *phrases)


async def test_driverless_postgresql_url_gets_asyncpg(workdir: Path, postgres_server: str) -> None:
    name = f"offerdesk_driverless_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(postgres_server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = server_url(postgres_server, drivername="postgresql", database=name)
        assert url.startswith("postgresql://")
        migrated = await run(workdir, "migrate", database_url=url)
        assert migrated.returncode == 0, migrated.stderr
        result = await run(workdir, "token", "create", "--scopes", "events.read", database_url=url)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1].startswith("odt_")
        assert "database: postgresql+asyncpg://" in result.stderr
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def test_settings_give_driverless_urls_the_async_driver() -> None:
    assert Settings(database_url="postgresql://u@h/d").database_url == "postgresql+asyncpg://u@h/d"
    assert Settings(database_url="postgres://u@h/d").database_url == "postgresql+asyncpg://u@h/d"
    assert Settings(database_url="sqlite:///x.db").database_url == "sqlite+aiosqlite:///x.db"
    assert with_async_driver("postgresql+asyncpg://u@h/d") == "postgresql+asyncpg://u@h/d"
    assert with_async_driver("mysql://u@h/d") == "mysql://u@h/d"


async def test_debug_shows_the_traceback(workdir: Path) -> None:
    result = await run(
        workdir, "--debug", "token", "create", "--scopes", "events.read", database_url="not a url"
    )
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert "DatabaseProblem" in result.stderr
