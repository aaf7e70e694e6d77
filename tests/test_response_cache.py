"""The response cache (graphql/cache.py): repeated queries are answered without reading their
data again, and never with an answer from before a committed write, in this process or another.

Statements are counted with ``count_statements``: an answer from the cache runs the token
look-up and the data version, but no statement on the data's table.
"""

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette

from offerdesk.app import create_app
from offerdesk.auth.scopes import Scope
from offerdesk.db import Database
from offerdesk.events.models import OfferEvent
from offerdesk.graphql.cache import CacheKey, ResponseCache
from offerdesk.graphql.direct import ANSWERED
from offerdesk.offers import service as offers_service
from offerdesk.offers.models import Offer

from .concurrency.servers import servers
from .conftest import make_token, settings_for
from .helpers import Api, count_statements
from .test_enrollments import make_event, make_users

OFFERS = "{ offers { id title } }"
OFFER_BY_ID = "query($id: UUID!) { offer(id: $id) { title } }"
CREATE_OFFER = (
    "mutation ($offer: CreateOfferInput!) { createOffer(offer: $offer) { offer { id title } } }"
)
RENAME_OFFER = (
    "mutation ($id: UUID!, $title: String!) "
    "{ updateOffer(id: $id, offer: {title: $title}) { offer { id title } } }"
)
ENROLL = """
mutation($userId: UUID!, $eventId: UUID!) {
  enrollUserInOfferEvent(enrollment: {userId: $userId, offerEventId: $eventId}) {
    enrollment { id status }
  }
}"""
EVENT_STATE = """
query($id: UUID!) {
  offerEvent(id: $id) { maxParticipants spotsAvailable enrolledCount waitlistedCount }
}"""

_FROM_OFFERS = re.compile(r"\bFROM offers\b", re.IGNORECASE)


def offers_reads(statements: list[str]) -> list[str]:
    """The statements that read the offers table."""
    return [statement for statement in statements if _FROM_OFFERS.search(statement)]


async def counted(
    api: Api, db: Database, query: str, variables: dict[str, Any] | None = None, **kw: Any
) -> tuple[dict[str, Any], list[str]]:
    """The JSON answer and the statements the request ran."""
    async with count_statements(db) as statements:
        answer = await api(query, variables, **kw)
    return answer, list(statements)


async def create_offer(api: Api, title: str) -> str:
    data = await api.data(CREATE_OFFER, {"offer": {"title": title}})
    return str(data["createOffer"]["offer"]["id"])


async def cache_offers(api: Api, db: Database) -> dict[str, Any]:
    """Sends OFFERS three times; checks the third came from the cache; returns the answer."""
    answers = []
    for attempt in range(3):
        answer, statements = await counted(api, db, OFFERS)
        assert "errors" not in answer, answer
        answers.append(answer)
        if attempt < 2:
            assert offers_reads(statements), f"request {attempt + 1} did not read the offers"
        else:
            assert offers_reads(statements) == [], statements
    assert answers[0] == answers[1] == answers[2]
    return answers[2]


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    """The cache as the executor uses it (compiled reads off), where reading the data is a
    statement of its own; the compiled path reads the version in its one statement, and is
    tested at the end of this module."""
    return {"compiled_reads": False}


@pytest.fixture
async def second_app(database_url: str) -> AsyncIterator[Starlette]:
    """Another app on the same database: another worker process's cache, in this process."""
    application = create_app(settings_for(database_url, compiled_reads=False))
    yield application
    await application.state.db.dispose()


async def client_of(application: Starlette) -> AsyncClient:
    return AsyncClient(transport=ASGITransport(app=application), base_url="http://test")


# --- through the API, one process ------------------------------------------------------------


async def test_a_repeated_query_is_answered_from_the_cache(api: Api, db: Database) -> None:
    offer_id = await create_offer(api, "Onboarding")
    answer = await cache_offers(api, db)
    assert answer == {"data": {"offers": [{"id": offer_id, "title": "Onboarding"}]}}


async def test_a_write_through_the_api_is_seen_by_the_next_query(api: Api, db: Database) -> None:
    offer_id = await create_offer(api, "Onboarding")
    await cache_offers(api, db)

    await api.data(RENAME_OFFER, {"id": offer_id, "title": "Induction"})

    answer, statements = await counted(api, db, OFFERS)
    assert answer == {"data": {"offers": [{"id": offer_id, "title": "Induction"}]}}
    assert offers_reads(statements)


async def test_a_write_through_another_app_is_seen_by_the_next_query(
    api: Api, db: Database, token: str, second_app: Starlette
) -> None:
    offer_id = await create_offer(api, "Onboarding")
    await cache_offers(api, db)

    async with await client_of(second_app) as other:
        other_api = Api(other, token)
        renamed = await other_api.data(RENAME_OFFER, {"id": offer_id, "title": "Induction"})
    assert renamed["updateOffer"]["offer"]["title"] == "Induction"

    answer, statements = await counted(api, db, OFFERS)
    assert answer == {"data": {"offers": [{"id": offer_id, "title": "Induction"}]}}
    assert offers_reads(statements)


async def test_scopes_are_part_of_the_key(api: Api, db: Database) -> None:
    # Issuing a token is a write (it moves the data version): both come before the caching.
    users_only = await make_token(db, frozenset({Scope.USERS_READ}))
    same_scopes = await make_token(db)
    assert same_scopes != api.token
    offer_id = await create_offer(api, "Onboarding")
    cached = await cache_offers(api, db)

    for _ in range(3):
        refused, statements = await counted(api, db, OFFERS, token=users_only)
        assert refused.get("data") is None, refused
        assert [error["extensions"]["code"] for error in refused["errors"]] == ["FORBIDDEN"]
        assert offers_reads(statements) == []

    # Another token with the very same scopes (all of them) shares the answer.
    answer, statements = await counted(api, db, OFFERS, token=same_scopes)
    assert answer == cached == {"data": {"offers": [{"id": offer_id, "title": "Onboarding"}]}}
    assert offers_reads(statements) == [], statements


async def test_variables_are_part_of_the_key(api: Api, db: Database) -> None:
    titles = {await create_offer(api, title): title for title in ("Onboarding", "Induction")}
    for offer_id, title in titles.items():
        for attempt in range(3):
            answer, statements = await counted(api, db, OFFER_BY_ID, {"id": offer_id})
            assert answer == {"data": {"offer": {"title": title}}}, (attempt, answer)
            assert bool(offers_reads(statements)) == (attempt < 2), (attempt, statements)
    # Once both are cached, each id still gets its own answer.
    for offer_id, title in titles.items():
        answer, statements = await counted(api, db, OFFER_BY_ID, {"id": offer_id})
        assert answer == {"data": {"offer": {"title": title}}}
        assert offers_reads(statements) == []


async def test_mutations_are_never_answered_from_the_cache(
    api: Api, db: Database, app: Starlette
) -> None:
    variables = {"offer": {"title": "Onboarding"}}
    ids = []
    for _ in range(3):
        data = await api.data(CREATE_OFFER, variables)
        ids.append(data["createOffer"]["offer"]["id"])
    assert len(set(ids)) == 3
    # Each mutation moves the data version, so a stored answer could not be served anyway:
    # what shows that none was stored is the cache itself.
    assert len(app.state.response_cache) == 0
    async with db.read_session() as session:
        stored = set(map(str, await session.scalars(select(Offer.id))))
    assert stored == set(ids)
    listed = await api.data(OFFERS)
    assert sorted(offer["id"] for offer in listed["offers"]) == sorted(ids)


async def test_answers_with_errors_are_not_stored(api: Api, db: Database, app: Starlette) -> None:
    offer_id = await create_offer(api, "Onboarding")
    # The offers answer, the user field is FORBIDDEN: a partial answer with an error.
    query = 'query { offers { id title } user(email: "nobody@example.org") { id } }'
    events_only = await make_token(db, frozenset({Scope.EVENTS_READ}))
    for attempt in range(4):
        answer, statements = await counted(api, db, query, token=events_only)
        assert answer["data"] == {"offers": [{"id": offer_id, "title": "Onboarding"}], "user": None}
        assert [error["extensions"]["code"] for error in answer["errors"]] == ["FORBIDDEN"]
        assert offers_reads(statements), (attempt, statements)
    assert len(app.state.response_cache) == 0


async def test_a_cache_of_zero_megabytes_is_off(database_url: str, token: str) -> None:
    application = create_app(settings_for(database_url, response_cache_mb=0))
    try:
        assert application.state.response_cache is None
        async with await client_of(application) as http:
            api = Api(http, token)
            db: Database = application.state.db
            await create_offer(api, "Onboarding")
            for attempt in range(4):
                answer, statements = await counted(api, db, OFFERS)
                assert answer["data"]["offers"][0]["title"] == "Onboarding"
                assert offers_reads(statements), (attempt, statements)
    finally:
        await application.state.db.dispose()


# --- the compiled path: the version read in the answer's own statement ----------------------


@pytest.fixture
async def compiled(database_url: str, token: str) -> AsyncIterator[tuple[Api, Starlette]]:
    """An app with compiled reads (the default) on the module's database, and its caller."""
    application = create_app(settings_for(database_url, compiled_reads=True))
    async with await client_of(application) as http:
        yield Api(http, token), application
    await application.state.db.dispose()


async def test_a_compiled_query_is_answered_from_the_cache_in_its_one_statement(
    api: Api, compiled: tuple[Api, Starlette]
) -> None:
    compiled_api, application = compiled
    db: Database = application.state.db
    offer_id = await create_offer(api, "Onboarding")
    want = {"data": {"offers": [{"id": offer_id, "title": "Onboarding"}]}}
    # The first request compiles the document (the full path); from the second on, the token,
    # the data version and (when it changed) the answer come from one statement.
    for attempt in range(3):
        answer, statements = await counted(compiled_api, db, OFFERS)
        assert answer == want, attempt
        if attempt:
            assert len(statements) == 1, (attempt, statements)
    # What the third request sent was the stored answer: replace it (same version) and the
    # next request gets the replacement, still in one statement.
    cache: ResponseCache = application.state.response_cache
    stored = key(OFFERS)
    version = cache.version(stored)
    assert version is not None
    cache.put_encoded(stored, version, b'{"offers":"from the cache"}')
    answer, statements = await counted(compiled_api, db, OFFERS)
    assert answer == {"data": {"offers": "from the cache"}}
    assert len(statements) == 1, statements


async def test_a_write_is_seen_by_the_next_compiled_query(
    api: Api, compiled: tuple[Api, Starlette]
) -> None:
    compiled_api, application = compiled
    offer_id = await create_offer(api, "Onboarding")
    for _ in range(3):
        await compiled_api.data(OFFERS)
    assert len(application.state.response_cache) == 1

    # Through the other app: this process's cache learns of it only by the data version.
    await api.data(RENAME_OFFER, {"id": offer_id, "title": "Induction"})

    answer = await compiled_api(OFFERS)
    assert answer == {"data": {"offers": [{"id": offer_id, "title": "Induction"}]}}


EVENT_COUNT = "query($id: UUID!) { offerEvent(id: $id) { enrolledCount } }"


async def test_a_direct_enrollment_is_seen_by_the_next_cached_query(
    compiled: tuple[Api, Starlette],
) -> None:
    """graphql/direct.py's enrollments (compiled writes, both engines) move the data version:
    an event's count, stored in this process's cache before each, is read again after it."""
    compiled_api, application = compiled
    db: Database = application.state.db
    event = await make_event(db, capacity=None)
    users = await make_users(db, 4)
    direct = ANSWERED["write"]
    for enrolled, user in enumerate(users):
        for _ in range(3):
            answer = await compiled_api.data(EVENT_COUNT, {"id": event})
            assert answer["offerEvent"]["enrolledCount"] == enrolled
        await compiled_api.data(ENROLL, {"userId": user, "eventId": event})
    answer = await compiled_api.data(EVENT_COUNT, {"id": event})
    assert answer["offerEvent"]["enrolledCount"] == len(users)
    # At least every enrollment after the first went direct (the first made the document
    # known, unless an earlier test of this process had).
    assert ANSWERED["write"] - direct >= len(users) - 1


async def test_a_stored_compiled_answer_is_not_served_without_its_scope(
    api: Api, db: Database, compiled: tuple[Api, Starlette]
) -> None:
    users_only = await make_token(db, frozenset({Scope.USERS_READ}))
    compiled_api, application = compiled
    await create_offer(api, "Onboarding")
    for _ in range(3):
        await compiled_api.data(OFFERS)
    assert len(application.state.response_cache) == 1
    refused = await compiled_api(OFFERS, token=users_only)
    assert refused.get("data") is None, refused
    assert [error["extensions"]["code"] for error in refused["errors"]] == ["FORBIDDEN"]


# --- the data version ------------------------------------------------------------------------


async def version_of(db: Database) -> int:
    async with db.read_session() as session:
        return await db.data_version(session)


async def write_then_fail(db: Database) -> None:
    async with db.transaction() as session:
        await offers_service.create(session, {"title": "Dropped"})
        await session.flush()
        raise RuntimeError("changed my mind")


async def test_a_committed_transaction_changes_the_data_version(db: Database) -> None:
    before = await version_of(db)
    async with db.transaction() as session:
        await offers_service.create(session, {"title": "Kept"})
    committed = await version_of(db)
    assert committed != before

    with pytest.raises(RuntimeError, match="changed my mind"):
        await write_then_fail(db)
    if db.dialect == "sqlite":
        # user_version is written with the transaction. (On PostgreSQL the rolled-back writer
        # took a transaction id, so later snapshots differ: a cache miss, never stale.)
        assert await version_of(db) == committed
    async with db.read_session() as session:
        assert list(await session.scalars(select(Offer.title))) == ["Kept"]

    async with db.transaction() as session:
        await offers_service.create(session, {"title": "Also kept"})
    assert await version_of(db) not in (before, committed)


# --- real server processes -------------------------------------------------------------------


async def test_a_write_in_one_process_is_seen_at_once_by_both(
    db: Database, database_url: str
) -> None:
    """Read after write across processes: once an enrollment through server A is answered,
    neither A nor B answers from before it. Two processes on SQLite too: the requests here
    are sequential, so they never wait for the write lock."""
    capacity = 5
    event = await make_event(db, capacity=capacity - 1, waiting_list=True)
    users = await make_users(db, 10)
    token = await make_token(db)
    headers = {"Authorization": f"Bearer {token}"}
    with servers(database_url, 2) as (server_a, server_b):
        async with httpx.AsyncClient(timeout=60, headers=headers) as http:

            async def state(url: str) -> dict[str, Any]:
                body = {"query": EVENT_STATE, "variables": {"id": event}}
                answer: dict[str, Any] = (await http.post(f"{url}/graphql", json=body)).json()
                assert "errors" not in answer, answer
                result: dict[str, Any] = answer["data"]["offerEvent"]
                return result

            empty = {
                "maxParticipants": capacity - 1,
                "spotsAvailable": capacity - 1,
                "enrolledCount": 0,
                "waitlistedCount": 0,
            }
            for url in (server_a, server_b):
                for _ in range(3):
                    assert await state(url) == empty

            # A write that does not go through Database.transaction (another program).
            engine = create_async_engine(database_url)
            try:
                async with engine.begin() as connection:
                    changed = await connection.execute(
                        update(OfferEvent)
                        .where(OfferEvent.id == uuid.UUID(event))
                        .values(max_participants=capacity)
                    )
                    assert changed.rowcount == 1
            finally:
                await engine.dispose()
            if db.dialect == "sqlite":
                # Control: it leaves SQLite's data version alone, so both servers, answering
                # from their caches, do not see it (docs/api.md says so).
                for url in (server_a, server_b):
                    assert await state(url) == empty, f"{url} did not answer from its cache"
            else:
                # PostgreSQL's data version is the snapshot, which any write changes: both
                # servers see even this one at once.
                raised = {**empty, "maxParticipants": capacity, "spotsAvailable": capacity}
                for url in (server_a, server_b):
                    assert await state(url) == raised, f"{url} answered from before the write"

            for count, user in enumerate(users, start=1):
                response = await http.post(
                    f"{server_a}/graphql",
                    json={"query": ENROLL, "variables": {"userId": user, "eventId": event}},
                )
                answer = response.json()
                assert "errors" not in answer, answer
                enrolled = min(count, capacity)
                expected = {
                    "maxParticipants": capacity,
                    "spotsAvailable": capacity - enrolled,
                    "enrolledCount": enrolled,
                    "waitlistedCount": count - enrolled,
                }
                assert await state(server_b) == expected, f"B after enrollment {count}"
                assert await state(server_a) == expected, f"A after enrollment {count}"


# --- ResponseCache on its own (no database) --------------------------------------------------


def key(query: str = "{ offers { id } }", variables: bytes = b"{}") -> CacheKey:
    return (query, None, variables, frozenset({"events.read"}))


def size_of(cache_key: CacheKey, data: dict[str, Any]) -> int:
    """What an entry counts against max_bytes (measured with a cache of its own)."""
    probe = ResponseCache(max_bytes=1 << 20)
    probe.put(cache_key, 1, data)
    return probe.bytes


def test_a_key_is_admitted_from_its_second_appearance() -> None:
    cache = ResponseCache(max_bytes=1 << 20)
    assert cache.admit(key("{ a }")) is False
    assert cache.admit(key("{ b }")) is False
    assert cache.admit(key("{ a }")) is True
    assert cache.admit(key("{ a }", b'{"x":1}')) is False


def test_the_least_recently_used_answer_goes_first_when_the_bytes_run_out() -> None:
    keys = [key(f"{{ q{index} }}") for index in range(4)]
    data = {"offers": [{"id": "x" * 100}]}
    sizes = {size_of(cache_key, data) for cache_key in keys}
    [size] = sizes
    cache = ResponseCache(max_bytes=3 * size)
    for cache_key in keys[:3]:
        cache.put(cache_key, 1, data)
    assert len(cache) == 3
    assert cache.get(keys[0], 1) == orjson.dumps(data)  # read: now the most recently used

    cache.put(keys[3], 1, data)

    assert len(cache) == 3
    assert cache.get(keys[1], 1) is None
    for cache_key in (keys[0], keys[2], keys[3]):
        assert cache.get(cache_key, 1) == orjson.dumps(data)


def test_an_answer_stored_under_another_version_is_not_returned() -> None:
    cache = ResponseCache(max_bytes=1 << 20)
    cache.put(key(), "7", {"offers": []})
    assert cache.get(key(), "7") == b'{"offers":[]}'
    assert cache.get(key(), "8") is None
    assert cache.get(key("{ other }"), "7") is None


def test_an_answer_bigger_than_the_whole_cache_is_not_stored() -> None:
    small: dict[str, Any] = {"offers": []}
    big = {"offers": [{"id": "x" * 1000}]}
    cache = ResponseCache(max_bytes=size_of(key("{ small }"), small) + 100)
    cache.put(key("{ small }"), "1", small)
    cache.put(key("{ big }"), "1", big)
    assert cache.get(key("{ big }"), "1") is None
    # Nothing was evicted to make room for it either.
    assert cache.get(key("{ small }"), "1") == orjson.dumps(small)
    assert len(cache) == 1
