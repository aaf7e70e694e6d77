"""The rules for users (SPEC §2.4)."""

import uuid
from collections.abc import Sequence
from typing import TypedDict

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.bulk import BulkResult, set_active
from offerdesk.db import find_by_key
from offerdesk.errors import DomainError, ErrorCode, bad_input, not_found
from offerdesk.users.models import User
from offerdesk.validation import (
    clean_ref,
    clean_title,
    ensure_unique_ref,
    lock_value,
    search_filter,
    storable,
)

MAX_NAME_LENGTH = 500


class UserChanges(TypedDict, total=False):
    name: str
    email: str
    ref: str | None


def clean_email(value: str, field: str) -> str:
    """Syntax only: no DNS look-up, so an import never waits on, or fails for, the network."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise bad_input(field, f"{field} is not a valid e-mail address: {exc}") from exc


async def find_user_by_email(session: AsyncSession, email: str) -> User | None:
    wanted = storable(email, "email").strip().lower()
    return await session.scalar(select(User).where(func.lower(User.email) == wanted))


def users_query(search: str | None = None, is_active: bool | None = None) -> Select[User]:
    stmt = select(User)
    if is_active is not None:
        stmt = stmt.where(User.is_active.is_(is_active))
    if (match := search_filter(search, User.name, User.email, User.ref)) is not None:
        stmt = stmt.where(match)
    return stmt


async def create_user(session: AsyncSession, changes: UserChanges, prefix: str) -> User:
    for key in ("name", "email"):
        if key not in changes:
            raise bad_input(f"{prefix}.{key}", f"{key} is required to create a user")
    user = User(is_active=True)
    await _apply(session, user, changes, prefix)
    session.add(user)
    await session.flush()
    return user


async def update_user(session: AsyncSession, user: User, changes: UserChanges, prefix: str) -> User:
    await _apply(session, user, changes, prefix)
    await session.flush()
    return user


async def get_user(session: AsyncSession, id_: uuid.UUID | None, ref: str | None) -> User:
    if id_ is not None:
        user = await session.get(User, id_)
        field = "id"
    else:
        user = await find_by_key(session, User, ref=ref)
        field = "ref"
    if user is None:
        raise not_found("user", field)
    return user


async def update_or_create_user(
    session: AsyncSession, ref: str | None, email: str | None, changes: UserChanges, prefix: str
) -> tuple[User, bool]:
    """The HR-sync upsert: find by ref, else by e-mail; update that user, or create one.

    The ``ref`` and ``email`` arguments are the look-up keys and also the values a new user
    gets unless ``changes`` says otherwise.
    """
    if ref is None and email is None:
        raise bad_input("ref", "give ref or email to find the user")
    user = None
    if ref is not None:
        user = await find_by_key(session, User, ref=ref)
    if user is None and email is not None:
        user = await find_user_by_email(session, email)
    if user is not None:
        return await update_user(session, user, changes, prefix), False
    defaults: UserChanges = {}
    if ref is not None:
        defaults["ref"] = ref
    if email is not None:
        defaults["email"] = email
    return await create_user(session, {**defaults, **changes}, prefix), True


async def _apply(session: AsyncSession, user: User, changes: UserChanges, prefix: str) -> None:
    if "name" in changes:
        user.name = clean_title(changes["name"], f"{prefix}.name", MAX_NAME_LENGTH)
    if "email" in changes:
        email = clean_email(changes["email"], f"{prefix}.email")
        await lock_value(session, "users.email", email.lower())
        other = await find_user_by_email(session, email)
        if other is not None and other.id != user.id:
            raise DomainError(
                ErrorCode.CONFLICT,
                f"e-mail address {email} is already in use",
                field=f"{prefix}.email",
            )
        user.email = email
    if "ref" in changes:
        ref = clean_ref(changes["ref"], f"{prefix}.ref")
        await ensure_unique_ref(session, User, ref, f"{prefix}.ref", exclude_id=user.id)
        user.ref = ref


async def archive_users(
    session: AsyncSession, ids: Sequence[uuid.UUID], archive: bool
) -> BulkResult:
    return await set_active(session, User, ids, archive)
