"""Creating clients and tokens, and turning a presented token into a principal."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.auth.models import ApiClient, ApiToken
from offerdesk.auth.scopes import Scope, format_scopes, parse_scopes
from offerdesk.db import utcnow
from offerdesk.errors import bad_input

TOKEN_PREFIX = "odt_"
# How much of a token is kept in clear to name it (``odt_`` and 8 of its 43 random
# characters: 48 of its 256 bits, useless to an attacker, unique enough to pick one out).
SHOWN_PREFIX_LENGTH = len(TOKEN_PREFIX) + 8
CLIENT_ID_PREFIX = "odc_"


@dataclass(frozen=True)
class Principal:
    """Who is calling, and what they may do."""

    scopes: frozenset[Scope]
    client_id: str | None = None


@dataclass(frozen=True)
class IssuedToken:
    token: str
    scopes: frozenset[Scope]
    expires_at: datetime
    expires_in: int


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# Compared against when the client id is unknown; no secret hashes to it (it is not hex).
_DUMMY_SECRET_HASH = "z" * 64


async def create_client(session: AsyncSession, name: str, scopes: str) -> tuple[ApiClient, str]:
    """Create an API client; returns it with its secret, which is not stored and not shown again."""
    name = name.strip()
    if not name:
        raise bad_input("name", "name must not be empty")
    granted = parse_scopes(scopes)
    if not granted:
        raise bad_input("scopes", "a client needs at least one scope")
    secret = secrets.token_urlsafe(32)
    client = ApiClient(
        name=name,
        client_id=CLIENT_ID_PREFIX + secrets.token_urlsafe(12),
        secret_hash=hash_secret(secret),
        scopes=format_scopes(granted),
    )
    session.add(client)
    await session.flush()
    return client, secret


async def issue_token(
    session: AsyncSession,
    scopes: frozenset[Scope],
    ttl_seconds: int,
    client: ApiClient | None = None,
) -> IssuedToken:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(seconds=ttl_seconds)
    session.add(
        ApiToken(
            token_hash=hash_secret(token),
            prefix=token[:SHOWN_PREFIX_LENGTH],
            client_id=client.id if client else None,
            scopes=format_scopes(scopes),
            expires_at=expires_at,
        )
    )
    await session.flush()
    return IssuedToken(token=token, scopes=scopes, expires_at=expires_at, expires_in=ttl_seconds)


async def authenticate_client(
    session: AsyncSession, client_id: str, client_secret: str
) -> ApiClient | None:
    """The active client with these credentials, else None.

    An unknown client id costs the same work as a known one with a wrong secret (the secret is
    hashed and compared against a dummy hash in constant time), so timing does not tell which
    client ids exist."""
    client = await session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    expected = client.secret_hash if client is not None else _DUMMY_SECRET_HASH
    matches = hmac.compare_digest(expected, hash_secret(client_secret))
    if client is None or not client.is_active or not matches:
        return None
    return client


async def principal_for_token(session: AsyncSession, token: str) -> Principal | None:
    """The principal a bearer token stands for, or None when it is unknown, expired or revoked
    (itself or its client)."""
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_secret(token)))
    if row is None or row.expires_at <= utcnow() or row.revoked_at is not None:
        return None
    scopes = parse_scopes(row.scopes)
    if row.client_id is None:
        return Principal(scopes=scopes)
    client = await session.get(ApiClient, row.client_id)
    if client is None or not client.is_active:
        return None
    # A client's scopes may have been narrowed since the token was issued: the token never
    # carries more than its client holds now.
    return Principal(scopes=scopes & parse_scopes(client.scopes), client_id=client.client_id)
