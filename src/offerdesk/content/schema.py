"""GraphQL types and operations for content items (SPEC §2.4)."""

import uuid
from datetime import datetime

import strawberry

from offerdesk.auth.scopes import Scope
from offerdesk.content import models, service
from offerdesk.content.models import ContentType
from offerdesk.graphql.common import AppInfo, BulkResponse, provided
from offerdesk.graphql.pagination import Connection
from offerdesk.graphql.permissions import requires
from offerdesk.graphql.scalars import to_id

# The domain's enum is the GraphQL enum: registering it marks the class in place.
strawberry.enum(ContentType)


@strawberry.type
class ContentItem:
    id: strawberry.ID
    ref: str | None
    type: ContentType
    title: str
    description: str | None
    url: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, item: models.ContentItem) -> "ContentItem":
        return cls(
            id=to_id(item.id),
            ref=item.ref,
            type=item.type,
            title=item.title,
            description=item.description,
            url=item.url,
            is_active=item.is_active,
            created_at=item.created_at,
            updated_at=item.updated_at,
        )


@strawberry.input
class CreateContentItemInput:
    type: ContentType
    title: str
    ref: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    url: str | None = strawberry.UNSET


@strawberry.input(description="The type of a content item is fixed once it is created.")
class UpdateContentItemInput:
    title: str | None = strawberry.UNSET
    ref: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    url: str | None = strawberry.UNSET


@strawberry.type
class CreateContentItemPayload:
    content_item: ContentItem


@strawberry.type
class UpdateContentItemPayload:
    content_item: ContentItem


@strawberry.type
class ArchiveContentItemsPayload:
    response: BulkResponse


def _changes(data: CreateContentItemInput | UpdateContentItemInput) -> service.ContentChanges:
    changes: service.ContentChanges = provided(data, "contentItem", non_null=("title",))
    return changes


@strawberry.type
class ContentQueries:
    @strawberry.field(extensions=requires(Scope.CONTENT_READ))
    async def content_item(
        self, info: AppInfo, id: uuid.UUID | None = None, ref: str | None = None
    ) -> ContentItem | None:
        async with info.context.read() as session:
            item = await service.find(session, id_=id, ref=ref)
        return ContentItem.from_model(item) if item else None

    @strawberry.field(extensions=requires(Scope.CONTENT_READ))
    async def paginated_content_items(
        self,
        info: AppInfo,
        type: ContentType | None = None,
        search: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ContentItem]:
        async with info.context.read() as session:
            page = await service.page(session, service.ContentFilter(type, search), first, after)
        return Connection.of(page, ContentItem.from_model)


@strawberry.type
class ContentMutations:
    @strawberry.mutation(extensions=requires(Scope.CONTENT_WRITE))
    async def create_content_item(
        self, info: AppInfo, content_item: CreateContentItemInput
    ) -> CreateContentItemPayload | None:
        async with info.context.write() as session:
            item = await service.create(session, _changes(content_item))
        return CreateContentItemPayload(content_item=ContentItem.from_model(item))

    @strawberry.mutation(extensions=requires(Scope.CONTENT_WRITE))
    async def update_content_item(
        self, info: AppInfo, id: uuid.UUID, content_item: UpdateContentItemInput
    ) -> UpdateContentItemPayload | None:
        async with info.context.write() as session:
            item = await service.update(session, id, _changes(content_item))
        return UpdateContentItemPayload(content_item=ContentItem.from_model(item))

    @strawberry.mutation(extensions=requires(Scope.CONTENT_WRITE))
    async def archive_content_items(
        self, info: AppInfo, archive: bool, ids: list[uuid.UUID]
    ) -> ArchiveContentItemsPayload | None:
        async with info.context.write() as session:
            result = await service.archive(session, ids, archive)
        return ArchiveContentItemsPayload(response=BulkResponse.of(result))
