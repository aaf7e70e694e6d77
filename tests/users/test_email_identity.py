"""One e-mail address, one identity, on both engines and both read paths (SPEC §2.4, issue 14).

Every spelling of an address — capitals beyond ASCII, a decomposed accent, an IDNA domain in
Unicode or in its ASCII form, Greek sigmas that PostgreSQL's and Python's lower() fold apart —
finds the same user through ``user(email:)``, is CONFLICT on ``user.email`` for
``createUser`` and ``updateUser`` (never a driver error), and makes ``updateOrCreateUser``
update that user. Letters the engines' lower() treat differently (``İ``) behave alike. The
stored index needs no function of ours: SQLite's own ``integrity_check`` and ``REINDEX``
pass in a stock connection, PostgreSQL's ``amcheck`` and ``REINDEX`` too, and look-ups work
after them. Every test runs on SQLite and PostgreSQL, with compiled reads and the executor.
"""

import asyncio
import sqlite3
from typing import Any

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import IntegrityError

from offerdesk.db import Database
from offerdesk.users.service import email_address

from ..api_helpers import refused
from ..helpers import Api

CREATE = """mutation ($user: CreateUserInput!) {
    createUser(user: $user) { user { id name email } } }"""
UPDATE = """mutation ($id: UUID!, $user: UpdateUserInput!) {
    updateUser(id: $id, user: $user) { user { id email } } }"""
UPSERT = """mutation ($ref: String, $email: String, $user: UpdateUserInput!) {
    updateOrCreateUser(ref: $ref, email: $email, user: $user) {
      created user { id name email } } }"""
BY_EMAIL = "query ($email: String) { user(email: $email) { id email } }"

# (the address as typed, as shown, another spelling of the same address). It is shown as
# typed, trimmed, in NFC, with its domain as email-validator writes it (lower case, Unicode).
SPELLINGS = [
    pytest.param(
        "ÄRZTIN.MEIER@example.org",
        "ÄRZTIN.MEIER@example.org",
        "ärztin.meier@example.org",
        id="non-ascii-capitals",
    ),
    pytest.param(
        "rené@example.org", "rené@example.org", "rene\u0301@example.org", id="decomposed-accent"
    ),
    pytest.param("ada@müller.de", "ada@müller.de", "ADA@XN--MLLER-KVA.DE", id="idna-ascii-form"),
    pytest.param("ada@xn--mller-kva.de", "ada@müller.de", "Ada@MÜLLER.de", id="idna-unicode-form"),
    # PostgreSQL's lower() folds capital sigma to U+03C3; Python's to U+03C2 (final sigma)
    # at a word's end.
    pytest.param("ΟΔΟΣ@example.org", "ΟΔΟΣ@example.org", "οδοσ@example.org", id="sigma"),
    pytest.param("ΟΔΟΣ@example.org", "ΟΔΟΣ@example.org", "οδος@example.org", id="final-sigma"),
    # Both lower() keep ß (and make ẞ one); case folding makes them ss, as upper() does.
    pytest.param(
        "STRAẞE@Example.ORG", "STRAẞE@example.org", "strasse@example.org", id="capital-sharp-s"
    ),
]


async def create_user(api: Api, email: str, name: str = "Someone") -> dict[str, Any]:
    data = await api.data(CREATE, {"user": {"name": name, "email": email}})
    user: dict[str, Any] = data["createUser"]["user"]
    return user


async def found(api: Api, email: str) -> dict[str, Any] | None:
    user: dict[str, Any] | None = (await api.data(BY_EMAIL, {"email": email}))["user"]
    return user


@pytest.mark.parametrize(("typed", "shown", "other"), SPELLINGS)
async def test_another_spelling_of_an_address_is_the_same_user(
    api: Api, db: Database, typed: str, shown: str, other: str
) -> None:
    user = await create_user(api, typed)
    assert user["email"] == shown
    assert await found(api, other) == {"id": user["id"], "email": shown}

    await refused(
        api,
        db,
        CREATE,
        {"user": {"name": "Twin", "email": other}},
        code="CONFLICT",
        field="user.email",
    )
    someone = await create_user(api, "someone.else@example.org")
    await refused(
        api,
        db,
        UPDATE,
        {"id": someone["id"], "user": {"email": other}},
        code="CONFLICT",
        field="user.email",
    )

    upserted = await api.data(UPSERT, {"email": other, "user": {"name": "Synced"}})
    assert upserted["updateOrCreateUser"] == {
        "created": False,
        "user": {"id": user["id"], "name": "Synced", "email": shown},
    }


async def test_letters_the_engines_lower_case_apart_are_distinct_on_both(
    api: Api, db: Database
) -> None:
    # PostgreSQL's lower('İ') is 'i', Python's 'i̇' (i and a combining dot): the old index made
    # these one address on PostgreSQL (as a driver error) and two on SQLite. Case folding keeps
    # the dot, so they are two addresses on both.
    plain = await create_user(api, "i@example.org")
    dotted = await create_user(api, "İ@example.org")
    assert plain["id"] != dotted["id"]
    assert (await found(api, "I@example.org") or {})["id"] == plain["id"]
    assert (await found(api, "i\u0307@example.org") or {})["id"] == dotted["id"]

    await refused(
        api,
        db,
        UPDATE,
        {"id": plain["id"], "user": {"email": "İ@example.org"}},
        code="CONFLICT",
        field="user.email",
    )
    upserted = await api.data(UPSERT, {"email": "İ@example.org", "user": {"name": "Dotted"}})
    assert upserted["updateOrCreateUser"]["created"] is False
    assert upserted["updateOrCreateUser"]["user"]["id"] == dotted["id"]


async def test_concurrent_creates_of_one_address_in_greek_spellings_give_one_user(
    api: Api,
) -> None:
    for round_ in range(3):
        spellings = [f"ΟΔΟΣ-{round_}@example.org", f"οδος-{round_}@EXAMPLE.org"] * 4
        results = await asyncio.gather(
            *(api(CREATE, {"user": {"name": "Racer", "email": email}}) for email in spellings)
        )
        assert len([result for result in results if "errors" not in result]) == 1, results
        for result in results:
            if "errors" in result:
                assert [error["extensions"] for error in result["errors"]] == [
                    {"code": "CONFLICT", "field": "user.email"}
                ], result


async def test_a_look_up_by_something_that_is_not_an_address_is_bad_input(
    api: Api, db: Database
) -> None:
    error = await api.error(BY_EMAIL, {"email": "not-an-address"})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "email"}
    assert error["message"].startswith("email is not a valid e-mail address")

    await api.data(UPSERT, {"ref": "hr-1", "email": "ada@example.org", "user": {"name": "Ada"}})
    # The ref finds the user, but the e-mail key is still refused: nothing is written.
    await refused(
        api,
        db,
        UPSERT,
        {"ref": "hr-1", "email": "ada@", "user": {"name": "Renamed"}},
        code="BAD_USER_INPUT",
        field="email",
    )


async def test_the_index_needs_no_function_of_ours_and_survives_reindex(
    api: Api, db: Database, database_url: str
) -> None:
    addresses = ["ÄRZTIN.MEIER@example.org", "ΟΔΟΣ@example.org", "rené@example.org"]
    users = [await create_user(api, address) for address in addresses]
    canonical = email_address("ärztin.meier@EXAMPLE.org", "email").canonical

    if db.dialect == "sqlite":
        # A stock connection: SQLite's own lower(), none of db.py's functions.
        with sqlite3.connect(str(make_url(database_url).database)) as stock:
            assert stock.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            stock.execute("REINDEX")
            assert stock.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            row = stock.execute("SELECT email FROM users WHERE email_canonical = ?", [canonical])
            assert row.fetchall() == [(addresses[0],)]
            with pytest.raises(sqlite3.IntegrityError):
                stock.execute(
                    "INSERT INTO users (id, name, email, email_canonical, is_active, created_at, "
                    "updated_at) VALUES ('x', 'Twin', 'x', ?, 1, '2026-01-01', '2026-01-01')",
                    [canonical],
                )
    else:
        async with db.transaction() as session:
            await session.execute(text("CREATE EXTENSION IF NOT EXISTS amcheck"))
            # heapallindexed: every row of the table must be found in the index.
            await session.execute(text("SELECT bt_index_check('uq_users_email_canonical', true)"))
            await session.execute(text("REINDEX TABLE users"))
        with pytest.raises(IntegrityError):
            async with db.transaction() as session:
                await session.execute(
                    text(
                        "INSERT INTO users (id, name, email, email_canonical, is_active, "
                        "created_at, updated_at) VALUES (gen_random_uuid(), 'Twin', 'x', :c, "
                        "true, now(), now())"
                    ),
                    {"c": canonical},
                )

    for user, spelling in zip(
        users,
        ["ärztin.meier@example.org", "οδος@example.org", "rene\u0301@example.org"],
        strict=True,
    ):
        assert (await found(api, spelling) or {})["id"] == user["id"]
    await refused(
        api,
        db,
        CREATE,
        {"user": {"name": "Twin", "email": "Ärztin.Meier@Example.org"}},
        code="CONFLICT",
        field="user.email",
    )
