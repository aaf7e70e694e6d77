"""Creating clients and tokens, and turning a presented token into a principal."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, any_, exists, func, or_, select
from sqlalchemy.dialects.postgresql import array
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


def token_lookup(token_hash: Any, now: Any) -> Select[bool, str, str, str]:
    """The one statement that checks a bearer token (by its SHA-256 ``token_hash``, at ``now``:
    values or bound parameters): at most one row of ``valid, scopes, client_scopes,
    client_id`` for ``principal_from_row``. ``valid`` is the whole rule of a usable token: not
    revoked, not expired, and its client (if any) still active. Compiled reads run it in the
    same statement as the answer, which they compute only when ``valid`` holds
    (graphql/direct.py)."""
    valid: ColumnElement[bool] = and_(
        ApiToken.revoked_at.is_(None),
        ApiToken.expires_at > now,
        or_(ApiToken.client_id.is_(None), ApiClient.is_active.is_(True)),
    )
    return (
        select(
            valid.label("valid"),
            ApiToken.scopes.label("scopes"),
            ApiClient.scopes.label("client_scopes"),
            ApiClient.client_id.label("client_id"),
        )
        .select_from(ApiToken)
        .outerjoin(ApiClient, ApiClient.id == ApiToken.client_id)
        .where(ApiToken.token_hash == token_hash)
    )


def principal_from_row(row: Row[Any] | tuple[Any, ...] | None) -> Principal | None:
    """The principal of a ``token_lookup`` row (``valid, scopes, client_scopes, client_id``),
    or None when there is no row or the token is not valid."""
    if row is None or not row[0]:
        return None
    return _principal(row[1], row[2], row[3])


# Every request makes one, from a handful of distinct rows (Principal is immutable).
@lru_cache(maxsize=1024)
def _principal(scopes: str, client_scopes: str | None, client_id: str | None) -> Principal:
    if client_id is None:
        return Principal(scopes=parse_scopes(scopes))
    # A client's scopes may have been narrowed since the token was issued: the token never
    # carries more than its client holds now.
    return Principal(
        scopes=parse_scopes(scopes) & parse_scopes(client_scopes or ""), client_id=client_id
    )


def token_allows(token: Any, needed: frozenset[frozenset[str]]) -> ColumnElement[bool]:
    """PostgreSQL: whether a ``token_lookup`` row (``token``: that statement as a subquery)
    is valid and its principal holds, for each set of ``needed``, one of its scopes: the
    rule of ``principal_from_row`` (the token's scopes, narrowed to its client's) and
    ``Plan.missing_scopes``, in SQL, so that graphql/direct.py can make a change in the
    statement that checks the token (tests/test_auth.py holds the two forms together)."""
    token_scopes = func.string_to_array(token.c.scopes, " ")
    client_scopes = func.string_to_array(token.c.client_scopes, " ")
    checks: list[ColumnElement[bool]] = [token.c.valid.is_(True)]
    for group in sorted(sorted(group) for group in needed):
        scope = func.unnest(array(group)).table_valued("value").render_derived(name="scope")
        checks.append(
            exists(
                select(scope.c.value)
                .where(
                    scope.c.value == any_(token_scopes),
                    or_(token.c.client_id.is_(None), scope.c.value == any_(client_scopes)),
                )
                .correlate_except(scope)
            )
        )
    return and_(*checks)


async def principal_for_token(session: AsyncSession, token: str) -> Principal | None:
    """The principal a bearer token stands for, or None when it is unknown, expired or revoked
    (itself or its client). One statement (``token_lookup``)."""
    result = await session.execute(token_lookup(hash_secret(token), utcnow()))
    return principal_from_row(result.first())
