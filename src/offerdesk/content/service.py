"""The rules for content items."""

import uuid
from collections.abc import Sequence
from typing import TypedDict
from urllib.parse import urlsplit

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.bulk import BulkResult, set_active
from offerdesk.content.models import ContentItem, ContentType
from offerdesk.errors import bad_input, not_found
from offerdesk.validation import (
    clean_ref,
    clean_text,
    clean_title,
    ensure_unique_ref,
    search_filter,
    storable,
)

MAX_URL_LENGTH = 2048


class ContentChanges(TypedDict, total=False):
    type: ContentType
    title: str
    description: str | None
    url: str | None
    ref: str | None


def content_items_query(
    type_: ContentType | None = None, search: str | None = None
) -> Select[ContentItem]:
    stmt = select(ContentItem)
    if type_ is not None:
        stmt = stmt.where(ContentItem.type == type_)
    if (match := search_filter(search, ContentItem.title, ContentItem.ref)) is not None:
        stmt = stmt.where(match)
    return stmt


def _clean_url(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    url = storable(value, field).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > MAX_URL_LENGTH:
        raise bad_input(
            field, f"{field} must be an http(s) URL of at most {MAX_URL_LENGTH} characters"
        )
    return url


async def create_content_item(
    session: AsyncSession, changes: ContentChanges, prefix: str
) -> ContentItem:
    item = ContentItem(type=changes["type"], is_active=True)
    await _apply(session, item, changes, prefix)
    session.add(item)
    await session.flush()
    return item


async def update_content_item(
    session: AsyncSession, id_: uuid.UUID, changes: ContentChanges, prefix: str
) -> ContentItem:
    item = await session.get(ContentItem, id_)
    if item is None:
        raise not_found("content item", "id")
    await _apply(session, item, changes, prefix)
    await session.flush()
    return item


async def _apply(
    session: AsyncSession, item: ContentItem, changes: ContentChanges, prefix: str
) -> None:
    if "title" in changes:
        item.title = clean_title(changes["title"], f"{prefix}.title")
    if "description" in changes:
        item.description = clean_text(changes["description"], f"{prefix}.description")
    if "url" in changes:
        item.url = _clean_url(changes["url"], f"{prefix}.url")
    if "ref" in changes:
        ref = clean_ref(changes["ref"], f"{prefix}.ref")
        await ensure_unique_ref(session, ContentItem, ref, f"{prefix}.ref", exclude_id=item.id)
        item.ref = ref


async def archive_content_items(
    session: AsyncSession, ids: Sequence[uuid.UUID], archive: bool
) -> BulkResult:
    return await set_active(session, ContentItem, ids, archive)
