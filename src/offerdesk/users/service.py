"""Users (SPEC §2.4): the domain's whole API. Knows nothing of GraphQL: takes a session, returns
models, names bad input by domain paths (``user.email``)."""

import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypedDict

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.bulk import BulkResult, set_active
from offerdesk.errors import DomainError, ErrorCode, bad_input, not_found
from offerdesk.locking import lock_value
from offerdesk.outbox import service as outbox
from offerdesk.outbox.models import EventType
from offerdesk.pagination import Page, paginate
from offerdesk.repository import ensure_unique_ref, find_row, rows_by_ids
from offerdesk.users.models import User
from offerdesk.validation import (
    clean_ref,
    clean_title,
    one_key,
    search_filter,
    search_term,
    storable,
)

MAX_NAME_LENGTH = 500


class UserChanges(TypedDict, total=False):
    """The fields a create or update sets; a key left out stays as it is."""

    name: str
    email: str
    ref: str | None


@dataclass(frozen=True)
class UserFilter:
    """Which users a page shows: all, or active or archived ones, or those matching a search."""

    search: str | None = None
    is_active: bool | None = None


class EmailAddress(NamedTuple):
    """An e-mail address as ``email_address`` reads it: ``display`` as the user spelled it,
    ``canonical`` the identity that makes two spellings one address."""

    display: str
    canonical: str


def email_address(value: str, field: str) -> EmailAddress:
    """The one reading of an e-mail address, for every write and every look-up (SPEC §2.4).

    Syntax only (email-validator, ``check_deliverability=False``): no DNS look-up, so an import
    never waits on, or fails for, the network. Not an address (or a NUL character):
    BAD_USER_INPUT on ``field``.

    * ``display``: email-validator's normalised address: trimmed, the local part in Unicode NFC
      (RFC 6532 §3.1), the domain lower-cased by IDNA's mapping (UTS #46), as
      ``Ärztin.Meier@example.org``.
    * ``canonical``: the local part (NFC), "@", the domain in its IDNA ASCII form (RFC 5891),
      the whole case-folded by ``str.casefold`` (Unicode default case folding, §3.13) and put
      in NFC again, as folding may decompose a letter: ``ärztin.meier@example.org``,
      ``ada@xn--mller-kva.de``. Case folding rather than lower-casing because a spelling and
      its capitals always fold alike (``ΟΔΟΣ`` and ``οδος``, ``STRASSE`` and ``straße``); the
      ASCII domain because folding a Unicode domain could change it (``faß.de`` is not
      ``fass.de``).
    """
    try:
        valid = validate_email(storable(value, field).strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise bad_input(field, f"{field} is not a valid e-mail address: {exc}") from exc
    folded = f"{valid.local_part}@{valid.ascii_domain}".casefold()
    return EmailAddress(valid.normalized, unicodedata.normalize("NFC", folded))


async def find(
    session: AsyncSession,
    *,
    id_: uuid.UUID | None = None,
    ref: str | None = None,
    email: str | None = None,
) -> User | None:
    """The user with this id, ref or e-mail address (exactly one of them), or None.

    E-mail addresses match by their canonical form (``email_address``; SPEC §2.4); one that is
    not an address is BAD_USER_INPUT on ``email``.
    """
    one_key(id=id_, ref=ref, email=email)
    if email is not None:
        return await _find_by_email(session, email_key(email))
    return await find_row(session, User, id_, ref)


async def get(
    session: AsyncSession, *, id_: uuid.UUID | None = None, ref: str | None = None
) -> User:
    """The user with this id or ref (exactly one of them); NOT_FOUND on ``id`` or ``ref``."""
    key, _ = one_key(id=id_, ref=ref)
    user = await find_row(session, User, id_, ref)
    if user is None:
        raise not_found("user", key)
    return user


async def _find_by_email(session: AsyncSession, canonical: str) -> User | None:
    return await session.scalar(select(User).where(email_condition(User, canonical)))


def email_key(email: str) -> str:
    """The canonical form (``email_address``) of an address given to look a user up (the
    ``email`` argument); BAD_USER_INPUT on ``email`` when it is not an address."""
    return email_address(email, "email").canonical


def email_condition(user: Any, wanted: Any) -> ColumnElement[bool]:
    """``user`` (the model or an alias) has the address whose canonical form is ``wanted``
    (``email_key``: a value or a bound parameter). A plain comparison of the stored column,
    the same on both engines (SPEC §2.4)."""
    condition: ColumnElement[bool] = user.email_canonical == wanted
    return condition


def listing_conditions(
    user: Any, is_active: bool | None, term: Any | None
) -> list[ColumnElement[bool]]:
    """What a page of ``user`` (the model or an alias) admits: the active or archived users
    unless ``is_active`` is None, matching ``term`` (``search_term``) unless it is None. The one
    definition, for the service's pages and compiled reads (users/graphql_map.py)."""
    conditions: list[ColumnElement[bool]] = []
    if is_active is not None:
        conditions.append(user.is_active.is_(is_active))
    if term is not None:
        conditions.append(search_filter(term, user.name, user.email, user.ref))
    return conditions


async def get_many(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[User | None]:
    """Users in the order of ``ids``, None where missing (the shape a DataLoader needs)."""
    return await rows_by_ids(session, User, ids)


async def page(
    session: AsyncSession, where: UserFilter, first: int | None, after: str | None
) -> Page[User]:
    """One page of the users ``where`` admits, in creation order (SPEC §2.6)."""
    conditions = listing_conditions(User, where.is_active, search_term(where.search))
    return await paginate(session, select(User).where(*conditions), User, first, after)


async def create(session: AsyncSession, changes: UserChanges) -> User:
    """A new, active user; ``changes`` must hold ``name`` and ``email``. BAD_USER_INPUT and
    CONFLICT (a ref or an e-mail address in use) name ``user.<field>``."""
    for key in ("name", "email"):
        if key not in changes:
            raise bad_input(f"user.{key}", f"{key} is required to create a user")
    user = User(is_active=True)
    await _apply(session, user, changes)
    session.add(user)
    await session.flush()
    outbox.record(session, EventType.USER_CREATED, [user.id])
    return user


async def update(
    session: AsyncSession,
    changes: UserChanges,
    *,
    id_: uuid.UUID | None = None,
    ref: str | None = None,
) -> User:
    """The user found by id or ref (exactly one) with ``changes`` applied; NOT_FOUND."""
    user = await get(session, id_=id_, ref=ref)
    await _apply(session, user, changes)
    await session.flush()
    outbox.record(session, EventType.USER_UPDATED, [user.id])
    return user


async def update_or_create(
    session: AsyncSession, changes: UserChanges, *, ref: str | None, email: str | None
) -> tuple[User, bool]:
    """The HR-sync upsert: find by ref, else by e-mail; update that user, or create one.
    Returns ``(user, created)``.

    ``ref`` and ``email`` are the look-up keys and also the values a new user gets unless
    ``changes`` says otherwise; ``email`` matches by its canonical form (``email_address``).
    Neither given: BAD_USER_INPUT on ``ref``; ``email`` not an address: BAD_USER_INPUT on
    ``email``, even when the ref finds the user (nothing is written).
    """
    if ref is None and email is None:
        raise bad_input("ref", "give ref or email to find the user")
    key = email_key(email) if email is not None else None
    user = None
    if ref is not None:
        user = await find_row(session, User, ref=ref)
    if user is None and key is not None:
        user = await _find_by_email(session, key)
    if user is not None:
        await _apply(session, user, changes)
        await session.flush()
        outbox.record(session, EventType.USER_UPDATED, [user.id])
        return user, False
    defaults: UserChanges = {}
    if ref is not None:
        defaults["ref"] = ref
    if email is not None:
        defaults["email"] = email
    return await create(session, {**defaults, **changes}), True


async def _apply(session: AsyncSession, user: User, changes: UserChanges) -> None:
    if "name" in changes:
        user.name = clean_title(changes["name"], "user.name", MAX_NAME_LENGTH)
    if "email" in changes:
        address = email_address(changes["email"], "user.email")
        # The check and the unique constraint compare the same stored value, and concurrent
        # writers of one address take turns: the constraint can never fire in the driver.
        await lock_value(session, "users.email", address.canonical)
        other = await _find_by_email(session, address.canonical)
        if other is not None and other.id != user.id:
            raise DomainError(
                ErrorCode.CONFLICT,
                f"e-mail address {address.display} is already in use",
                field="user.email",
            )
        user.email, user.email_canonical = address
    if "ref" in changes:
        ref = clean_ref(changes["ref"], "user.ref")
        await ensure_unique_ref(session, User, ref, "user.ref", exclude_id=user.id)
        user.ref = ref


async def archive(session: AsyncSession, ids: Sequence[uuid.UUID], archive: bool) -> BulkResult:
    """Archive (or restore) users; their enrollments and history stay (SPEC §2.4). Each user
    changed writes USER_ARCHIVED (restored: USER_UPDATED)."""
    result = await set_active(session, User, ids, archive)
    outbox.record(
        session, EventType.USER_ARCHIVED if archive else EventType.USER_UPDATED, result.changed
    )
    return result
