"""The rules for offers. Knows nothing of GraphQL: takes a session, returns models."""

import uuid
from collections.abc import Sequence
from typing import TypedDict

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.bulk import BulkResult, bulk_ids, existing_ids, split_found
from offerdesk.db import utcnow
from offerdesk.errors import not_found
from offerdesk.offers.models import Offer
from offerdesk.validation import (
    clean_ref,
    clean_text,
    clean_title,
    ensure_unique_ref,
    search_filter,
)


class OfferChanges(TypedDict, total=False):
    title: str
    description: str | None
    is_active: bool
    ref: str | None


async def get_offer(session: AsyncSession, id_: uuid.UUID, field: str = "id") -> Offer:
    offer = await session.get(Offer, id_)
    if offer is None:
        raise not_found("offer", field)
    return offer


def offers_query(search: str | None = None, include_archived: bool = False) -> Select[Offer]:
    """Listed offers: by default those that are active and not archived (SPEC §3.6)."""
    stmt = select(Offer)
    if not include_archived:
        stmt = stmt.where(Offer.is_active.is_(True), Offer.archived_at.is_(None))
    if (match := search_filter(search, Offer.title, Offer.description)) is not None:
        stmt = stmt.where(match)
    return stmt


async def list_offers(
    session: AsyncSession, search: str | None = None, include_archived: bool = False
) -> list[Offer]:
    stmt = offers_query(search, include_archived).order_by(Offer.title, Offer.id)
    return list((await session.scalars(stmt)).all())


async def create_offer(session: AsyncSession, changes: OfferChanges, prefix: str) -> Offer:
    offer = Offer(is_active=True)
    await _apply(session, offer, changes, prefix)
    session.add(offer)
    await session.flush()
    return offer


async def update_offer(
    session: AsyncSession, id_: uuid.UUID, changes: OfferChanges, prefix: str
) -> Offer:
    offer = await get_offer(session, id_)
    await _apply(session, offer, changes, prefix)
    await session.flush()
    return offer


async def _apply(session: AsyncSession, offer: Offer, changes: OfferChanges, prefix: str) -> None:
    if "title" in changes:
        offer.title = clean_title(changes["title"], f"{prefix}.title")
    if "description" in changes:
        offer.description = clean_text(changes["description"], f"{prefix}.description")
    if "is_active" in changes:
        offer.is_active = changes["is_active"]
    if "ref" in changes:
        ref = clean_ref(changes["ref"], f"{prefix}.ref")
        await ensure_unique_ref(session, Offer, ref, f"{prefix}.ref", exclude_id=offer.id)
        offer.ref = ref


async def archive_offers(
    session: AsyncSession, ids: Sequence[uuid.UUID], archive: bool
) -> BulkResult:
    """Archive (or restore) offers; archiving an archived offer keeps its first ``archivedAt``."""
    wanted = bulk_ids(ids)
    found = await existing_ids(session, Offer, wanted)
    if found:
        stmt = update(Offer).where(Offer.id.in_(found))
        if archive:
            stmt = stmt.where(Offer.archived_at.is_(None)).values(
                archived_at=utcnow(), updated_at=utcnow()
            )
        else:
            stmt = stmt.where(Offer.archived_at.is_not(None)).values(
                archived_at=None, updated_at=utcnow()
            )
        await session.execute(stmt)
    return split_found(wanted, found)
