"""Offers (SPEC §2.2, §3.6): the domain's whole API. Knows nothing of GraphQL: takes a session,
returns models, names bad input by domain paths (``offer.title``)."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk import locking
from offerdesk.bulk import BulkResult, bulk_apply
from offerdesk.db import utcnow
from offerdesk.errors import not_found
from offerdesk.offers.models import Offer
from offerdesk.outbox import service as outbox
from offerdesk.outbox.models import EventType
from offerdesk.pagination import Page, paginate
from offerdesk.repository import ensure_unique_ref, find_row, get_row, rows_by_ids
from offerdesk.validation import (
    clean_ref,
    clean_text,
    clean_title,
    one_key,
    search_filter,
    search_term,
)


class OfferChanges(TypedDict, total=False):
    """The fields a create or update sets; a key left out stays as it is."""

    title: str
    description: str | None
    is_active: bool
    ref: str | None


@dataclass(frozen=True)
class OfferFilter:
    """Which offers a listing shows: by default those active and not archived (SPEC §3.6)."""

    search: str | None = None
    include_archived: bool = False


async def get(session: AsyncSession, id_: uuid.UUID, path: str = "id") -> Offer:
    """The offer; NOT_FOUND on ``path`` when there is none."""
    return await get_row(session, Offer, id_, "offer", path)


async def lock(session: AsyncSession, id_: uuid.UUID, path: str = "id") -> Offer:
    """The offer, row-locked until the transaction ends (locking.py, kind 4: before a change
    that counts its events); NOT_FOUND on ``path``."""
    offer = await locking.lock_row(session, Offer, id_)
    if offer is None:
        raise not_found("offer", path)
    return offer


async def find(
    session: AsyncSession, *, id_: uuid.UUID | None = None, ref: str | None = None
) -> Offer | None:
    """The offer with this id or ref (exactly one of them), or None."""
    one_key(id=id_, ref=ref)
    return await find_row(session, Offer, id_, ref)


async def get_many(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Offer | None]:
    """Offers in the order of ``ids``, None where missing (the shape a DataLoader needs)."""
    return await rows_by_ids(session, Offer, ids)


def listing_conditions(
    offer: Any, include_archived: bool, term: Any | None
) -> list[ColumnElement[bool]]:
    """What a listing of ``offer`` (the model or an alias of it) admits: active, non-archived
    offers unless ``include_archived`` (SPEC §3.6), matching ``term`` (``search_term``: a value
    or a bound parameter) unless it is None. The one definition, for the service's reads and
    the compiled ones (offers/graphql_map.py)."""
    conditions: list[ColumnElement[bool]] = []
    if not include_archived:
        conditions += [offer.is_active.is_(True), offer.archived_at.is_(None)]
    if term is not None:
        conditions.append(search_filter(term, offer.title, offer.description))
    return conditions


def listing_order(offer: Any) -> list[ColumnElement[Any]]:
    """The order of ``offers`` (by title; id breaks ties), for the model or an alias."""
    return [offer.title, offer.id]


def _query(where: OfferFilter) -> Select[Offer]:
    term = search_term(where.search)
    return select(Offer).where(*listing_conditions(Offer, where.include_archived, term))


async def find_many(session: AsyncSession, where: OfferFilter) -> list[Offer]:
    """Every offer ``where`` admits, by title."""
    stmt = _query(where).order_by(*listing_order(Offer))
    return list((await session.scalars(stmt)).all())


async def page(
    session: AsyncSession, where: OfferFilter, first: int | None, after: str | None
) -> Page[Offer]:
    """One page of the offers ``where`` admits, in creation order (SPEC §2.6)."""
    return await paginate(session, _query(where), Offer, first, after)


async def create(session: AsyncSession, changes: OfferChanges) -> Offer:
    """A new offer, active unless ``changes`` says otherwise. BAD_USER_INPUT and CONFLICT
    name ``offer.<field>``."""
    offer = Offer(is_active=True)
    await _apply(session, offer, changes)
    session.add(offer)
    await session.flush()
    outbox.record(session, EventType.OFFER_CREATED, [offer.id])
    return offer


async def update(session: AsyncSession, id_: uuid.UUID, changes: OfferChanges) -> Offer:
    """The offer with ``changes`` applied; NOT_FOUND on ``id``."""
    offer = await get(session, id_)
    await _apply(session, offer, changes)
    await session.flush()
    outbox.record(session, EventType.OFFER_UPDATED, [offer.id])
    return offer


async def _apply(session: AsyncSession, offer: Offer, changes: OfferChanges) -> None:
    if "title" in changes:
        offer.title = clean_title(changes["title"], "offer.title")
    if "description" in changes:
        offer.description = clean_text(changes["description"], "offer.description")
    if "is_active" in changes:
        offer.is_active = changes["is_active"]
    if "ref" in changes:
        ref = clean_ref(changes["ref"], "offer.ref")
        await ensure_unique_ref(session, Offer, ref, "offer.ref", exclude_id=offer.id)
        offer.ref = ref


async def archive(session: AsyncSession, ids: Sequence[uuid.UUID], archive: bool) -> BulkResult:
    """Archive (or restore) offers (SPEC §3.6); archiving an archived offer keeps its first
    ``archived_at``; unknown ids are reported as failed. Each offer changed writes
    OFFER_ARCHIVED (restored: OFFER_UPDATED)."""

    async def change(found: list[uuid.UUID]) -> Sequence[uuid.UUID]:
        stmt = sa.update(Offer).where(Offer.id.in_(found))
        if archive:
            stmt = stmt.where(Offer.archived_at.is_(None)).values(
                archived_at=utcnow(), updated_at=utcnow()
            )
        else:
            stmt = stmt.where(Offer.archived_at.is_not(None)).values(
                archived_at=None, updated_at=utcnow()
            )
        return list((await session.scalars(stmt.returning(Offer.id))).all())

    result = await bulk_apply(session, Offer, ids, change)
    outbox.record(
        session, EventType.OFFER_ARCHIVED if archive else EventType.OFFER_UPDATED, result.changed
    )
    return result
