"""Input rules shared by every part of the domain (SPEC §3.9 to 3.11)."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.errors import DomainError, ErrorCode, bad_input

MAX_TITLE_LENGTH = 500
MAX_REF_LENGTH = 255
MAX_TEXT_LENGTH = 20_000


def clean_title(value: str, field: str, max_length: int = MAX_TITLE_LENGTH) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise bad_input(field, f"{field} must not be empty")
    if len(cleaned) > max_length:
        raise bad_input(field, f"{field} must be at most {max_length} characters")
    return cleaned


def clean_ref(value: str | None, field: str) -> str | None:
    """A ref is the integrator's own id: kept exactly, but never blank or padded."""
    if value is None:
        return None
    cleaned = value.strip()
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
    return value


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
    stmt = select(model.id).where(model.ref == ref)
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    if await session.scalar(stmt) is not None:
        raise DomainError(ErrorCode.CONFLICT, f"ref '{ref}' is already in use", field=field)
