"""Keyset pagination over (created_at, id), shared by every Relay connection (SPEC §2.6).

Keyset rather than OFFSET: a page costs the same however deep it is, and rows inserted while
a client pages do not shift what it sees next.
"""

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Index, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.db import Entity
from offerdesk.errors import bad_input

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50

T = TypeVar("T")
E = TypeVar("E", bound=Entity)


def keyset_index(model: type[Entity]) -> Index:
    """The index a paginated table's pages are read from: without it every page, the first
    too, is a scan and a sort of the whole table (bench/EXPLAIN.md)."""
    table = model.__tablename__  # type: ignore[attr-defined]
    return Index(f"ix_{table}_keyset", model.created_at, model.id)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[tuple[T, str]]
    has_next_page: bool
    # Run only if the client asks for the count: on a large table it is the page's dearest
    # statement (a scan of every match).
    count_query: Select[int]

    @property
    def end_cursor(self) -> str | None:
        return self.items[-1][1] if self.items else None

    async def count(self, session: AsyncSession) -> int:
        """How many rows match the page's filters, across all pages."""
        return int(await session.scalar(self.count_query) or 0)


def page_size(first: int | None, field: str = "first") -> int:
    """``first`` checked (1 to 100, SPEC §2.6), or the default 50 when not given."""
    if first is None:
        return DEFAULT_PAGE_SIZE
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise bad_input(field, f"{field} must be between 1 and {MAX_PAGE_SIZE}")
    return first


def encode_cursor(created_at: datetime, id_: uuid.UUID) -> str:
    raw = f"{created_at.isoformat()}|{id_}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, field: str = "after") -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, id_ = base64.urlsafe_b64decode(padded).decode().split("|")
        created_at = datetime.fromisoformat(created)
        if created_at.tzinfo is None:
            # Cursors we give out carry an offset; a naive time cannot be compared to one.
            raise ValueError("cursor time without an offset")
        return created_at.astimezone(UTC), uuid.UUID(id_)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError) as exc:
        raise bad_input(field, f"{field} is not a cursor this API gave out") from exc


def keyset_order(model: Any) -> list[ColumnElement[Any]]:
    """The order of every page: (created_at, id), of the model or an alias of it."""
    return [model.created_at, model.id]


def after_condition(model: Any, created: Any, id_: Any) -> ColumnElement[bool]:
    """The rows after a cursor's (created, id): values or bound parameters."""
    return or_(model.created_at > created, and_(model.created_at == created, model.id > id_))


async def paginate(
    session: AsyncSession, stmt: Select[E], model: type[E], first: int | None, after: str | None
) -> Page[E]:
    """Run ``stmt`` (already filtered) one page at a time; the count of all matches is left as
    a query."""
    size = page_size(first)
    count_query = select(func.count()).select_from(stmt.order_by(None).subquery())
    if after is not None:
        created, id_ = decode_cursor(after)
        stmt = stmt.where(after_condition(model, created, id_))
    rows = list((await session.scalars(stmt.order_by(*keyset_order(model)).limit(size + 1))).all())
    items = [(row, encode_cursor(row.created_at, row.id)) for row in rows[:size]]
    return Page(items=items, has_next_page=len(rows) > size, count_query=count_query)
