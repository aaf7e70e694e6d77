"""Content items (SPEC §2.4): the domain's whole API. Knows nothing of GraphQL: takes a session,
returns models, names bad input by domain paths (``content_item.url``)."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypedDict
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.bulk import BulkResult, set_active
from offerdesk.content.models import ContentItem, ContentType
from offerdesk.errors import bad_input
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
    storable,
)

MAX_URL_LENGTH = 2048


class ContentChanges(TypedDict, total=False):
    """The fields a create or update sets; ``type`` only at creation."""

    type: ContentType
    title: str
    description: str | None
    url: str | None
    ref: str | None


@dataclass(frozen=True)
class ContentFilter:
    """Which items a page shows: all, or those of one type, or those matching a search."""

    type: ContentType | None = None
    search: str | None = None


async def get(session: AsyncSession, id_: uuid.UUID, path: str = "id") -> ContentItem:
    """The content item; NOT_FOUND on ``path`` when there is none."""
    return await get_row(session, ContentItem, id_, "content item", path)


async def find(
    session: AsyncSession, *, id_: uuid.UUID | None = None, ref: str | None = None
) -> ContentItem | None:
    """The item with this id or ref (exactly one of them), or None."""
    one_key(id=id_, ref=ref)
    return await find_row(session, ContentItem, id_, ref)


async def get_many(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[ContentItem | None]:
    """Items in the order of ``ids``, None where missing (the shape a DataLoader needs)."""
    return await rows_by_ids(session, ContentItem, ids)


async def page(
    session: AsyncSession, where: ContentFilter, first: int | None, after: str | None
) -> Page[ContentItem]:
    """One page of the items ``where`` admits, in creation order (SPEC §2.6)."""
    conditions = listing_conditions(ContentItem, where.type, search_term(where.search))
    stmt: Select[ContentItem] = select(ContentItem).where(*conditions)
    return await paginate(session, stmt, ContentItem, first, after)


def listing_conditions(item: Any, type_: Any | None, term: Any | None) -> list[ColumnElement[bool]]:
    """What a page of ``item`` (the model or an alias) admits: items of ``type_`` unless it is
    None, matching ``term`` (``search_term``) unless it is None; values or bound parameters.
    The one definition, for the service's pages and compiled reads (content/graphql_map.py)."""
    conditions: list[ColumnElement[bool]] = []
    if type_ is not None:
        conditions.append(item.type == type_)
    if term is not None:
        conditions.append(search_filter(term, item.title, item.ref))
    return conditions


def _clean_url(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    url = storable(value, field).strip()
    refused = bad_input(
        field, f"{field} must be an http(s) URL of at most {MAX_URL_LENGTH} characters"
    )
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. "Invalid IPv6 URL" for an unmatched bracket
        raise refused from exc
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > MAX_URL_LENGTH:
        raise refused
    return url


async def create(session: AsyncSession, changes: ContentChanges) -> ContentItem:
    """A new, active content item; ``changes`` must hold ``type`` and ``title``.
    BAD_USER_INPUT and CONFLICT name ``content_item.<field>``."""
    item = ContentItem(type=changes["type"], is_active=True)
    await _apply(session, item, changes)
    session.add(item)
    await session.flush()
    outbox.record(session, EventType.CONTENT_ITEM_CREATED, [item.id])
    return item


async def update(session: AsyncSession, id_: uuid.UUID, changes: ContentChanges) -> ContentItem:
    """The item with ``changes`` applied (its type stays); NOT_FOUND on ``id``."""
    item = await get(session, id_)
    await _apply(session, item, changes)
    await session.flush()
    outbox.record(session, EventType.CONTENT_ITEM_UPDATED, [item.id])
    return item


async def _apply(session: AsyncSession, item: ContentItem, changes: ContentChanges) -> None:
    if "title" in changes:
        item.title = clean_title(changes["title"], "content_item.title")
    if "description" in changes:
        item.description = clean_text(changes["description"], "content_item.description")
    if "url" in changes:
        item.url = _clean_url(changes["url"], "content_item.url")
    if "ref" in changes:
        ref = clean_ref(changes["ref"], "content_item.ref")
        await ensure_unique_ref(session, ContentItem, ref, "content_item.ref", exclude_id=item.id)
        item.ref = ref


async def archive(session: AsyncSession, ids: Sequence[uuid.UUID], archive: bool) -> BulkResult:
    """Archive (or restore) content items; unknown ids are reported as failed. Each item
    changed writes CONTENT_ITEM_ARCHIVED (restored: CONTENT_ITEM_UPDATED)."""
    result = await set_active(session, ContentItem, ids, archive)
    kind = EventType.CONTENT_ITEM_ARCHIVED if archive else EventType.CONTENT_ITEM_UPDATED
    outbox.record(session, kind, result.changed)
    return result
