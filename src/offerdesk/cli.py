"""The ``offerdesk`` command: serve, migrate, demo data, API clients and tokens, the SDL."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.auth import service as auth
from offerdesk.auth.scopes import ALL_SCOPES, format_scopes, parse_scopes
from offerdesk.config import get_settings
from offerdesk.db import Database
from offerdesk.errors import DomainError
from offerdesk.migrate import upgrade
from offerdesk.server import GuardedHttpToolsProtocol

T = TypeVar("T")


def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    settings = get_settings()

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
        raise click.UsageError(f"{exc.field or 'input'}: {exc.message}") from exc


@click.group()
def main() -> None:
    """Offerdesk: registration offers over GraphQL."""
    logging.basicConfig(
        level=get_settings().log_level, format="%(levelname)s %(name)s: %(message)s"
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--no-migrate", is_flag=True, help="Do not apply pending migrations first.")
def serve(host: str, port: int, workers: int, no_migrate: bool) -> None:
    """Run the HTTP server (applies pending migrations first)."""
    if not no_migrate:
        upgrade(get_settings().database_url)
    uvicorn.run(
        "offerdesk.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        # httptools, with header time-out and size limits (server.py).
        http=GuardedHttpToolsProtocol,
        log_level=get_settings().log_level.lower(),
        access_log=False,
        # No "server: uvicorn" header: nothing for a scanner to fingerprint.
        server_header=False,
    )


@main.command()
def migrate() -> None:
    """Apply pending database migrations."""
    upgrade(get_settings().database_url)
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
        raise click.UsageError(exc.message) from exc
    lifetime = ttl or get_settings().token_ttl_seconds
    issued = _in_transaction(lambda session: auth.issue_token(session, granted, lifetime))
    click.echo(f"scopes: {format_scopes(issued.scopes)}; expires {issued.expires_at.isoformat()}")
    click.echo(issued.token)


@main.command("export-schema")
def export_schema() -> None:
    """Print the GraphQL schema (SDL)."""
    from offerdesk.graphql.schema import export_sdl

    click.echo(export_sdl(), nl=False)
