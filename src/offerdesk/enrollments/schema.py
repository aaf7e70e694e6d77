"""GraphQL types and operations for enrollments (SPEC §2.3)."""

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from offerdesk.auth.scopes import Scope
from offerdesk.enrollments import models, service
from offerdesk.enrollments.models import ChangeCause, EnrollmentStatus
from offerdesk.errors import bad_input
from offerdesk.graphql.common import AppInfo, BulkResponse
from offerdesk.graphql.permissions import requires
from offerdesk.graphql.scalars import to_id
from offerdesk.users.schema import User

if TYPE_CHECKING:
    from offerdesk.events.schema import OfferEvent

# The domain's enums are the GraphQL enums: registering them marks the classes in place.
strawberry.enum(EnrollmentStatus)
strawberry.enum(ChangeCause, description="Why an enrollment's status changed.")


@strawberry.type(description="One change of an enrollment's status, oldest first.")
class EnrollmentStatusChange:
    from_status: EnrollmentStatus | None
    to_status: EnrollmentStatus
    cause: ChangeCause
    send_mail: bool | None
    at: datetime


@strawberry.type
class Enrollment:
    id: strawberry.ID
    user_id: strawberry.ID
    offer_event_id: strawberry.ID
    status: EnrollmentStatus
    enrolled_at: datetime = strawberry.field(
        description="When the current registration began (the latest (re-)activation)."
    )
    updated_at: datetime
    pk: strawberry.Private[uuid.UUID]
    user_pk: strawberry.Private[uuid.UUID]
    event_pk: strawberry.Private[uuid.UUID]

    @classmethod
    def from_model(cls, enrollment: models.Enrollment) -> "Enrollment":
        return cls(
            id=to_id(enrollment.id),
            user_id=to_id(enrollment.user_id),
            offer_event_id=to_id(enrollment.offer_event_id),
            status=enrollment.status,
            enrolled_at=enrollment.enrolled_at,
            updated_at=enrollment.updated_at,
            pk=enrollment.id,
            user_pk=enrollment.user_id,
            event_pk=enrollment.offer_event_id,
        )

    @strawberry.field(description="Needs users.read or users.write (else null, FORBIDDEN).")
    async def user(self, info: AppInfo) -> User | None:
        return User.from_model(await info.context.loaders.user.load(self.user_pk))

    @strawberry.field
    async def offer_event(
        self, info: AppInfo
    ) -> Annotated["OfferEvent", strawberry.lazy("offerdesk.events.schema")]:
        from offerdesk.events.schema import OfferEvent

        return OfferEvent.from_model(await info.context.loaders.event.load(self.event_pk))

    @strawberry.field(
        description="1-based place among the event's WAITLISTED enrollments; null otherwise."
    )
    async def waitlist_position(self, info: AppInfo) -> int | None:
        if self.status is not EnrollmentStatus.WAITLISTED:
            return None
        return await info.context.loaders.waitlist_position.load(self.pk)

    @strawberry.field(description="Every status change, oldest first, with its time and cause.")
    async def history(self, info: AppInfo) -> list[EnrollmentStatusChange]:
        changes = await info.context.loaders.history.load(self.pk)
        return [
            EnrollmentStatusChange(
                from_status=change.from_status,
                to_status=change.to_status,
                cause=change.cause,
                send_mail=change.send_mail,
                at=change.at,
            )
            for change in changes
        ]


@strawberry.input
class EnrollUserInput:
    user_id: uuid.UUID
    offer_event_id: uuid.UUID
    status: EnrollmentStatus | None = None


@strawberry.type
class EnrollUserPayload:
    enrollment: Enrollment


@strawberry.type
class UnenrollUserPayload:
    success: bool


@strawberry.type
class DeclineEnrollmentsPayload:
    response: BulkResponse


@strawberry.type
class EnrollmentQueries:
    @strawberry.field(extensions=requires(Scope.EVENTS_READ))
    async def enrollment(
        self, info: AppInfo, user_id: uuid.UUID, offer_event_id: uuid.UUID
    ) -> Enrollment | None:
        async with info.context.read() as session:
            found = await service.find(session, user_id, offer_event_id)
        return Enrollment.from_model(found) if found else None

    @strawberry.field(
        extensions=requires(Scope.EVENTS_READ),
        description="A user's enrollments; an event's roster is OfferEvent.enrollments.",
    )
    async def enrollments(
        self, info: AppInfo, user_id: uuid.UUID | None = None
    ) -> list[Enrollment]:
        if user_id is None:
            raise bad_input("userId", "userId is required; use OfferEvent.enrollments for a roster")
        async with info.context.read() as session:
            found = await service.find_many(session, user_id)
        return [Enrollment.from_model(enrollment) for enrollment in found]


@strawberry.type
class EnrollmentMutations:
    @strawberry.mutation(extensions=requires(Scope.EVENTS_WRITE))
    async def enroll_user_in_offer_event(
        self, info: AppInfo, enrollment: EnrollUserInput
    ) -> EnrollUserPayload | None:
        request = service.EnrollRequest(
            user_id=enrollment.user_id,
            offer_event_id=enrollment.offer_event_id,
            status=enrollment.status,
        )
        async with info.context.write(single_statement=True) as session:
            enrolled = await service.enroll(session, request)
        return EnrollUserPayload(enrollment=Enrollment.from_model(enrolled))

    @strawberry.mutation(extensions=requires(Scope.EVENTS_WRITE))
    async def unenroll_user_from_offer_event(
        self, info: AppInfo, user_id: uuid.UUID, offer_event_id: uuid.UUID
    ) -> UnenrollUserPayload | None:
        async with info.context.write(single_statement=True) as session:
            success = await service.unenroll(session, user_id, offer_event_id)
        return UnenrollUserPayload(success=success)

    @strawberry.mutation(
        extensions=requires(Scope.EVENTS_WRITE),
        description="Enroll many users in one event: all of them or, on any refusal, none.",
    )
    async def create_offer_event_enrollments(
        self,
        info: AppInfo,
        offer_event_ref: str | None = None,
        user_refs: list[str] | None = None,
        send_mail: bool | None = None,
        offer_event_id: uuid.UUID | None = None,
        user_ids: list[uuid.UUID] | None = None,
    ) -> list[Enrollment]:
        request = service.BulkEnrollRequest(
            offer_event_id=offer_event_id,
            offer_event_ref=offer_event_ref,
            user_ids=user_ids,
            user_refs=user_refs,
            send_mail=send_mail,
        )
        async with info.context.write(single_statement=True) as session:
            enrolled = await service.enroll_many(session, request)
        return [Enrollment.from_model(enrollment) for enrollment in enrolled]

    @strawberry.mutation(
        extensions=requires(Scope.EVENTS_WRITE),
        description="The organiser refuses or removes enrollments (status DECLINED).",
    )
    async def decline_enrollments(
        self, info: AppInfo, ids: list[uuid.UUID]
    ) -> DeclineEnrollmentsPayload | None:
        async with info.context.write(single_statement=True) as session:
            result = await service.decline(session, ids)
        return DeclineEnrollmentsPayload(response=BulkResponse.of(result))
