"""The ``offerdesk`` command: serve, migrate, demo data, API clients and tokens, the SDL."""

import asyncio
import errno
import logging
import os
import signal
import socket
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
import uvicorn
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.auth import admin
from offerdesk.auth import service as auth
from offerdesk.auth.scopes import ALL_SCOPES, format_scopes, parse_scopes
from offerdesk.config import Settings, describe_database, get_settings
from offerdesk.db import Database
from offerdesk.errors import DomainError
from offerdesk.logs import configure_logging
from offerdesk.migrate import upgrade
from offerdesk.outbox.models import EventType
from offerdesk.preflight import check_can_create, check_migrated, explain
from offerdesk.server import GuardedHttpToolsProtocol
from offerdesk.webhooks import service as webhooks
from offerdesk.webhooks.dispatcher import Dispatcher, url_policy

T = TypeVar("T")


def _settings() -> Settings:
    """The settings, with a bad environment variable reported in one line, not a traceback."""
    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"OFFERDESK_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        )
        raise click.ClickException(f"a setting is not valid: {problems}") from exc


def _database(*, migrated: bool = True) -> Settings:
    """Say which database this command uses (on stderr, so stdout stays for results), then
    check it: migrated to the current head (``migrated``), or at least usable (``migrate``
    may create a SQLite file). Raises :class:`DatabaseProblem`."""
    settings = _settings()
    where = describe_database(settings.database_url)
    if settings.log_format == "json":
        # stderr holds only JSON lines then, for the log collector.
        logging.getLogger("offerdesk").info("database: %s", where, extra={"database": where})
    else:
        click.echo(f"database: {where}", err=True)
    if migrated:
        check_migrated(settings.database_url, settings)
    else:
        check_can_create(settings.database_url)
    return settings


def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    settings = _database()

    async def run() -> T:
        db = Database(settings.database_url, settings)
        try:
            async with db.transaction() as session:
                return await work(session)
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except DomainError as exc:
        raise click.ClickException(f"{exc.field or 'input'}: {exc.message}") from exc


class _Offerdesk(click.Group):
    """The command group, turning every error into one or two lines unless ``--debug``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            message = explain(exc, get_settings().database_url) if _settings_valid() else None
            if message is None:
                message = (
                    f"unexpected error: {type(exc).__name__}: {exc}\n"
                    "Run again with --debug (offerdesk --debug …) for the traceback."
                )
            raise click.ClickException(message) from exc


def _settings_valid() -> bool:
    try:
        get_settings()
    except ValidationError:
        return False
    return True


@click.group(cls=_Offerdesk)
@click.version_option(package_name="offerdesk", message="%(prog)s %(version)s")
@click.option(
    "--debug",
    is_flag=True,
    envvar="OFFERDESK_DEBUG",
    help="Show the full traceback of an error instead of a short explanation.",
)
def main(debug: bool) -> None:
    """Offerdesk: registration offers over GraphQL.

    The database is OFFERDESK_DATABASE_URL (default: the file offerdesk.db in the current
    directory); every command that uses it names it first, on stderr.
    """
    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)


def _check_port_free(host: str, port: int) -> None:
    """Fail with one line when ``host:port`` cannot be bound, before migrations and workers
    start (uvicorn would log the OS error and exit, after the work of starting)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise click.ClickException(f'cannot listen on host "{host}": {exc.strerror}') from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As uvicorn binds: SO_REUSEADDR, so a port left in TIME_WAIT is not reported busy.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise click.ClickException(
                    f"port {port} on {host} is already in use (another server?).\n"
                    "Stop it, or choose another port with --port."
                ) from exc
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--no-migrate", is_flag=True, help="Do not apply pending migrations first.")
def serve(host: str, port: int, workers: int, no_migrate: bool) -> None:
    """Run the HTTP server (applies pending migrations first)."""
    _check_port_free(host, port)
    settings = _database(migrated=no_migrate)
    if not no_migrate:
        upgrade(settings.database_url)
    with _metrics_directory(settings):
        _run_server(host, port, workers, settings)


@contextmanager
def _metrics_directory(settings: Settings) -> Iterator[None]:
    """With /metrics on, a directory for prometheus-client's multiprocess mode, so that every
    worker's metrics add up (metrics.py). Set before the app (and prometheus-client) is
    imported; a directory the operator gave in PROMETHEUS_MULTIPROC_DIR is used as it is
    (it must be empty at start); ours is removed at exit."""
    if not settings.metrics_token or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="offerdesk-metrics-") as directory:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        try:
            yield
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]


def _run_server(host: str, port: int, workers: int, settings: Settings) -> None:
    uvicorn.run(
        "offerdesk.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        # httptools, with header time-out and size limits (server.py).
        http=GuardedHttpToolsProtocol,
        log_level=settings.log_level.lower(),
        # Our logging setup (logs.py) formats uvicorn's lines too, as text or JSON; the
        # access log is ours (logs.AccessLog), which knows the request id and client.
        log_config=None,
        access_log=False,
        # No "server: uvicorn" header: nothing for a scanner to fingerprint.
        server_header=False,
    )


@main.command()
def migrate() -> None:
    """Apply pending database migrations (creates a SQLite file that does not exist yet)."""
    settings = _database(migrated=False)
    upgrade(settings.database_url)
    click.echo("database is up to date")


@main.command()
@click.option("--port", default=8000, show_default=True, type=int, help="For the printed URL.")
def demo(port: int) -> None:
    """Load demo data into an empty database and print an admin token for GraphiQL."""
    from offerdesk.demo import load_demo_data

    async def work(session: AsyncSession) -> tuple[bool, str]:
        loaded = await load_demo_data(session)
        issued = await auth.issue_token(session, ALL_SCOPES, get_settings().token_ttl_seconds)
        return loaded, issued.token

    loaded, token = _in_transaction(work)
    click.echo("demo data loaded" if loaded else "database already has data: demo data skipped")
    click.echo(
        f"\nGraphiQL: http://127.0.0.1:{port}/graphql\n"
        "Open it, click 'Headers' (bottom left) and paste:\n\n"
        f'  {{"Authorization": "Bearer {token}"}}\n\n'
        "(the token has every scope and expires in 24 hours)\n"
    )


@main.group()
def client() -> None:
    """API clients (OAuth 2.0 client credentials)."""


@client.command("create")
@click.option("--name", required=True)
@click.option("--scopes", required=True, help='Space-separated, e.g. "events.read events.write".')
def client_create(name: str, scopes: str) -> None:
    """Create an API client and print its id and secret (the secret is shown only now)."""
    created, secret = _in_transaction(lambda session: auth.create_client(session, name, scopes))
    click.echo(f"client_id: {created.client_id}")
    click.echo(f"client_secret: {secret}")
    click.echo(f"scopes: {created.scopes}")


@client.command("list")
def client_list() -> None:
    """List the API clients: id, state, live tokens, scopes, name (never secrets)."""
    clients = _in_transaction(admin.list_clients)
    if not clients:
        click.echo("no API clients (create one with: offerdesk client create)")
        return
    for created, live_tokens in clients:
        state = "active" if created.is_active else "revoked"
        click.echo(
            f"{created.client_id}  {state:<7}  tokens={live_tokens:<3}  "
            f"created={created.created_at:%Y-%m-%d}  scopes={created.scopes}  name={created.name}"
        )


@client.command("revoke")
@click.argument("client_id")
def client_revoke(client_id: str) -> None:
    """Revoke an API client: its tokens stop working at once, and it gets no new ones."""
    revoked = _in_transaction(lambda session: admin.revoke_client(session, client_id))
    click.echo(f"revoked client {revoked.client_id} ({revoked.name}) and its tokens")


@main.group()
def token() -> None:
    """Bearer tokens."""


@token.command("create")
@click.option("--scopes", required=True, help='Space-separated, e.g. "events.read users.read".')
@click.option("--ttl", default=None, type=click.IntRange(min=60), help="Lifetime in seconds.")
def token_create(scopes: str, ttl: int | None) -> None:
    """Create a bearer token; the token alone is printed on the last line."""
    try:
        granted = parse_scopes(scopes)
    except DomainError as exc:
        raise click.ClickException(f"{exc.message} (known: {format_scopes(ALL_SCOPES)})") from exc
    lifetime = ttl or get_settings().token_ttl_seconds
    issued = _in_transaction(lambda session: auth.issue_token(session, granted, lifetime))
    click.echo(
        f"scopes: {format_scopes(issued.scopes)}; expires {issued.expires_at.isoformat()};"
        f" prefix {issued.token[: auth.SHOWN_PREFIX_LENGTH]} (for token list/revoke)"
    )
    click.echo(issued.token)


@token.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also expired and revoked tokens.")
def token_list(show_all: bool) -> None:
    """List tokens by prefix, with client, scopes and expiry (never the tokens themselves)."""
    tokens = _in_transaction(lambda session: admin.list_tokens(session, show_all))
    if not tokens:
        click.echo("no tokens" if show_all else "no active tokens (--all shows the others)")
        return
    for info in tokens:
        click.echo(
            f"{info.prefix or '(no prefix)':<12}  {info.state:<14}  "
            f"expires={info.expires_at:%Y-%m-%dT%H:%M:%SZ}  "
            f"client={info.client_id or '-'}  scopes={info.scopes}"
        )


@token.command("revoke")
@click.argument("prefix")
def token_revoke(prefix: str) -> None:
    """Revoke one token, named by the prefix `token list` shows (or the whole token)."""
    revoked = _in_transaction(lambda session: admin.revoke_token(session, prefix))
    click.echo(f"revoked token {revoked.prefix}")


@main.group()
def webhook() -> None:
    """Webhook subscriptions (docs/webhooks.md)."""


@webhook.command("create")
@click.option("--url", required=True)
@click.option("--events", required=True, help='Space-separated, e.g. "OFFER_EVENT_ENROLLED".')
@click.option("--description", default=None)
def webhook_create(url: str, events: str, description: str | None) -> None:
    """Create a subscription and print its id and signing secret (shown only now)."""
    names = events.replace(",", " ").split()
    unknown = sorted(set(names) - {kind.value for kind in EventType})
    if unknown:
        raise click.ClickException(f"unknown event type(s): {', '.join(unknown)}")
    changes: webhooks.SubscriptionChanges = {
        "url": url,
        "events": [EventType(name) for name in names],
        "description": description,
    }
    policy = url_policy(get_settings())
    created = _in_transaction(lambda session: webhooks.create(session, changes, policy))
    click.echo(f"id: {created.id}")
    click.echo(f"secret: {created.secret}")


@webhook.command("list")
def webhook_list() -> None:
    """List the subscriptions: id, state, url, events (never secrets)."""
    found = _in_transaction(webhooks.find_many)
    if not found:
        click.echo("no webhook subscriptions (create one with: offerdesk webhook create)")
        return
    for subscription in found:
        state = "active" if subscription.is_active else "disabled"
        click.echo(
            f"{subscription.id}  {state:<8}  {subscription.url}  {' '.join(subscription.events)}"
        )


@webhook.command("delete")
@click.argument("ids", nargs=-1, required=True, type=click.UUID)
def webhook_delete(ids: tuple[uuid.UUID, ...]) -> None:
    """Delete subscriptions (and their delivery log) by id."""
    result = _in_transaction(lambda session: webhooks.delete_many(session, list(ids)))
    for id_ in result.succeeded:
        click.echo(f"deleted {id_}")
    if result.failed:
        raise click.ClickException(f"no such subscription: {', '.join(map(str, result.failed))}")


@main.command()
def worker() -> None:
    """Deliver webhooks without serving (for deployments that run delivery apart; set
    OFFERDESK_WEBHOOK_DISPATCHER=0 on the serve processes then). Stops on SIGINT/SIGTERM."""
    settings = _database()
    configure_logging(settings.log_level, settings.log_format)

    async def run() -> None:
        db = Database(settings.database_url, settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            await Dispatcher(db, settings).run(stop)
        finally:
            await db.dispose()

    asyncio.run(run())


@main.command("export-schema")
def export_schema() -> None:
    """Print the GraphQL schema (SDL)."""
    from offerdesk.graphql.schema import export_sdl

    click.echo(export_sdl(), nl=False)
