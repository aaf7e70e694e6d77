"""Direct writes (graphql/direct.py, issue 11) answer ``enrollUserInOfferEvent`` exactly as the
executor does.

Two apps share one database: one with ``compiled_writes`` on (a known enroll document is
then carried out without the executor: on PostgreSQL the token check with the enrollment
function, then the compiled payload; on SQLite the token check, the enrollment's statements
in one write transaction and the payload, in one hop to the writer thread), one with it off
(the executor, the reference). Enrolling again while active returns the enrollment unchanged
(SPEC §3.3), so a change made on one path and asked for again on the other must answer byte
for byte the same; a refusal must be the same body on both, with nothing written.
"""

import asyncio
import re
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import func, literal, select, text

from offerdesk.app import create_app
from offerdesk.auth.scopes import Scope
from offerdesk.auth.service import (
    create_client,
    hash_secret,
    issue_token,
    principal_from_row,
    token_allows,
    token_lookup,
)
from offerdesk.db import Database, utcnow, write_transaction
from offerdesk.enrollments.models import Enrollment, EnrollmentStatusChange
from offerdesk.events import service as events_service
from offerdesk.events.models import OfferEvent
from offerdesk.graphql.compiler.declarations import Write
from offerdesk.graphql.compiler.plan import Plan
from offerdesk.graphql.direct import ANSWERED
from offerdesk.graphql.schema import TYPE_MAPS
from offerdesk.outbox.models import OutboxEvent
from offerdesk.users import service as users_service

from .conftest import make_token, settings_for
from .helpers import count_statements
from .test_enrollments import make_event, make_users
from .test_metrics import METRICS_TOKEN, scrape, value

ENROLL = """
mutation Enroll($userId: UUID!, $eventId: UUID!, $status: EnrollmentStatus) {
  enrolled: enrollUserInOfferEvent(
    enrollment: {userId: $userId, offerEventId: $eventId, status: $status}
  ) {
    __typename
    enrollment {
      id userId offerEventId status enrolledAt updatedAt waitlistPosition __typename
      history { fromStatus toStatus cause sendMail at }
      user { id name email isActive }
      offerEvent { id title enrolledCount waitlistedCount spotsAvailable }
    }
  }
}"""
UNENROLL = """
mutation($userId: UUID!, $eventId: UUID!) {
  unenrollUserFromOfferEvent(userId: $userId, offerEventId: $eventId) { success }
}"""


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {"compiled_writes": True, "response_cache_mb": 0, "metrics_token": METRICS_TOKEN}


@pytest.fixture
async def reference(database_url: str) -> AsyncIterator[AsyncClient]:
    """The same database, every mutation through the executor."""
    app = create_app(settings_for(database_url, compiled_writes=False, response_cache_mb=0))
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        yield client
    await app.state.db.dispose()


async def post(
    client: AsyncClient, token: str, variables: dict[str, Any], **headers: str
) -> tuple[int, bytes]:
    response = await client.post(
        "/graphql",
        json={"query": ENROLL, "variables": variables},
        headers={"Authorization": f"Bearer {token}", **headers},
    )
    return response.status_code, response.content


async def learn(client: AsyncClient, token: str, db: Database) -> None:
    """Make the document known to the direct app: the executor answers it once."""
    user = (await make_users(db, 1, "learn"))[0]
    event = await make_event(db, capacity=None)
    status, body = await post(client, token, {"userId": user, "eventId": event})
    assert status == 200, body
    assert b'"errors"' not in body, body


async def written(db: Database) -> tuple[int, int, int]:
    """Enrollments, status changes and outbox events in the database."""
    async with db.read_session() as session:
        counts = []
        for model in (Enrollment, EnrollmentStatusChange, OutboxEvent):
            counts.append(await session.scalar(select(func.count()).select_from(model)) or 0)
    return counts[0], counts[1], counts[2]


async def test_a_change_made_directly_answers_as_the_executor_reports_it(
    client: AsyncClient, reference: AsyncClient, token: str, db: Database
) -> None:
    """Seated, waitlisted (with a position), an explicit WAITLISTED, and re-activated after a
    cancellation (history appended): each direct answer equals the executor's answer for the
    same enrollment asked again, and the reverse (executor first, direct again) too."""
    await learn(client, token, db)
    event = await make_event(db, capacity=2, waiting_list=True)
    users = await make_users(db, 5)
    cases: list[dict[str, Any]] = [
        {"userId": users[0], "eventId": event},  # a free seat
        {"userId": users[1], "eventId": event, "status": "WAITLISTED"},  # asked to wait
        {"userId": users[2], "eventId": event},  # the last seat, or the queue
        {"userId": users[3], "eventId": event},  # full: waits
    ]
    before = ANSWERED["write"]
    for variables in cases:
        async with count_statements(db) as statements:
            direct = await post(client, token, variables)
        if db.dialect == "postgresql":
            # The token check with the function call, then the payload; each its own
            # transaction.
            assert len(statements) == 2, statements
            assert not any(s.strip().upper().startswith("BEGIN") for s in statements)
        else:
            # One write transaction whose first statement checks the token and reads the
            # data version, which the commit moves on without reading it again; the payload
            # after COMMIT.
            sent = [s.split()[0].upper() for s in statements]
            assert sent[:2] == ["BEGIN", "SELECT"], statements
            assert sent[-2:] == ["COMMIT", "SELECT"], statements
            assert sent.count("PRAGMA") == 1, statements
        again = await post(reference, token, variables)
        assert direct == again
    assert ANSWERED["write"] - before == len(cases)
    # Re-activation after a cancellation appends history; the executor first this time.
    gone = {"userId": users[0], "eventId": event}
    await unenroll(reference, token, gone)
    first = await post(reference, token, gone)
    assert b'"CANCELLED"' in first[1]
    assert await post(client, token, gone) == first


UUID_OR_TIME = re.compile(
    rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    # make_users's addresses carry a random tag
    rb"|u\d+-[0-9a-f]{6}@example\.com"
    rb"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)"
)


def shape(bodies: list[bytes]) -> list[bytes]:
    """The bodies with every id, time and generated address replaced by its order of first
    appearance: two worlds built alike then answer alike."""
    seen: dict[bytes, bytes] = {}

    def name(match: re.Match[bytes]) -> bytes:
        return seen.setdefault(match.group(0), b"<%d>" % len(seen))

    return [UUID_OR_TIME.sub(name, body) for body in bodies]


async def unenroll(client: AsyncClient, token: str, variables: dict[str, Any]) -> None:
    response = await client.post(
        "/graphql",
        json={"query": UNENROLL, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.json()["data"]["unenrollUserFromOfferEvent"]["success"] is True


async def test_the_same_changes_on_two_alike_events_answer_alike(
    client: AsyncClient, reference: AsyncClient, token: str, db: Database
) -> None:
    """The same sequence of enrollments (free seats, the queue, asked-for statuses, a full
    event refusing ENROLLED, a cancellation and its promotion, re-activation) made on two
    events built alike, one by each path: the answers are equal but for ids and times, and
    so are the events' rosters afterwards. This holds the change itself (not only its
    payload) to the executor's."""
    await learn(client, token, db)
    worlds = []
    for app in (client, reference):
        event = await make_event(db, capacity=2, waiting_list=True)
        full = await make_event(db, capacity=1, waiting_list=False)
        worlds.append((app, event, full, await make_users(db, 5)))
    answers: list[list[bytes]] = []
    for app, event, full, users in worlds:
        steps: list[tuple[str, dict[str, Any]]] = [
            ("enroll", {"userId": users[0], "eventId": event, "status": "WAITLISTED"}),
            ("enroll", {"userId": users[1], "eventId": event, "status": "ENROLLED"}),
            ("enroll", {"userId": users[2], "eventId": event, "status": "ENROLLED"}),
            ("enroll", {"userId": users[2], "eventId": event}),
            ("enroll", {"userId": users[3], "eventId": event, "status": "WAITLISTED"}),
            ("unenroll", {"userId": users[0], "eventId": event}),
            ("enroll", {"userId": users[0], "eventId": event}),
            ("enroll", {"userId": users[4], "eventId": full}),
            ("enroll", {"userId": users[0], "eventId": full, "status": "WAITLISTED"}),
            ("enroll", {"userId": users[1], "eventId": full}),
        ]
        bodies = []
        for kind, variables in steps:
            if kind == "unenroll":
                await unenroll(reference, token, variables)
            else:
                bodies.append((await post(app, token, variables))[1])
        roster = await reference.post(
            "/graphql",
            json={"query": ROSTER, "variables": {"id": event}},
            headers={"Authorization": f"Bearer {token}"},
        )
        bodies.append(roster.content)
        answers.append(shape(bodies))
    assert answers[0] == answers[1]
    assert b'"EVENT_FULL"' in b"".join(answers[0])


ROSTER = """
query($id: UUID!) {
  offerEvent(id: $id) {
    enrolledCount waitlistedCount spotsAvailable
    enrollments(first: 10) { edges { node { userId status waitlistPosition history { cause } } } }
  }
}"""


async def test_refusals_are_the_executors_and_write_nothing(
    client: AsyncClient, reference: AsyncClient, token: str, db: Database
) -> None:
    """EVENT_FULL, REGISTRATION_CLOSED, EVENT_INACTIVE, USER_INACTIVE, NOT_FOUND (user and
    event), a status one cannot enroll with: the same body from both apps, nothing written."""
    await learn(client, token, db)
    users = await make_users(db, 3)
    full = await make_event(db, capacity=1, waiting_list=False)
    closed = await make_event(
        db, capacity=None, closing_date=datetime.now(UTC) - timedelta(minutes=1)
    )
    inactive = await make_event(db, capacity=None)
    async with db.transaction() as session:
        await events_service.archive(session, [uuid.UUID(inactive)], True)
        await users_service.archive(session, [uuid.UUID(users[2])], True)
    assert (await post(client, token, {"userId": users[0], "eventId": full}))[0] == 200
    refused = [
        ({"userId": users[1], "eventId": full}, "EVENT_FULL"),
        ({"userId": users[1], "eventId": closed}, "REGISTRATION_CLOSED"),
        ({"userId": users[1], "eventId": inactive}, "EVENT_INACTIVE"),
        ({"userId": users[2], "eventId": full}, "USER_INACTIVE"),
        ({"userId": str(uuid.uuid4()), "eventId": full}, "NOT_FOUND"),
        ({"userId": users[1], "eventId": str(uuid.uuid4())}, "NOT_FOUND"),
        ({"userId": users[1], "eventId": full, "status": "CANCELLED"}, "BAD_USER_INPUT"),
    ]
    for variables, code in refused:
        before = await written(db)
        direct = await post(client, token, variables)
        assert f'"code":"{code}"'.encode() in direct[1], direct
        assert await written(db) == before
        assert direct == await post(reference, token, variables)


async def test_the_callers_rights_are_checked_before_anything_is_written(
    client: AsyncClient, reference: AsyncClient, token: str, db: Database
) -> None:
    """A token without events.write gets the executor's FORBIDDEN, one that cannot read users
    gets the payload with ``user`` null and its error, an unknown token 401: as on the
    executor, and only an allowed change is written."""
    await learn(client, token, db)
    event = await make_event(db, capacity=None)
    users = await make_users(db, 2)
    reader = await make_token(db, frozenset({Scope.EVENTS_READ, Scope.USERS_READ}))
    variables = {"userId": users[0], "eventId": event}
    # Allowed and refused calls in turn, past the five runs after which PostgreSQL may plan a
    # prepared statement generically: the refused ones never write, whatever the plan.
    for user in await make_users(db, 8):
        allowed = await post(client, token, {"userId": user, "eventId": event})
        assert b'"ENROLLED"' in allowed[1]
        before = await written(db)
        forbidden = await post(client, reader, variables)
        assert b'"FORBIDDEN"' in forbidden[1]
        assert await written(db) == before
    assert forbidden == await post(reference, reader, variables)
    before = await written(db)
    unknown = await post(client, "not-a-token", variables)
    assert unknown[0] == 401
    assert unknown == await post(reference, "not-a-token", variables)
    assert await written(db) == before
    no_users = await make_token(db, frozenset({Scope.EVENTS_WRITE}))
    partial = await post(client, no_users, variables)
    assert b'"FORBIDDEN"' in partial[1]
    assert b'"enrolled":{' in partial[1]
    assert partial == await post(reference, no_users, variables)


SCOPE_NAMES = ("events.read", "events.write", "users.read")


def subsets(names: tuple[str, ...]) -> list[frozenset[str]]:
    return [
        frozenset(name for bit, name in enumerate(names) if mask >> bit & 1)
        for mask in range(2 ** len(names))
    ]


async def test_the_sql_rule_of_rights_is_the_python_rule(db: Database) -> None:
    """auth/service.token_allows (what a direct write checks in its statement) agrees with
    principal_from_row + Plan.missing_scopes (what the full path checks) for every token
    scope set, with no client and with a client of every scope set, for the enroll plan's
    needs and for simpler ones. SQLite's direct writes check with those Python functions
    themselves (graphql/direct.py), before the write transaction."""
    write = TYPE_MAPS["Mutation"].fields["enrollUserInOfferEvent"]
    assert isinstance(write, Write)
    assert db.dialect in write.dialects
    if db.dialect != "postgresql":
        return
    needs = [
        frozenset({frozenset({"events.write"})}),
        frozenset({frozenset({"events.write"}), frozenset({"users.read", "users.write"})}),
        frozenset({frozenset({"events.read", "events.write"}), frozenset({"users.read"})}),
    ]
    checked = 0
    async with db.transaction() as session:
        for token_scopes in subsets(SCOPE_NAMES):
            for client_scopes in [None, *subsets(SCOPE_NAMES)]:
                client = None
                if client_scopes is not None:
                    client, _ = await create_client(
                        session, "c", " ".join(sorted(client_scopes)) or "events.read"
                    )
                    client.scopes = " ".join(sorted(client_scopes))
                issued = await issue_token(
                    session, frozenset(Scope(n) for n in token_scopes), 60, client
                )
                await session.flush()
                lookup = token_lookup(hash_secret(issued.token), utcnow())
                row = (await session.execute(lookup)).one()
                principal = principal_from_row(row)
                assert principal is not None
                held = frozenset(scope.value for scope in principal.scopes)
                for need in needs:
                    in_sql = await session.scalar(select(token_allows(lookup.subquery(), need)))
                    plan = Plan(data=literal(1), params=(), scopes=need)
                    assert in_sql is (not plan.missing_scopes(held)), (
                        token_scopes,
                        client_scopes,
                        need,
                    )
                    checked += 1
    assert checked == 8 * 9 * len(needs)


async def test_a_direct_change_is_counted_and_written_to_the_outbox(
    client: AsyncClient, token: str, db: Database
) -> None:
    """The enrollment metric counts the direct path's changes, and each change has its
    outbox event (OFFER_EVENT_ENROLLED), as on the executor's path."""
    await learn(client, token, db)
    event = await make_event(db, capacity=None)
    user = (await make_users(db, 1))[0]

    name = "offerdesk_enrollments_total"
    before, (_, _, events) = await scrape(client), await written(db)
    status, body = await post(client, token, {"userId": user, "eventId": event})
    assert status == 200
    assert b'"ENROLLED"' in body
    after = await scrape(client)
    assert value(after, name, outcome="enroll") - value(before, name, outcome="enroll") == 1
    async with db.read_session() as session:
        types = (
            await session.scalars(select(OutboxEvent.type).order_by(OutboxEvent.seq.desc()))
        ).all()
    assert len(types) == events + 1
    assert types[0] == "OFFER_EVENT_ENROLLED"


async def test_a_keyed_request_takes_the_executors_transaction(
    client: AsyncClient, token: str, db: Database
) -> None:
    """With an Idempotency-Key the change commits with its stored answer (idempotency.py):
    not direct, and a replay answers the same body."""
    await learn(client, token, db)
    event = await make_event(db, capacity=None)
    user = (await make_users(db, 1))[0]
    before = ANSWERED["write"]
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await post(client, token, {"userId": user, "eventId": event}, **key)
    assert ANSWERED["write"] == before
    assert first == await post(client, token, {"userId": user, "eventId": event}, **key)


async def test_without_the_setting_nothing_goes_direct(
    reference: AsyncClient, token: str, db: Database
) -> None:
    """``compiled_writes=False`` (OFFERDESK_COMPILED_WRITES=0): every enroll runs the
    executor, however often its document was answered."""
    before = ANSWERED["write"]
    event = await make_event(db, capacity=None)
    for user in await make_users(db, 3):
        status, body = await post(reference, token, {"userId": user, "eventId": event})
        assert status == 200
        assert b'"ENROLLED"' in body
    assert ANSWERED["write"] == before


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_cancelled_sqlite_write_is_interrupted_and_rolled_back_before_the_next(
    db: Database,
) -> None:
    """Database.sqlite_writer (SQLite's direct writes; PostgreSQL's statements end by their
    statement_timeout): a write cancelled mid-statement (the request's time budget) has that
    statement interrupted, and its transaction is rolled back before the next writer's turn
    begins: the next write transaction finds the lock free and nothing of the first."""
    event = await make_event(db, capacity=None)
    seen: list[str] = []

    def work(connection: sqlite3.Connection) -> None:
        cursor = connection.cursor()
        with write_transaction(cursor):
            cursor.execute(
                "UPDATE offer_events SET title = 'half-written' WHERE id = ?",
                [uuid.UUID(event).hex],
            )
            try:
                # Runs until interrupted.
                cursor.execute(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)"
                    " SELECT count(*) FROM n"
                )
            except sqlite3.OperationalError as error:
                seen.append(str(error))
                raise

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await db.sqlite_writer(work)
    assert seen == ["interrupted"]
    async with db.transaction() as session:
        title = await session.scalar(
            select(OfferEvent.title).where(OfferEvent.id == uuid.UUID(event))
        )
    assert title != "half-written"


# The request budget (seconds) of the test below.
BUDGET = 4

SLOW_PAYLOAD = """
mutation($userId: UUID!, $eventId: UUID!) {
  enrollUserInOfferEvent(enrollment: {userId: $userId, offerEventId: $eventId}) {
    enrollment { id status offerEvent { contentTitle } }
  }
}"""


async def test_a_budget_spent_after_the_commit_is_not_answered_as_nothing_written(
    database_url: str, token: str, db: Database
) -> None:
    """A direct enrollment that commits, then runs out of the request's time budget while its
    payload is read, stands: the answer is the masked error (500), not 503's "nothing was
    written, retry", and the enrollment is there. The payload is held up after the commit:
    on PostgreSQL by a lock on the content table only the payload reads, on SQLite by the
    writer connection's trace hook pausing before the payload's statement."""
    # A budget the first (executor's) request keeps within on a loaded machine.
    app = create_app(
        settings_for(database_url, compiled_writes=True, request_timeout_seconds=BUDGET)
    )
    event = await make_event(db, capacity=None)
    users = await make_users(db, 2)
    try:
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
            body = {"query": SLOW_PAYLOAD, "variables": {"userId": users[0], "eventId": event}}
            headers = {"Authorization": f"Bearer {token}"}
            # The executor answers first: the document is known from then on.
            assert (await client.post("/graphql", json=body, headers=headers)).status_code == 200
            body["variables"]["userId"] = users[1]
            direct = ANSWERED["write"]
            async with _payload_held_up(app.state.db, db):
                response = await client.post("/graphql", json=body, headers=headers)
    finally:
        await app.state.db.dispose()
    assert response.status_code == 500, response.text
    assert "nothing was written" not in response.text
    assert ANSWERED["write"] == direct
    async with db.read_session() as session:
        statuses = await session.scalars(
            select(Enrollment.status).where(Enrollment.user_id == uuid.UUID(users[1]))
        )
        assert [status.value for status in statuses] == ["ENROLLED"]


@asynccontextmanager
async def _payload_held_up(db: Database, other: Database) -> AsyncIterator[None]:
    """``db``'s direct payloads held up past ``BUDGET``; ``other``: a database of longer
    timeouts, for PostgreSQL's lock (``db``'s would end the holding session after its own
    budget)."""
    if db.dialect == "postgresql":
        async with other.engine.connect() as holder:
            await holder.execute(text("LOCK TABLE offer_event_contents IN ACCESS EXCLUSIVE MODE"))
            yield
            await holder.rollback()
        return

    def pause(statement: str) -> None:
        if statement.startswith("SELECT ('{"):
            time.sleep(BUDGET + 1)

    await db.trace_sqlite_writer(pause)
    try:
        yield
    finally:
        await db.trace_sqlite_writer(None)
