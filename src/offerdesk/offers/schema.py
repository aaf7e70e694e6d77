"""GraphQL types and operations for offers (SPEC §2.2): parse, call the service, map."""

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from offerdesk.auth.scopes import Scope
from offerdesk.graphql.common import AppInfo, BulkResponse, provided
from offerdesk.graphql.pagination import Connection
from offerdesk.graphql.permissions import requires
from offerdesk.graphql.scalars import to_id
from offerdesk.offers import models, service

if TYPE_CHECKING:
    from offerdesk.events.schema import OfferEvent


@strawberry.type
class Offer:
    id: strawberry.ID
    ref: str | None
    title: str
    description: str | None
    is_active: bool
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[uuid.UUID]

    @classmethod
    def from_model(cls, offer: models.Offer) -> "Offer":
        return cls(
            id=to_id(offer.id),
            ref=offer.ref,
            title=offer.title,
            description=offer.description,
            is_active=offer.is_active,
            archived_at=offer.archived_at,
            created_at=offer.created_at,
            updated_at=offer.updated_at,
            pk=offer.id,
        )

    @strawberry.field(
        description="Every event of the offer, archived ones included, sorted by first date."
    )
    async def offer_events(
        self, info: AppInfo, is_active: bool | None = None
    ) -> list[Annotated["OfferEvent", strawberry.lazy("offerdesk.events.schema")]]:
        from offerdesk.events.schema import OfferEvent

        events = await info.context.loaders.events_by_offer.load((self.pk, is_active))
        return [OfferEvent.from_model(event) for event in events]


@strawberry.input
class UpdateOfferInput:
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    is_active: bool | None = strawberry.UNSET
    ref: str | None = strawberry.UNSET


@strawberry.input
class CreateOfferInput(UpdateOfferInput):
    title: str


@strawberry.type
class CreateOfferPayload:
    offer: Offer


@strawberry.type
class UpdateOfferPayload:
    offer: Offer


@strawberry.type
class ArchiveOffersPayload:
    response: BulkResponse


def _changes(data: CreateOfferInput | UpdateOfferInput) -> service.OfferChanges:
    changes: service.OfferChanges = provided(data, "offer", non_null=("title", "is_active"))
    return changes


@strawberry.type
class OfferQueries:
    @strawberry.field(extensions=requires(Scope.EVENTS_READ))
    async def offer(
        self, info: AppInfo, id: uuid.UUID | None = None, ref: str | None = None
    ) -> Offer | None:
        async with info.context.read() as session:
            offer = await service.find(session, id_=id, ref=ref)
        return Offer.from_model(offer) if offer else None

    @strawberry.field(
        extensions=requires(Scope.EVENTS_READ),
        description="Offers that are active and not archived (all with includeArchived).",
    )
    async def offers(
        self, info: AppInfo, search: str | None = None, include_archived: bool = False
    ) -> list[Offer]:
        async with info.context.read() as session:
            offers = await service.find_many(session, service.OfferFilter(search, include_archived))
        return [Offer.from_model(offer) for offer in offers]

    @strawberry.field(extensions=requires(Scope.EVENTS_READ))
    async def paginated_offers(
        self,
        info: AppInfo,
        search: str | None = None,
        include_archived: bool = False,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Offer]:
        async with info.context.read() as session:
            page = await service.page(
                session, service.OfferFilter(search, include_archived), first, after
            )
        return Connection.of(page, Offer.from_model)


@strawberry.type
class OfferMutations:
    @strawberry.mutation(extensions=requires(Scope.EVENTS_WRITE))
    async def create_offer(
        self, info: AppInfo, offer: CreateOfferInput
    ) -> CreateOfferPayload | None:
        async with info.context.write() as session:
            created = await service.create(session, _changes(offer))
        return CreateOfferPayload(offer=Offer.from_model(created))

    @strawberry.mutation(extensions=requires(Scope.EVENTS_WRITE))
    async def update_offer(
        self, info: AppInfo, id: uuid.UUID, offer: UpdateOfferInput
    ) -> UpdateOfferPayload | None:
        async with info.context.write() as session:
            updated = await service.update(session, id, _changes(offer))
        return UpdateOfferPayload(offer=Offer.from_model(updated))

    @strawberry.mutation(extensions=requires(Scope.EVENTS_WRITE))
    async def archive_offers(
        self, info: AppInfo, archive: bool, ids: list[uuid.UUID]
    ) -> ArchiveOffersPayload | None:
        async with info.context.write() as session:
            result = await service.archive(session, ids, archive)
        return ArchiveOffersPayload(response=BulkResponse.of(result))
