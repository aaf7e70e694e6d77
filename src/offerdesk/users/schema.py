"""GraphQL types and operations for users (SPEC §2.4)."""

import uuid
from datetime import datetime

import strawberry

from offerdesk.auth.scopes import Scope
from offerdesk.graphql.common import AppInfo, BulkResponse, provided
from offerdesk.graphql.pagination import Connection
from offerdesk.graphql.permissions import requires
from offerdesk.graphql.scalars import to_id
from offerdesk.users import models, service


@strawberry.type
class User:
    id: strawberry.ID
    ref: str | None
    name: str
    email: str
    is_active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, user: models.User) -> "User":
        return cls(
            id=to_id(user.id),
            ref=user.ref,
            name=user.name,
            email=user.email,
            is_active=user.is_active,
            created_at=user.created_at,
            updated_at=user.updated_at,
        )


@strawberry.input
class UpdateUserInput:
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    ref: str | None = strawberry.UNSET


@strawberry.input
class CreateUserInput(UpdateUserInput):
    name: str
    email: str


@strawberry.type
class CreateUserPayload:
    user: User


@strawberry.type
class UpdateUserPayload:
    user: User


@strawberry.type
class UpdateOrCreateUserPayload:
    user: User
    created: bool


@strawberry.type
class ArchiveUsersPayload:
    response: BulkResponse


def _changes(data: CreateUserInput | UpdateUserInput) -> service.UserChanges:
    changes: service.UserChanges = provided(data, "user", non_null=("name", "email"))
    return changes


@strawberry.type
class UserQueries:
    @strawberry.field(extensions=requires(Scope.USERS_READ))
    async def user(
        self,
        info: AppInfo,
        id: uuid.UUID | None = None,
        ref: str | None = None,
        email: str | None = None,
    ) -> User | None:
        async with info.context.read() as session:
            user = await service.find(session, id_=id, ref=ref, email=email)
        return User.from_model(user) if user else None

    @strawberry.field(extensions=requires(Scope.USERS_READ))
    async def paginated_users(
        self,
        info: AppInfo,
        search: str | None = None,
        is_active: bool | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[User]:
        async with info.context.read() as session:
            page = await service.page(session, service.UserFilter(search, is_active), first, after)
        return Connection.of(page, User.from_model)


@strawberry.type
class UserMutations:
    @strawberry.mutation(extensions=requires(Scope.USERS_WRITE))
    async def create_user(self, info: AppInfo, user: CreateUserInput) -> CreateUserPayload | None:
        async with info.context.write() as session:
            created = await service.create(session, _changes(user))
        return CreateUserPayload(user=User.from_model(created))

    @strawberry.mutation(extensions=requires(Scope.USERS_WRITE))
    async def update_user(
        self,
        info: AppInfo,
        *,
        id: uuid.UUID | None = None,
        ref: str | None = None,
        user: UpdateUserInput,
    ) -> UpdateUserPayload | None:
        async with info.context.write() as session:
            updated = await service.update(session, _changes(user), id_=id, ref=ref)
        return UpdateUserPayload(user=User.from_model(updated))

    @strawberry.mutation(
        extensions=requires(Scope.USERS_WRITE),
        description="Find the user by ref, else by e-mail; update it, or create it.",
    )
    async def update_or_create_user(
        self,
        info: AppInfo,
        *,
        ref: str | None = None,
        email: str | None = None,
        user: UpdateUserInput,
    ) -> UpdateOrCreateUserPayload | None:
        async with info.context.write() as session:
            found, created = await service.update_or_create(
                session, _changes(user), ref=ref, email=email
            )
        return UpdateOrCreateUserPayload(user=User.from_model(found), created=created)

    @strawberry.mutation(extensions=requires(Scope.USERS_WRITE))
    async def archive_users(
        self, info: AppInfo, archive: bool, ids: list[uuid.UUID]
    ) -> ArchiveUsersPayload | None:
        async with info.context.write() as session:
            result = await service.archive(session, ids, archive)
        return ArchiveUsersPayload(response=BulkResponse.of(result))
