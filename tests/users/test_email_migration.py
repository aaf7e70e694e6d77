"""Migration 0008 (issue 14): existing users get their canonical e-mail address, computed by
the service's own function; rows that would become one address, or that are not addresses,
stop the upgrade naming them (``offerdesk migrate`` says so without a traceback); the
downgrade drops the column and restores the unique index on ``lower(email)``, and refuses rows
that index would find equal. On SQLite the users table is rebuilt while enrollments reference
it. Every test runs on a scratch database of each engine.
"""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest
from alembic import command
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from offerdesk.config import Settings
from offerdesk.db import Database
from offerdesk.enrollments.models import Enrollment, EnrollmentStatus
from offerdesk.events.models import OfferEvent
from offerdesk.migrate import alembic_config, upgrade
from offerdesk.offers.models import Offer
from offerdesk.preflight import DatabaseProblem
from offerdesk.users.models import User
from offerdesk.users.service import email_address

from ..test_cli_errors import run
from ..test_migrations import current_revisions, differences, head, scratch_url

__all__ = ["scratch_url"]  # a fixture: imported for pytest to find it here

BEFORE = "0007"
REVISION = "0008"
AT = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def scratch(scratch_url: str) -> AsyncIterator[Database]:
    """The scratch database migrated to the revision before 0008. db.py's engine, so SQLite
    has the lower() the old index was built with."""
    await anyio.to_thread.run_sync(upgrade, scratch_url, BEFORE)
    database = Database(scratch_url, Settings(database_url=scratch_url))
    yield database
    await database.dispose()


async def add_user(db: Database, email: str, **columns: object) -> uuid.UUID:
    """A user row written straight to the table, as a deployment's old data would be."""
    id_ = uuid.uuid4()
    async with db.transaction() as session:
        await session.execute(
            insert(User).values(id=id_, name="Someone", email=email, created_at=AT, **columns)
        )
    return id_


async def migrate(db: Database, revision: str = "head") -> None:
    await db.engine.dispose()  # no pooled connection holds the old schema
    await anyio.to_thread.run_sync(upgrade, db.url, revision)


async def downgrade(db: Database, revision: str) -> None:
    await db.engine.dispose()
    await anyio.to_thread.run_sync(command.downgrade, alembic_config(db.url), revision)


async def user_columns(db: Database) -> set[str]:
    async with db.engine.connect() as connection:
        columns = await connection.run_sync(lambda sync: inspect(sync).get_columns("users"))
    return {column["name"] for column in columns}


async def test_existing_users_get_their_canonical_address(scratch: Database) -> None:
    emails = ["ÄRZTIN.MEIER@Example.org", "rene\u0301@example.org", "bob@xn--mller-kva.de"]
    ids = [await add_user(scratch, email) for email in emails]
    # An enrollment refers to a user: SQLite's rebuild of the users table must keep it.
    async with scratch.transaction() as session:
        offer = (await session.execute(insert(Offer).values(title="O").returning(Offer.id))).one()
        event = await session.execute(
            insert(OfferEvent).values(offer_id=offer.id, title="E").returning(OfferEvent.id)
        )
        enrollment = uuid.uuid4()
        await session.execute(
            insert(Enrollment).values(
                id=enrollment,
                user_id=ids[0],
                offer_event_id=event.scalar_one(),
                status=EnrollmentStatus.ENROLLED,
            )
        )

    await migrate(scratch)

    assert await current_revisions(scratch.url) == [head(scratch.url)]
    assert await differences(scratch.url) == []
    async with scratch.read_session() as session:
        stored = dict((await session.execute(select(User.id, User.email_canonical))).all())
        kept = await session.scalar(select(Enrollment.user_id).where(Enrollment.id == enrollment))
    assert stored == {
        id_: email_address(email, "email").canonical for id_, email in zip(ids, emails, strict=True)
    }
    assert stored[ids[0]] == "ärztin.meier@example.org"
    assert kept == ids[0]


async def test_users_that_become_one_address_stop_the_upgrade_naming_them(
    scratch: Database,
) -> None:
    # Two addresses each under lower() (which the old index allowed), one address canonically.
    sharp = await add_user(scratch, "straße@example.org")
    double = await add_user(scratch, "STRASSE@example.org")
    ascii_domain = await add_user(scratch, "ada@xn--mller-kva.de")
    unicode_domain = await add_user(scratch, "Ada@müller.de")
    alone = await add_user(scratch, "grace@example.org")

    with pytest.raises(DatabaseProblem) as refused:
        await migrate(scratch)

    message = str(refused.value)
    assert message.startswith("Migration 0008 cannot continue")
    for id_, email in [
        (sharp, "straße@example.org"),
        (double, "STRASSE@example.org"),
        (ascii_domain, "ada@xn--mller-kva.de"),
        (unicode_domain, "Ada@müller.de"),
    ]:
        assert f"user {id_} <{email}>" in message
    assert str(alone) not in message
    assert await current_revisions(scratch.url) == [BEFORE]
    assert "email_canonical" not in await user_columns(scratch)


async def test_offerdesk_migrate_names_the_colliding_users_without_a_traceback(
    scratch: Database, tmp_path: Path
) -> None:
    first = await add_user(scratch, "rene\u0301@example.org")
    second = await add_user(scratch, "René@example.org")
    await scratch.engine.dispose()

    result = await run(tmp_path, "migrate", database_url=scratch.url)

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "Migration 0008 cannot continue" in result.stderr
    assert f"user {first} <rene\u0301@example.org>" in result.stderr
    assert f"user {second} <René@example.org>" in result.stderr
    assert await current_revisions(scratch.url) == [BEFORE]


async def test_a_stored_address_that_is_not_one_stops_the_upgrade_naming_it(
    scratch: Database,
) -> None:
    broken = await add_user(scratch, "nobody-at-example.org")

    with pytest.raises(DatabaseProblem) as refused:
        await migrate(scratch)

    assert f"user {broken} <nobody-at-example.org>" in str(refused.value)
    assert await current_revisions(scratch.url) == [BEFORE]


async def test_downgrade_drops_the_column_and_restores_the_lower_index(
    scratch: Database,
) -> None:
    await add_user(scratch, "ada@example.org")
    await migrate(scratch)
    await downgrade(scratch, BEFORE)

    assert "email_canonical" not in await user_columns(scratch)
    with pytest.raises(IntegrityError) as refused:
        await add_user(scratch, "ADA@example.org")
    assert "uq_users_email_lower" in str(refused.value)

    await migrate(scratch)
    assert await differences(scratch.url) == []


async def test_downgrade_refuses_addresses_the_old_index_finds_equal(scratch: Database) -> None:
    # At this migration: a later one's downgrade would succeed before this one refuses.
    await migrate(scratch, REVISION)
    # Only a hand-written row can hold such a pair: their canonical forms differ.
    first = await add_user(scratch, "Ada@example.org", email_canonical="ada-1")
    second = await add_user(scratch, "ada@example.org", email_canonical="ada-2")

    with pytest.raises(DatabaseProblem) as refused:
        await downgrade(scratch, BEFORE)

    message = str(refused.value)
    assert f"user {first} <Ada@example.org>" in message
    assert f"user {second} <ada@example.org>" in message
    assert await current_revisions(scratch.url) == [REVISION]
    async with scratch.read_session() as session:
        assert await session.scalar(text("SELECT count(*) FROM users")) == 2
