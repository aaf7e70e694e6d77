"""The users service's rules (SPEC §2.4, §2.6, §3.9, §3.11), through
``offerdesk.users.service`` with a real database session: no HTTP, no GraphQL.

Covers e-mail syntax (refused on ``user.email``, stored normalised), e-mail addresses unique
regardless of case (CONFLICT on ``user.email``), refs (CONFLICT on ``user.ref``), names, the
look-ups (``get`` and ``update`` by id or ref, ``find`` by id, ref or e-mail address in any
case), ``update_or_create`` (by ref, then by e-mail address, else a new user), ``page`` and
``archive``. Every test runs on SQLite and PostgreSQL.
"""

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.db import Database
from offerdesk.errors import ErrorCode
from offerdesk.users import service as users
from offerdesk.users.service import UserFilter

from ..helpers import snapshot
from ..service_helpers import in_transaction, make_user, reading, refusal


async def stored_user(db: Database, id_: uuid.UUID) -> users.User:
    return await reading(db, lambda session: users.get(session, id_=id_))


async def user_count(db: Database) -> int:
    page = await reading(db, lambda session: users.page(session, UserFilter(), None, None))
    return await reading(db, page.count)


# --- e-mail addresses ---


@pytest.mark.parametrize("email", ["not-an-email", "ada@", "@example.com", "ada@@example.com"])
async def test_malformed_email_is_refused_on_user_email(db: Database, email: str) -> None:
    before = await snapshot(db)
    error = await refusal(
        db,
        lambda session: users.create(session, {"name": "Ada", "email": email}),
        ErrorCode.BAD_USER_INPUT,
        "user.email",
    )
    assert error.message.startswith("user.email is not a valid e-mail address")
    assert await snapshot(db) == before


async def test_email_is_stored_trimmed_with_its_domain_in_lower_case(db: Database) -> None:
    user = await make_user(db, email="  Ada.Lovelace@Example.COM ")
    assert (await stored_user(db, user.id)).email == "Ada.Lovelace@example.com"


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("  Ada.Lovelace@Example.COM ", "ada.lovelace@example.com"),
        ("ÄRZTIN.MEIER@example.org", "ärztin.meier@example.org"),
        ("RENE\u0301@example.org", "ren\u00e9@example.org"),  # NFC after folding
        ("Ada@MÜLLER.de", "ada@xn--mller-kva.de"),  # the domain in its IDNA ASCII form
        ("a@faß.de", "a@xn--fa-hia.de"),  # ß in a domain is kept (IDNA 2008), not folded
        ("STRAẞE@example.org", "strasse@example.org"),  # case folding, not lower()
        ("ΟΔΟΣ@example.org", "\u03bf\u03b4\u03bf\u03c3@example.org"),  # sigma, never final
        ("İ@example.org", "i\u0307@example.org"),  # the dot is kept
    ],
)
async def test_the_canonical_form_is_stored_beside_the_address_as_typed(
    db: Database, typed: str, canonical: str
) -> None:
    user = await make_user(db, email=typed)
    stored = await stored_user(db, user.id)
    assert (stored.email, stored.email_canonical) == users.email_address(typed, "user.email")
    assert stored.email_canonical == canonical


@pytest.mark.parametrize("email", ["ADA@EXAMPLE.COM", "Ada@Example.com", " ada@example.com "])
async def test_an_email_in_use_in_any_case_is_conflict_on_create_and_update(
    db: Database, email: str
) -> None:
    await make_user(db, email="ada@example.com")
    await refusal(
        db,
        lambda session: users.create(session, {"name": "Ada again", "email": email}),
        ErrorCode.CONFLICT,
        "user.email",
    )
    other = await make_user(db, email="grace@example.com")
    await refusal(
        db,
        lambda session: users.update(session, {"email": email}, id_=other.id),
        ErrorCode.CONFLICT,
        "user.email",
    )
    assert (await stored_user(db, other.id)).email == "grace@example.com"


async def test_changing_the_case_of_ones_own_email_is_no_conflict(db: Database) -> None:
    user = await make_user(db, email="ada@example.com")
    await in_transaction(
        db, lambda session: users.update(session, {"email": "ADA@example.com"}, id_=user.id)
    )
    assert (await stored_user(db, user.id)).email == "ADA@example.com"


async def test_find_by_email_matches_in_any_case_and_ignores_padding(db: Database) -> None:
    user = await make_user(db, email="Ada@example.com")

    async def look_ups(session: AsyncSession) -> list[uuid.UUID | None]:
        found = [
            await users.find(session, email="ada@EXAMPLE.com"),
            await users.find(session, email="  ADA@example.com "),
            await users.find(session, email="grace@example.com"),
        ]
        return [each.id if each else None for each in found]

    assert await reading(db, look_ups) == [user.id, user.id, None]


async def test_find_with_more_than_one_key_is_bad_input_on_id_naming_all_three(
    db: Database,
) -> None:
    error = await refusal(
        db,
        lambda session: users.find(session, ref="u-1", email="ada@example.com"),
        ErrorCode.BAD_USER_INPUT,
        "id",
    )
    assert error.mentions == ("id", "ref", "email")


# --- create, update, refs, names ---


@pytest.mark.parametrize("missing", ["name", "email"])
async def test_create_without_name_or_email_is_refused_on_that_field(
    db: Database, missing: str
) -> None:
    changes = {"name": "Ada", "email": "ada@example.com"}
    del changes[missing]
    await refusal(
        db,
        lambda session: users.create(session, changes),
        ErrorCode.BAD_USER_INPUT,
        f"user.{missing}",
    )


async def test_blank_or_overlong_name_is_refused_on_user_name(db: Database) -> None:
    user = await make_user(db)
    for name in ("   ", "n" * 501):
        await refusal(
            db,
            lambda session, name=name: users.update(session, {"name": name}, id_=user.id),
            ErrorCode.BAD_USER_INPUT,
            "user.name",
        )


async def test_a_ref_in_use_is_conflict_on_user_ref(db: Database) -> None:
    await make_user(db, ref="hr-1")
    other = await make_user(db, ref="hr-2")
    await refusal(
        db,
        lambda session: users.update(session, {"ref": "hr-1"}, id_=other.id),
        ErrorCode.CONFLICT,
        "user.ref",
    )


async def test_update_finds_the_user_by_ref_and_changes_only_the_fields_given(
    db: Database,
) -> None:
    user = await make_user(db, ref="hr-1", email="ada@example.com")
    await in_transaction(
        db, lambda session: users.update(session, {"name": " Ada L. "}, ref="hr-1")
    )
    stored = await stored_user(db, user.id)
    assert (stored.name, stored.email, stored.ref) == ("Ada L.", "ada@example.com", "hr-1")


async def test_get_or_update_of_an_unknown_user_is_not_found_on_the_key_given(
    db: Database,
) -> None:
    await refusal(
        db,
        lambda session: users.update(session, {"name": "X"}, id_=uuid.uuid4()),
        ErrorCode.NOT_FOUND,
        "id",
    )
    await refusal(db, lambda session: users.get(session, ref="hr-9"), ErrorCode.NOT_FOUND, "ref")


async def test_update_with_both_id_and_ref_is_bad_input_on_id(db: Database) -> None:
    user = await make_user(db, ref="hr-1")
    await refusal(
        db,
        lambda session: users.update(session, {"name": "X"}, id_=user.id, ref="hr-1"),
        ErrorCode.BAD_USER_INPUT,
        "id",
    )


# --- update_or_create (the HR sync) ---


async def test_update_or_create_without_ref_or_email_is_bad_input_on_ref(db: Database) -> None:
    await refusal(
        db,
        lambda session: users.update_or_create(session, {"name": "Ada"}, ref=None, email=None),
        ErrorCode.BAD_USER_INPUT,
        "ref",
    )


async def test_update_or_create_creates_a_user_with_the_look_up_keys(db: Database) -> None:
    user, created = await in_transaction(
        db,
        lambda session: users.update_or_create(
            session, {"name": "Ada"}, ref="hr-1", email="ada@example.com"
        ),
    )
    assert created is True
    stored = await stored_user(db, user.id)
    assert (stored.name, stored.email, stored.ref, stored.is_active) == (
        "Ada",
        "ada@example.com",
        "hr-1",
        True,
    )


async def test_update_or_create_finds_by_ref_first_and_updates(db: Database) -> None:
    by_ref = await make_user(db, ref="hr-1", email="ada@example.com")
    await make_user(db, email="grace@example.com")
    user, created = await in_transaction(
        db,
        lambda session: users.update_or_create(
            session, {"name": "Ada L."}, ref="hr-1", email="grace@example.com"
        ),
    )
    assert (user.id, created) == (by_ref.id, False)
    stored = await stored_user(db, by_ref.id)
    # The look-up e-mail address is a key, not a change: the user found keeps their own.
    assert (stored.name, stored.email) == ("Ada L.", "ada@example.com")
    assert await user_count(db) == 2


async def test_update_or_create_falls_back_to_the_email_in_any_case(db: Database) -> None:
    existing = await make_user(db, email="ada@example.com")
    user, created = await in_transaction(
        db,
        lambda session: users.update_or_create(
            session, {"name": "Ada L.", "ref": "hr-7"}, ref="hr-7", email="ADA@example.com"
        ),
    )
    assert (user.id, created) == (existing.id, False)
    stored = await stored_user(db, existing.id)
    assert (stored.name, stored.ref) == ("Ada L.", "hr-7")
    assert await user_count(db) == 1


async def test_update_or_create_refuses_an_email_change_to_anothers_address(
    db: Database,
) -> None:
    await make_user(db, ref="hr-1", email="ada@example.com")
    await make_user(db, email="grace@example.com")
    await refusal(
        db,
        lambda session: users.update_or_create(
            session, {"email": "Grace@example.com"}, ref="hr-1", email=None
        ),
        ErrorCode.CONFLICT,
        "user.email",
    )


async def test_update_or_create_of_a_new_user_without_a_name_is_refused_on_user_name(
    db: Database,
) -> None:
    before = await snapshot(db)
    await refusal(
        db,
        lambda session: users.update_or_create(session, {}, ref="hr-1", email="ada@example.com"),
        ErrorCode.BAD_USER_INPUT,
        "user.name",
    )
    assert await snapshot(db) == before


# --- listing and archiving ---


async def test_page_filters_active_or_archived_users_and_searches_name_email_or_ref(
    db: Database,
) -> None:
    ada = await make_user(db, name="Ada", email="ada@example.com")
    grace = await make_user(db, name="Grace", email="grace@example.com", ref="HR-ADA")
    archived = await make_user(db, name="Alan", email="alan@example.com")
    await in_transaction(db, lambda session: users.archive(session, [archived.id], True))

    async def ids(where: UserFilter) -> list[uuid.UUID]:
        page = await reading(db, lambda session: users.page(session, where, None, None))
        return [user.id for user, _ in page.items]

    assert await ids(UserFilter()) == [ada.id, grace.id, archived.id]
    assert await ids(UserFilter(is_active=True)) == [ada.id, grace.id]
    assert await ids(UserFilter(is_active=False)) == [archived.id]
    assert await ids(UserFilter(search="ada")) == [ada.id, grace.id]


async def test_archive_twice_is_a_success_and_unknown_ids_fail(db: Database) -> None:
    user = await make_user(db)
    unknown = uuid.uuid4()
    for _ in range(2):
        result = await in_transaction(
            db, lambda session: users.archive(session, [user.id, unknown], True)
        )
        assert (result.succeeded, result.failed) == ([user.id], [unknown])
        assert (await stored_user(db, user.id)).is_active is False
    await in_transaction(db, lambda session: users.archive(session, [user.id], False))
    assert (await stored_user(db, user.id)).is_active is True
