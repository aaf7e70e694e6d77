"""Idempotency-Key on mutations (issue 13 item 7; IETF draft semantics): a retried mutation
with the same key runs once and its answer is replayed; a different request under the same
key is refused; concurrent duplicates, also on two server processes, never run twice; the
key, the mutation's effect and the stored answer commit together, so no crash leaves a
committed mutation without its answer."""

import asyncio
from datetime import timedelta

import httpx
import pytest
from httpx import AsyncClient
from sqlalchemy import func, select, update

from offerdesk.auth.scopes import ALL_SCOPES
from offerdesk.db import Database, utcnow
from offerdesk.idempotency import IdempotencyRecord
from offerdesk.offers.models import Offer

from .concurrency.servers import server_processes, servers
from .conftest import make_token
from .helpers import snapshot
from .test_enrollments import make_event, make_users
from .test_unavailable import app_client, assert_unavailable, idle_in_transaction, postgres_ref_lock

CREATE = 'mutation { createOffer(offer: {title: "%s"}) { offer { id title } } }'


async def post(
    client: AsyncClient, token: str, query: str, key: str | None = None, url: str = "/graphql"
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post(url, json={"query": query}, headers=headers)


async def offers(db: Database) -> list[str]:
    """The stored offers' titles, sorted."""
    async with db.read_session() as session:
        return sorted(await session.scalars(select(Offer.title)))


async def test_a_retry_with_the_same_key_replays_the_answer_and_runs_once(
    client: AsyncClient, token: str, db: Database
) -> None:
    first = await post(client, token, CREATE % "Once", "key-1")
    assert first.status_code == 200
    assert "errors" not in first.json()
    again = await post(client, token, CREATE % "Once", "key-1")
    assert again.status_code == 200
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len((await snapshot(db))["offers"]) == 1


async def test_the_same_key_for_another_request_is_refused(
    client: AsyncClient, token: str, db: Database
) -> None:
    assert (await post(client, token, CREATE % "First", "key-2")).status_code == 200
    before = await snapshot(db)
    other = await post(client, token, CREATE % "Second", "key-2")
    assert other.status_code == 422
    [error] = other.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "different request" in error["message"]
    assert await snapshot(db) == before


async def test_keys_belong_to_their_caller(client: AsyncClient, token: str, db: Database) -> None:
    other = await make_token(db, ALL_SCOPES)
    assert (await post(client, token, CREATE % "Mine", "shared")).status_code == 200
    theirs = await post(client, other, CREATE % "Theirs", "shared")
    assert theirs.status_code == 200
    assert "idempotent-replayed" not in theirs.headers
    assert len((await snapshot(db))["offers"]) == 2


async def test_without_a_key_a_retry_runs_again(
    client: AsyncClient, token: str, db: Database
) -> None:
    for _ in range(2):
        assert (await post(client, token, CREATE % "Twice")).status_code == 200
    assert len((await snapshot(db))["offers"]) == 2
    assert (await snapshot(db))["idempotency_keys"] == []


async def test_nothing_is_kept_for_queries_or_refused_mutations(
    client: AsyncClient, token: str, db: Database
) -> None:
    assert (await post(client, token, "query { offers { id } }", "q-key")).status_code == 200
    refused = await post(client, token, CREATE % "", "refused-key")
    assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await snapshot(db))["idempotency_keys"] == []
    # The refused one did nothing, so its key is free for a corrected request.
    fixed = await post(client, token, CREATE % "Fixed", "refused-key")
    assert "errors" not in fixed.json()


async def test_a_key_expires_after_24_hours(client: AsyncClient, token: str, db: Database) -> None:
    assert (await post(client, token, CREATE % "Old", "old-key")).status_code == 200
    async with db.transaction() as session:
        await session.execute(
            update(IdempotencyRecord).values(created_at=utcnow() - timedelta(hours=24, seconds=1))
        )
    again = await post(client, token, CREATE % "Old", "old-key")
    assert again.status_code == 200
    assert "idempotent-replayed" not in again.headers
    assert len((await snapshot(db))["offers"]) == 2


async def test_a_key_left_without_an_answer_by_an_older_version_is_never_run_again(
    client: AsyncClient, token: str, db: Database
) -> None:
    # The first release stored answers in a second transaction; a crash in between left such
    # rows. Whether their mutation ran is unknown, so they answer CONFLICT until they expire.
    assert (await post(client, token, CREATE % "Legacy", "legacy-key")).status_code == 200
    async with db.transaction() as session:
        await session.execute(update(IdempotencyRecord).values(status=None, body=None))
    again = await post(client, token, CREATE % "Legacy", "legacy-key")
    assert again.status_code == 409
    assert again.json()["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert await offers(db) == ["Legacy"]


async def test_a_malformed_key_is_refused(client: AsyncClient, token: str, db: Database) -> None:
    response = await post(client, token, CREATE % "Long key", "k" * 256)
    assert response.status_code == 400
    assert await offers(db) == []


async def test_concurrent_duplicates_on_two_processes_run_once(
    database_url: str, token: str, db: Database
) -> None:
    with servers(database_url, 2) as urls:
        async with httpx.AsyncClient(timeout=60) as http:
            answers = await asyncio.gather(
                *(
                    post(http, token, CREATE % "Concurrent", "storm-key", f"{urls[i % 2]}/graphql")
                    for i in range(12)
                )
            )
    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.content for answer in answers}) == 1
    assert sum("idempotent-replayed" in answer.headers for answer in answers) == 11
    assert len((await snapshot(db))["offers"]) == 1


async def test_the_body_size_limit_holds_with_a_key(
    client: AsyncClient, token: str, db: Database
) -> None:
    huge = CREATE % ("x" * 2_000_000)
    response = await post(client, token, huge, "big-key")
    assert response.status_code == 413
    assert (await snapshot(db))["idempotency_keys"] == []


async def test_a_mutation_whose_later_field_fails_keeps_the_earlier_field_and_its_answer(
    client: AsyncClient, token: str, db: Database
) -> None:
    # Each field is rolled back alone, as without a key; the answer stored is the one sent.
    both = (
        'mutation { a: createOffer(offer: {title: "Kept", ref: "dup"}) { offer { title } }'
        ' b: createOffer(offer: {title: "Refused", ref: "dup"}) { offer { title } } }'
    )
    first = await post(client, token, both, "two-fields")
    answer = first.json()
    assert answer["data"] == {"a": {"offer": {"title": "Kept"}}, "b": None}
    assert answer["errors"][0]["extensions"]["code"] == "CONFLICT"
    again = await post(client, token, both, "two-fields")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert await offers(db) == ["Kept"]


async def _null_answers(db: Database) -> tuple[int, int]:
    """(committed keys without an answer, committed keys), read in one snapshot."""
    async with db.read_session() as session:
        row = (
            await session.execute(
                select(
                    func.count().filter(IdempotencyRecord.status.is_(None)),
                    func.count(),
                )
            )
        ).one()
    return int(row[0]), int(row[1])


async def test_no_key_is_ever_committed_without_its_answer(
    database_url: str, token: str, db: Database
) -> None:
    """While a storm of keyed mutations runs, another connection never sees a committed key
    without its stored answer: the answer commits in the same transaction as the key and the
    mutation's effect. (Storing it after the answer was sent, as before, showed such keys.)"""
    keys = [f"watched-{index}" for index in range(60)]
    count = 2 if db.dialect == "postgresql" else 1
    seen: list[tuple[int, int]] = []
    with servers(database_url, count) as urls:
        async with httpx.AsyncClient(timeout=60) as http:
            storm = asyncio.gather(
                *(
                    post(http, token, CREATE % key, key, f"{urls[i % count]}/graphql")
                    for i, key in enumerate(keys)
                )
            )
            watching = True

            async def watch() -> None:
                while watching:
                    seen.append(await _null_answers(db))
                    await asyncio.sleep(0)

            watcher = asyncio.ensure_future(watch())
            answers = await storm
            watching = False
            await watcher
    assert {answer.status_code for answer in answers} == {200}
    assert all("errors" not in answer.json() for answer in answers)
    seen.append(await _null_answers(db))
    assert [nulls for nulls, _ in seen if nulls] == []
    # The watcher saw the storm under way, not only before and after it.
    assert any(0 < stored < len(keys) for _, stored in seen), seen[:: max(len(seen) // 20, 1)]
    assert await offers(db) == sorted(keys)


async def _send_again(url: str, token: str, keys: list[str]) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=60) as http:
        return await asyncio.gather(
            *(post(http, token, CREATE % key, key, f"{url}/graphql") for key in keys)
        )


async def test_after_a_server_is_killed_mid_storm_every_key_runs_exactly_once(
    database_url: str, token: str, db: Database
) -> None:
    """kill -9 while keyed mutations are in flight, then every request is sent again with its
    key: each is answered (replayed when it had committed, run when it had not), nothing is
    left without its answer, and every mutation took effect exactly once."""
    # Many more than the kill waits for, so that requests are still in flight when it comes.
    keys = [f"crash-{index}" for index in range(200)]
    kill_after = 20
    count = 2 if db.dialect == "postgresql" else 1
    answered: dict[str, bytes] = {}
    with server_processes(database_url, count) as started:
        victim = started[0][1]
        targets = [url for url, _ in started]
        async with httpx.AsyncClient(timeout=60) as http:

            async def one(index: int, key: str) -> None:
                url = f"{targets[index % count]}/graphql"
                try:
                    response = await post(http, token, CREATE % key, key, url)
                except httpx.TransportError:
                    return
                answered[key] = response.content
                if len(answered) >= kill_after and victim.poll() is None:
                    victim.kill()

            await asyncio.gather(*(one(i, key) for i, key in enumerate(keys)))
        victim.wait(timeout=10)
        assert victim.returncode != 0, "the server was not killed"
        assert len(answered) < len(keys), "the kill came after every answer: it proved nothing"
        nulls, _ = await _null_answers(db)
        assert nulls == 0
        survivors = [url for url, process in started if process.poll() is None]
        if survivors:
            retries = await _send_again(survivors[0], token, keys)
        else:
            # SQLite: the only process is gone; a new one takes over the same file.
            with servers(database_url, 1) as restarted:
                retries = await _send_again(restarted[0], token, keys)
    for key, retry in zip(keys, retries, strict=True):
        assert retry.status_code == 200, (key, retry.text)
        assert "errors" not in retry.json(), (key, retry.text)
        if key in answered:
            assert retry.headers.get("idempotent-replayed") == "true"
            assert retry.content == answered[key]
    assert await offers(db) == sorted(keys)


ENROLL = """mutation($userId: UUID!, $eventId: UUID!) {
  enrollUserInOfferEvent(enrollment: {userId: $userId, offerEventId: $eventId}) {
    enrollment { status offerEvent { enrolledCount spotsAvailable } }
  }
}"""
UNENROLL = """mutation($userId: UUID!, $eventId: UUID!) {
  unenrollUserFromOfferEvent(userId: $userId, offerEventId: $eventId) { success }
}"""


async def test_keyed_enrollments_run_once_and_a_refused_one_keeps_no_key(
    client: AsyncClient, token: str, db: Database
) -> None:
    # On PostgreSQL the enrollment functions then run in the request's transaction, and the
    # payload (read in it) already counts the seat the call took.
    event = await make_event(db, capacity=1, waiting_list=False)
    first, second = await make_users(db, 2)

    async def keyed(query: str, user: str, key: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        body = {"query": query, "variables": {"userId": user, "eventId": event}}
        return await client.post("/graphql", json=body, headers=headers)

    enrolled = await keyed(ENROLL, first, "enroll-first")
    assert enrolled.json()["data"]["enrollUserInOfferEvent"]["enrollment"] == {
        "status": "ENROLLED",
        "offerEvent": {"enrolledCount": 1, "spotsAvailable": 0},
    }
    replayed = await keyed(ENROLL, first, "enroll-first")
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.content == enrolled.content
    full = await keyed(ENROLL, second, "enroll-second")
    assert full.json()["errors"][0]["extensions"]["code"] == "EVENT_FULL"
    assert [row[1] for row in (await snapshot(db))["idempotency_keys"]] == ["enroll-first"]
    left = await keyed(UNENROLL, first, "leave-first")
    assert left.json() == {"data": {"unenrollUserFromOfferEvent": {"success": True}}}
    # The refused call stored nothing, so its key now runs.
    now = await keyed(ENROLL, second, "enroll-second")
    assert "idempotent-replayed" not in now.headers
    assert now.json()["data"]["enrollUserInOfferEvent"]["enrollment"]["status"] == "ENROLLED"


# SQLite's one writer: from its first field on, a keyed request holds the only write lock, so
# nothing else can hold up its second field; PostgreSQL's row and advisory locks can.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_keyed_request_past_its_budget_undoes_every_field(database_url: str) -> None:
    """The first field succeeded, the second waited past the budget: 503, and nothing of the
    request stands (it was one transaction), so the retry with the same key runs it all."""
    both = (
        'mutation { a: createOffer(offer: {title: "Free"}) { offer { title } }'
        ' b: createOffer(offer: {title: "Held", ref: "held"}) { offer { title } } }'
    )
    keyed = {"Idempotency-Key": "over-budget"}
    async with app_client(database_url, request_timeout_seconds=2) as client:
        async with postgres_ref_lock(database_url):
            response = await client.post("/graphql", json={"query": both}, headers=keyed)
        assert_unavailable(response)
        assert await idle_in_transaction(database_url) == 0
        listed = await client.post("/graphql", json={"query": "{ offers { title } }"})
        assert listed.json() == {"data": {"offers": []}}
        again = await client.post("/graphql", json={"query": both}, headers=keyed)
        assert "idempotent-replayed" not in again.headers
        assert again.json() == {
            "data": {"a": {"offer": {"title": "Free"}}, "b": {"offer": {"title": "Held"}}}
        }
