"""Input rules shared by every part of the domain (SPEC §3.9 to 3.11)."""

import uuid
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.errors import DomainError, ErrorCode, bad_input

MAX_TITLE_LENGTH = 500
MAX_REF_LENGTH = 255
MAX_TEXT_LENGTH = 20_000


def storable(value: str, field: str) -> str:
    """``value`` unchanged, or BAD_USER_INPUT: PostgreSQL cannot store U+0000 in text, so it is
    refused here, the same on both engines, instead of failing as a driver error."""
    if "\x00" in value:
        raise bad_input(field, f"{field} must not contain the NUL character (U+0000)")
    return value


def clean_title(value: str, field: str, max_length: int = MAX_TITLE_LENGTH) -> str:
    cleaned = storable(value, field).strip()
    if not cleaned:
        raise bad_input(field, f"{field} must not be empty")
    if len(cleaned) > max_length:
        raise bad_input(field, f"{field} must be at most {max_length} characters")
    return cleaned


def clean_ref(value: str | None, field: str) -> str | None:
    """A ref is the integrator's own id: kept exactly, but never blank or padded."""
    if value is None:
        return None
    cleaned = storable(value, field).strip()
    if not cleaned:
        raise bad_input(field, f"{field} must not be blank; use null for no ref")
    if len(cleaned) > MAX_REF_LENGTH:
        raise bad_input(field, f"{field} must be at most {MAX_REF_LENGTH} characters")
    return cleaned


def clean_text(value: str | None, field: str, max_length: int = MAX_TEXT_LENGTH) -> str | None:
    if value is None:
        return None
    if len(value) > max_length:
        raise bad_input(field, f"{field} must be at most {max_length} characters")
    return storable(value, field)


def one_key(field_values: dict[str, Any]) -> tuple[str, Any]:
    """The single look-up key a query was given (``id`` or ``ref`` or …): exactly one is needed."""
    given = [(name, value) for name, value in field_values.items() if value is not None]
    if len(given) != 1:
        names = " or ".join(field_values)
        raise bad_input(next(iter(field_values)), f"give exactly one of {names}")
    return given[0]


async def ensure_unique_ref(
    session: AsyncSession,
    model: Any,
    ref: str | None,
    field: str,
    exclude_id: uuid.UUID | None = None,
) -> None:
    if ref is None:
        return
    await lock_value(session, f"{model.__tablename__}.ref", ref)
    stmt = select(model.id).where(model.ref == ref)
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    if await session.scalar(stmt) is not None:
        raise DomainError(ErrorCode.CONFLICT, f"ref '{ref}' is already in use", field=field)


async def lock_value(session: AsyncSession, scope: str, value: str) -> None:
    """Make concurrent transactions that check the same unique value take turns.

    Without this, two PostgreSQL transactions can both find a ref (or an e-mail address) free
    and both insert it: the second then fails on the unique index with a driver error instead
    of ``CONFLICT``. The
    advisory lock lasts until the transaction ends, so the second check runs after the first
    transaction committed and sees its row. SQLite needs nothing: its write transactions start
    with ``BEGIN IMMEDIATE`` and never overlap.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = func.hashtextextended(f"{scope}:{value}", 0)
        await session.execute(select(func.pg_advisory_xact_lock(key)))


def search_filter(search: str | None, *columns: Any) -> ColumnElement[bool] | None:
    """A case-insensitive substring match on any of ``columns``, or None for no search.

    ``%`` and ``_`` are matched literally: a search for "50%" is not a wildcard.
    """
    if search is None:
        return None
    term = storable(search, "search").strip()
    if not term:
        return None
    return or_(*(column.icontains(term, autoescape=True) for column in columns))
