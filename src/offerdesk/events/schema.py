"""GraphQL types and operations for offer events and their dates (SPEC §2.1)."""

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from offerdesk.auth.scopes import Scope
from offerdesk.content.models import ContentType
from offerdesk.content.schema import ContentItem
from offerdesk.enrollments import service as enrollments
from offerdesk.enrollments.models import EnrollmentStatus
from offerdesk.events import models, service
from offerdesk.graphql.common import AppInfo, BulkResponse, provided
from offerdesk.graphql.pagination import Connection
from offerdesk.graphql.permissions import requires
from offerdesk.graphql.scalars import to_id
from offerdesk.offers.schema import Offer

if TYPE_CHECKING:
    from offerdesk.enrollments.schema import Enrollment


@strawberry.type
class OfferEventDate:
    id: strawberry.ID
    offer_event_id: strawberry.ID
    start: datetime
    end: datetime
    location: str | None

    @classmethod
    def from_model(cls, date: models.OfferEventDate) -> "OfferEventDate":
        return cls(
            id=to_id(date.id),
            offer_event_id=to_id(date.offer_event_id),
            start=date.start,
            end=date.end,
            location=date.location,
        )


@strawberry.type
class OfferEvent:
    id: strawberry.ID
    ref: str | None
    title: str
    offer_id: strawberry.ID
    content_type: ContentType | None
    is_active: bool
    max_participants: int | None
    min_participants: int | None = strawberry.field(
        description="Below this the event is at risk; reported, not enforced."
    )
    enrolled_count: int
    waitlisted_count: int
    waiting_list: bool = strawberry.field(
        description="When the event is full, new enrollments become WAITLISTED."
    )
    closing_date: datetime | None = strawberry.field(description="The registration deadline.")
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[uuid.UUID]
    offer_pk: strawberry.Private[uuid.UUID]
    spots: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, event: models.OfferEvent) -> "OfferEvent":
        return cls(
            id=to_id(event.id),
            ref=event.ref,
            title=event.title,
            offer_id=to_id(event.offer_id),
            content_type=event.content_type,
            is_active=event.is_active,
            max_participants=event.max_participants,
            min_participants=event.min_participants,
            enrolled_count=event.enrolled_count,
            waitlisted_count=event.waitlisted_count,
            waiting_list=event.waiting_list,
            closing_date=event.closing_date,
            created_at=event.created_at,
            updated_at=event.updated_at,
            pk=event.id,
            offer_pk=event.offer_id,
            spots=event.spots_available,
        )

    @strawberry.field(description="null when unlimited, else maxParticipants - enrolledCount.")
    def spots_available(self) -> int | None:
        return self.spots

    @strawberry.field(description="The sessions, sorted by start.")
    async def dates(self, info: AppInfo) -> list[OfferEventDate]:
        dates = await info.context.loaders.dates_by_event.load(self.pk)
        return [OfferEventDate.from_model(date) for date in dates]

    @strawberry.field
    async def offer(self, info: AppInfo) -> Offer:
        offer = await info.context.loaders.offer.load(self.offer_pk)
        return Offer.from_model(offer)

    @strawberry.field(
        description="The linked content items, the first is contentId; needs content.read or "
        "content.write (else null, FORBIDDEN)."
    )
    async def content_items(self, info: AppInfo) -> list[ContentItem] | None:
        items = await info.context.loaders.content_by_event.load(self.pk)
        return [ContentItem.from_model(item) for item in items]

    @strawberry.field(description="The first linked content item.")
    async def content_id(self, info: AppInfo) -> strawberry.ID | None:
        items = await info.context.loaders.content_by_event.load(self.pk)
        return to_id(items[0].id) if items else None

    @strawberry.field(description="The roster, filterable by status.")
    async def enrollments(
        self,
        info: AppInfo,
        status: EnrollmentStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Annotated["Enrollment", strawberry.lazy("offerdesk.enrollments.schema")]]:
        from offerdesk.enrollments.schema import Enrollment

        async with info.context.read() as session:
            page = await enrollments.page(
                session, enrollments.RosterFilter(self.pk, status), first, after
            )
        return Connection.of(page, Enrollment.from_model)

    @strawberry.field(description="The title of the first linked content item, live.")
    async def content_title(self, info: AppInfo) -> str | None:
        items = await info.context.loaders.content_by_event.load(self.pk)
        return items[0].title if items else None


@strawberry.input
class OfferEventDateInput:
    start: datetime
    end: datetime
    location: str | None = strawberry.UNSET


@strawberry.input(
    description="Every field optional: what is left out stays. Dates have their own mutations."
)
class UpdateOfferEventInput:
    offer_id: uuid.UUID | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    content_id: uuid.UUID | None = strawberry.UNSET
    content_type: ContentType | None = strawberry.UNSET
    max_participants: int | None = strawberry.UNSET
    ref: str | None = strawberry.UNSET
    min_participants: int | None = strawberry.UNSET
    waiting_list: bool | None = strawberry.UNSET
    closing_date: datetime | None = strawberry.UNSET
    is_active: bool | None = strawberry.UNSET
    content_ids: list[uuid.UUID] | None = strawberry.UNSET


@strawberry.input
class CreateOfferEventInput(UpdateOfferEventInput):
    """The update's fields, with ``offerId`` and ``title`` required, and the event's dates."""

    offer_id: uuid.UUID
    title: str
    content_ids: list[uuid.UUID] | None = strawberry.field(
        default=strawberry.UNSET, description="Further content items, after contentId."
    )
    dates: list[OfferEventDateInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Sessions to create with the event."
    )


@strawberry.input
class CreateOfferEventDateInput:
    offer_event_id: uuid.UUID
    start: datetime
    end: datetime
    location: str | None = strawberry.UNSET


@strawberry.input
class UpdateOfferEventDateInput:
    start: datetime | None = strawberry.UNSET
    end: datetime | None = strawberry.UNSET
    location: str | None = strawberry.UNSET


@strawberry.type
class CreateOfferEventPayload:
    offer_event: OfferEvent


@strawberry.type
class UpdateOfferEventPayload:
    offer_event: OfferEvent


@strawberry.type
class ArchiveOfferEventsPayload:
    response: BulkResponse


@strawberry.type
class CreateOfferEventDatePayload:
    offer_event_date: OfferEventDate


@strawberry.type
class UpdateOfferEventDatePayload:
    offer_event_date: OfferEventDate


@strawberry.type
class DeleteOfferEventDatesPayload:
    response: BulkResponse


_EVENT_NON_NULL = ("offer_id", "title", "waiting_list", "is_active")


def _event_changes(data: CreateOfferEventInput | UpdateOfferEventInput) -> service.EventChanges:
    changes = provided(data, "offerEvent", non_null=_EVENT_NON_NULL)
    changes.pop("dates", None)
    event_changes: service.EventChanges = changes
    return event_changes


def _date_changes(data: object, prefix: str) -> service.DateChanges:
    changes: service.DateChanges = provided(data, prefix, non_null=("start", "end"))
    return changes


@strawberry.type
class EventQueries:
    @strawberry.field(extensions=requires(Scope.EVENTS_READ))
    async def offer_event(
        self, info: AppInfo, id: uuid.UUID | None = None, ref: str | None = None
    ) -> OfferEvent | None:
        async with info.context.read() as session:
            event = await service.find(session, id_=id, ref=ref)
        return OfferEvent.from_model(event) if event else None


@strawberry.type
class EventMutations:
    @strawberry.mutation(extensions=requires(Scope.EVENTS_WRITE))
    async def create_offer_event(
        self, info: AppInfo, offer_event: CreateOfferEventInput
    ) -> CreateOfferEventPayload | None:
        dates = [
            _date_changes(date, f"offerEvent.dates.{index}")
            for index, date in enumerate(offer_event.dates or [])
        ]
        async with info.context.write() as session:
            event = await service.create(session, _event_changes(offer_event), dates)
        return CreateOfferEventPayload(offer_event=OfferEvent.from_model(event))

    @strawberry.mutation(extensions=requires(Scope.EVENTS_WRITE))
    async def update_offer_event(
        self, info: AppInfo, id: uuid.UUID, offer_event: UpdateOfferEventInput
    ) -> UpdateOfferEventPayload | None:
        async with info.context.write() as session:
            event = await service.update(session, id, _event_changes(offer_event))
        return UpdateOfferEventPayload(offer_event=OfferEvent.from_model(event))

    @strawberry.mutation(extensions=requires(Scope.EVENTS_WRITE))
    async def archive_offer_events(
        self, info: AppInfo, archive: bool, ids: list[uuid.UUID]
    ) -> ArchiveOfferEventsPayload | None:
        async with info.context.write() as session:
            result = await service.archive(session, ids, archive)
        return ArchiveOfferEventsPayload(response=BulkResponse.of(result))

    @strawberry.mutation(extensions=requires(Scope.EVENTS_WRITE))
    async def create_offer_event_date(
        self, info: AppInfo, offer_event_date: CreateOfferEventDateInput
    ) -> CreateOfferEventDatePayload | None:
        changes = _date_changes(offer_event_date, "offerEventDate")
        async with info.context.write() as session:
            date = await service.create_date(session, changes)
        return CreateOfferEventDatePayload(offer_event_date=OfferEventDate.from_model(date))

    @strawberry.mutation(extensions=requires(Scope.EVENTS_WRITE))
    async def update_offer_event_date(
        self, info: AppInfo, id: uuid.UUID, offer_event_date: UpdateOfferEventDateInput
    ) -> UpdateOfferEventDatePayload | None:
        changes = _date_changes(offer_event_date, "offerEventDate")
        async with info.context.write() as session:
            date = await service.update_date(session, id, changes)
        return UpdateOfferEventDatePayload(offer_event_date=OfferEventDate.from_model(date))

    @strawberry.mutation(extensions=requires(Scope.EVENTS_WRITE))
    async def delete_offer_event_dates(
        self, info: AppInfo, ids: list[uuid.UUID]
    ) -> DeleteOfferEventDatesPayload | None:
        async with info.context.write() as session:
            result = await service.delete_dates(session, ids)
        return DeleteOfferEventDatesPayload(response=BulkResponse.of(result))
