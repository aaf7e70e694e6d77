"""GraphQL types and operations for enrollments (SPEC §2.3)."""

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from sqlalchemy import select

from offerdesk.auth.scopes import Scope
from offerdesk.db import find_by_key
from offerdesk.enrollments import models, service
from offerdesk.enrollments.models import ChangeCause, EnrollmentStatus
from offerdesk.errors import DomainError, ErrorCode, bad_input
from offerdesk.events.models import OfferEvent as OfferEventModel
from offerdesk.graphql.common import AppInfo, BulkResponse
from offerdesk.graphql.pagination import Connection
from offerdesk.graphql.permissions import requires
from offerdesk.graphql.scalars import to_id
from offerdesk.pagination import paginate
from offerdesk.users.models import User as UserModel
from offerdesk.users.schema import User
from offerdesk.validation import one_key

if TYPE_CHECKING:
    from offerdesk.events.schema import OfferEvent

# The domain's enums are the GraphQL enums: registering them marks the classes in place.
strawberry.enum(EnrollmentStatus)
strawberry.enum(ChangeCause, description="Why an enrollment's status changed.")

MAX_BULK_USERS = 1000


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

    @strawberry.field
    async def user(self, info: AppInfo) -> User:
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


async def roster(
    info: AppInfo,
    offer_event_id: uuid.UUID,
    status: EnrollmentStatus | None,
    first: int | None,
    after: str | None,
) -> Connection[Enrollment]:
    """The ``OfferEvent.enrollments`` connection."""
    async with info.context.read() as session:
        page = await paginate(
            session,
            service.roster_query(offer_event_id, status),
            models.Enrollment,
            first,
            after,
        )
    return Connection.of(page, Enrollment.from_model)


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
            found = await service.find_enrollment(session, user_id, offer_event_id)
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
            found = await service.enrollments_of_user(session, user_id)
        return [Enrollment.from_model(enrollment) for enrollment in found]


async def _resolve_refs(
    info: AppInfo,
    offer_event_id: uuid.UUID | None,
    offer_event_ref: str | None,
    user_ids: list[uuid.UUID] | None,
    user_refs: list[str] | None,
) -> tuple[uuid.UUID, list[uuid.UUID], str, str]:
    """Turn the bulk call's refs into ids; any unknown ref fails the call, naming them all.

    Also gives the argument names that errors about the users and the event point at."""
    one_key({"offerEventId": offer_event_id, "offerEventRef": offer_event_ref})
    one_key({"userIds": user_ids, "userRefs": user_refs})
    wanted = user_ids if user_ids is not None else user_refs or []
    field = "userIds" if user_ids is not None else "userRefs"
    if len(wanted) > MAX_BULK_USERS:
        raise bad_input(field, f"at most {MAX_BULK_USERS} users per call, got {len(wanted)}")
    key = "offerEventId" if offer_event_id is not None else "offerEventRef"
    async with info.context.read() as session:
        event = await find_by_key(session, OfferEventModel, offer_event_id, offer_event_ref)
        if event is None:
            raise DomainError(ErrorCode.NOT_FOUND, "offer event not found", field=key)
        if user_ids is not None:
            return event.id, user_ids, field, key
        refs = user_refs or []
        rows = await session.execute(
            select(UserModel.ref, UserModel.id).where(UserModel.ref.in_(refs))
        )
        found = dict(rows.all())
    unknown = [ref for ref in refs if ref not in found]
    if unknown:
        raise DomainError(
            ErrorCode.NOT_FOUND, f"unknown user refs: {', '.join(unknown)}", field="userRefs"
        )
    return event.id, [found[ref] for ref in refs], field, key


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
        async with info.context.write() as session:
            enrolled = await service.enroll(session, request)
        return EnrollUserPayload(enrollment=Enrollment.from_model(enrolled))

    @strawberry.mutation(extensions=requires(Scope.EVENTS_WRITE))
    async def unenroll_user_from_offer_event(
        self, info: AppInfo, user_id: uuid.UUID, offer_event_id: uuid.UUID
    ) -> UnenrollUserPayload | None:
        async with info.context.write() as session:
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
        event_id, users, user_field, event_field = await _resolve_refs(
            info, offer_event_id, offer_event_ref, user_ids, user_refs
        )
        async with info.context.write() as session:
            enrolled = await service.enroll_many(
                session, event_id, users, send_mail, user_field, event_field
            )
        return [Enrollment.from_model(enrollment) for enrollment in enrolled]

    @strawberry.mutation(
        extensions=requires(Scope.EVENTS_WRITE),
        description="The organiser refuses or removes enrollments (status DECLINED).",
    )
    async def decline_enrollments(
        self, info: AppInfo, ids: list[uuid.UUID]
    ) -> DeclineEnrollmentsPayload | None:
        async with info.context.write() as session:
            result = await service.decline(session, ids)
        return DeclineEnrollmentsPayload(response=BulkResponse.of(result))
