"""Bulk mutations: at most 1000 ids a call, and never failing as a whole for one bad id."""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.db import utcnow
from offerdesk.errors import bad_input

MAX_BULK_IDS = 1000


def bulk_ids(ids: Sequence[uuid.UUID], field: str = "ids") -> list[uuid.UUID]:
    """The ids of a bulk call, each once, in the order given."""
    if len(ids) > MAX_BULK_IDS:
        raise bad_input(field, f"at most {MAX_BULK_IDS} ids per call, got {len(ids)}")
    return list(dict.fromkeys(ids))


@dataclass
class BulkResult:
    """What a bulk mutation did: it never fails as a whole for one bad id (SPEC §2.5)."""

    succeeded: list[uuid.UUID] = field(default_factory=list)
    failed: list[uuid.UUID] = field(default_factory=list)


def split_found(ids: Iterable[uuid.UUID], found: set[uuid.UUID]) -> BulkResult:
    result = BulkResult()
    for id_ in ids:
        (result.succeeded if id_ in found else result.failed).append(id_)
    return result


async def existing_ids(
    session: AsyncSession, model: Any, ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    return set((await session.scalars(select(model.id).where(model.id.in_(ids)))).all())


async def set_active(
    session: AsyncSession, model: Any, ids: Sequence[uuid.UUID], archive: bool
) -> BulkResult:
    """Archive (``is_active`` false) or restore rows by id; doing it twice is a success."""
    wanted = bulk_ids(ids)
    found = await existing_ids(session, model, wanted)
    if found:
        await session.execute(
            update(model)
            .where(model.id.in_(found), model.is_active.is_(archive))
            .values(is_active=not archive, updated_at=utcnow())
        )
    return split_found(wanted, found)
