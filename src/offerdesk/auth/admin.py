"""Listing and revoking API clients and tokens (the ``offerdesk client``/``token`` commands).

Nothing here returns a secret: clients are listed by their public id, tokens by their
prefix. Revocation takes effect on the next request in every process, since every request
looks its token (and the token's client) up in the database (service.principal_for_token).
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.auth.models import ApiClient, ApiToken
from offerdesk.auth.service import SHOWN_PREFIX_LENGTH, hash_secret
from offerdesk.db import utcnow
from offerdesk.errors import DomainError, ErrorCode, bad_input, not_found


@dataclass(frozen=True)
class TokenInfo:
    """A token's metadata: ``prefix`` (None for tokens issued before prefixes were kept),
    the public id of its client (None for tokens made on the command line), its scopes
    (space-separated), when it was created and expires (UTC), and its state: ``active``,
    ``expired``, ``revoked`` or ``client revoked``."""

    prefix: str | None
    client_id: str | None
    scopes: str
    created_at: datetime
    expires_at: datetime
    state: str


async def list_clients(session: AsyncSession) -> list[tuple[ApiClient, int]]:
    """Every API client, oldest first, with how many tokens it holds that still work."""
    now = utcnow()
    live = (
        select(func.count())
        .where(
            ApiToken.client_id == ApiClient.id,
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > now,
        )
        .correlate(ApiClient)
        .scalar_subquery()
    )
    rows = await session.execute(select(ApiClient, live).order_by(ApiClient.created_at))
    # A revoked client's tokens no longer work, whatever their own state.
    return [(client, int(count) if client.is_active else 0) for client, count in rows.tuples()]


async def revoke_client(session: AsyncSession, client_id: str) -> ApiClient:
    """Revoke the client with public id ``client_id``: it can no longer obtain tokens and
    the tokens it holds stop working. Revoking a revoked client changes nothing.
    Raises NOT_FOUND for an unknown id."""
    client = await session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    if client is None:
        raise not_found(f"client {client_id}", "client_id")
    client.is_active = False
    await session.flush()
    return client


async def list_tokens(session: AsyncSession, include_inactive: bool = False) -> list[TokenInfo]:
    """The tokens, newest first; only those that still work unless ``include_inactive``."""
    now = utcnow()
    rows = await session.execute(
        select(ApiToken, ApiClient)
        .outerjoin(ApiClient, ApiClient.id == ApiToken.client_id)
        .order_by(ApiToken.created_at.desc())
    )
    found = []
    for token, client in rows.tuples():
        if token.revoked_at is not None:
            state = "revoked"
        elif client is not None and not client.is_active:
            state = "client revoked"
        elif token.expires_at <= now:
            state = "expired"
        else:
            state = "active"
        if state != "active" and not include_inactive:
            continue
        found.append(
            TokenInfo(
                prefix=token.prefix,
                client_id=client.client_id if client else None,
                scopes=token.scopes,
                created_at=token.created_at,
                expires_at=token.expires_at,
                state=state,
            )
        )
    return found


async def revoke_token(session: AsyncSession, prefix_or_token: str) -> TokenInfo:
    """Revoke one token, named by its prefix (as ``list_tokens`` shows it) or given whole.

    Raises BAD_USER_INPUT for something too short to be a prefix, NOT_FOUND when no token
    matches, CONFLICT when several do (give the whole token then).
    """
    given = prefix_or_token.strip()
    if len(given) < SHOWN_PREFIX_LENGTH:
        raise bad_input(
            "prefix", f"give the {SHOWN_PREFIX_LENGTH} characters `token list` shows, or more"
        )
    matches = list(
        await session.scalars(
            select(ApiToken).where(
                (ApiToken.token_hash == hash_secret(given))
                | (ApiToken.prefix == given[:SHOWN_PREFIX_LENGTH])
            )
        )
    )
    exact = [token for token in matches if token.token_hash == hash_secret(given)]
    if exact:
        matches = exact
    elif len(given) > SHOWN_PREFIX_LENGTH:
        # More than a prefix but not a token: refuse rather than guess.
        matches = []
    if not matches:
        raise not_found(f"a token {given[:SHOWN_PREFIX_LENGTH]}…", "prefix")
    if len(matches) > 1:
        raise DomainError(
            ErrorCode.CONFLICT,
            f"{len(matches)} tokens start with {given}: give the whole token to revoke one",
            field="prefix",
        )
    [token] = matches
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    await session.flush()
    client = await session.get(ApiClient, token.client_id) if token.client_id else None
    return TokenInfo(
        prefix=token.prefix,
        client_id=client.client_id if client else None,
        scopes=token.scopes,
        created_at=token.created_at,
        expires_at=token.expires_at,
        state="revoked",
    )
