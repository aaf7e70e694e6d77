"""Generic row access every domain service builds its verbs on (get, find, get_many, refs).

Only services call these; each passes its own model. Nothing here knows a domain rule beyond
SPEC §3.9 (refs are unique per entity type).
"""

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.errors import DomainError, ErrorCode, not_found
from offerdesk.locking import lock_value
from offerdesk.validation import lookup_key

ModelT = TypeVar("ModelT")


async def get_row(
    session: AsyncSession, model: type[ModelT], id_: uuid.UUID, what: str, path: str = "id"
) -> ModelT:
    """The row with id ``id_``; NOT_FOUND ("``what`` not found", on ``path``) when missing."""
    row = await session.get(model, id_)
    if row is None:
        raise not_found(what, path)
    return row


async def find_row(
    session: AsyncSession,
    model: type[ModelT],
    id_: uuid.UUID | None = None,
    ref: str | None = None,
    ref_path: str = "ref",
) -> ModelT | None:
    """The row by id, else by its ``ref``; None when neither finds one. A ref that cannot be
    stored (NUL) is BAD_USER_INPUT on ``ref_path``."""
    if id_ is not None:
        return await session.get(model, id_)
    if ref is None:
        return None
    stmt = select(model).where(key_condition(model, "ref", key_value(ref, ref_path)))
    return await session.scalar(stmt)


def key_condition(model: Any, key: str, value: Any) -> ColumnElement[bool]:
    """The row of ``model`` (or of an alias of it) whose ``key`` ("id" or "ref") is ``value``
    (a value or a bound parameter): ``find_row``'s look-up, also for compiled reads."""
    column = model.id if key == "id" else model.ref
    condition: ColumnElement[bool] = column == value
    return condition


def key_value(value: Any, path: str = "ref") -> Any:
    """A look-up key as it may be sent to the database: BAD_USER_INPUT on ``path`` for a ref
    with a NUL character, which PostgreSQL cannot take (bad input, not a driver error)."""
    return lookup_key(value, path) if isinstance(value, str) else value


async def rows_by_ids(
    session: AsyncSession, model: type[ModelT], ids: Sequence[uuid.UUID]
) -> list[ModelT | None]:
    """Rows in the order of ``ids`` (None where missing): the shape a DataLoader returns."""
    rows = await session.scalars(select(model).where(model.id.in_(ids)))  # type: ignore[attr-defined]
    by_id = {row.id: row for row in rows}  # type: ignore[attr-defined]
    return [by_id.get(id_) for id_ in ids]


async def ensure_unique_ref(
    session: AsyncSession,
    model: Any,
    ref: str | None,
    path: str,
    exclude_id: uuid.UUID | None = None,
) -> None:
    """CONFLICT on ``path`` when another row of ``model`` has ``ref`` (SPEC §3.9).

    Concurrent checks of the same ref take turns (locking.lock_value), so the second of two
    writers sees the first one's row instead of failing on the unique index.
    """
    if ref is None:
        return
    await lock_value(session, f"{model.__tablename__}.ref", ref)
    stmt = select(model.id).where(model.ref == ref)
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    if await session.scalar(stmt) is not None:
        raise DomainError(ErrorCode.CONFLICT, f"ref '{ref}' is already in use", field=path)
