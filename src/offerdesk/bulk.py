"""Bulk mutations (SPEC §2.5, §3.11): at most 1000 ids a call, never failing as a whole for one
bad id. The one shape every bulk call has: ids deduplicated, the existing ones changed, the
others reported as failed."""

import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.db import utcnow
from offerdesk.errors import bad_input

MAX_BULK_IDS = 1000


def bulk_ids(ids: Sequence[Any], path: str = "ids") -> list[Any]:
    """The ids (or refs) of a bulk call, each once, in the order given.

    Raises BAD_USER_INPUT on ``path`` for more than ``MAX_BULK_IDS`` (SPEC §3.11).
    """
    if len(ids) > MAX_BULK_IDS:
        raise bad_input(path, f"at most {MAX_BULK_IDS} ids per call, got {len(ids)}")
    return list(dict.fromkeys(ids))


@dataclass
class BulkResult:
    """What a bulk mutation did: it never fails as a whole for one bad id (SPEC §2.5)."""

    succeeded: list[uuid.UUID] = field(default_factory=list)
    failed: list[uuid.UUID] = field(default_factory=list)
    # The succeeded ids whose state the call actually changed (archiving an archived row
    # changes nothing): the objects the outbox writes an event for (issue 12).
    changed: list[uuid.UUID] = field(default_factory=list)


async def bulk_apply(
    session: AsyncSession,
    model: Any,
    ids: Sequence[uuid.UUID],
    change: Callable[[list[uuid.UUID]], Awaitable[Sequence[uuid.UUID] | None]],
) -> BulkResult:
    """Run ``change`` on the ids of ``model`` rows that exist; report the rest as failed.

    ``change`` gets the existing ids in the order given (it is not called when none exist)
    and returns the ids it changed, or None when it changed every one it got.
    """
    wanted = bulk_ids(ids)
    found = set((await session.scalars(select(model.id).where(model.id.in_(wanted)))).all())
    result = split_found(wanted, found)
    if found:
        changed = await change(result.succeeded)
        result.changed = result.succeeded if changed is None else _in_order(wanted, changed)
    return result


def _in_order(wanted: list[uuid.UUID], ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    chosen = set(ids)
    return [id_ for id_ in wanted if id_ in chosen]


def split_found(ids: Iterable[uuid.UUID], found: set[uuid.UUID]) -> BulkResult:
    result = BulkResult()
    for id_ in ids:
        (result.succeeded if id_ in found else result.failed).append(id_)
    return result


async def set_active(
    session: AsyncSession, model: Any, ids: Sequence[uuid.UUID], archive: bool
) -> BulkResult:
    """Archive (``is_active`` false) or restore rows by id; doing it twice is a success."""

    async def change(found: list[uuid.UUID]) -> Sequence[uuid.UUID]:
        changed = await session.scalars(
            update(model)
            .where(model.id.in_(found), model.is_active.is_(archive))
            .values(is_active=not archive, updated_at=utcnow())
            .returning(model.id)
        )
        return list(changed.all())

    return await bulk_apply(session, model, ids, change)
