"""Idempotency-Key on mutations (issue 13 item 7; IETF draft semantics): a retried mutation
with the same key runs once and its answer is replayed; a different request under the same
key is refused; concurrent duplicates, also on two server processes, never run twice."""

import asyncio
from datetime import timedelta

import httpx
from httpx import AsyncClient
from sqlalchemy import update

from offerdesk.auth.scopes import ALL_SCOPES
from offerdesk.db import Database, utcnow
from offerdesk.idempotency import IdempotencyRecord

from .concurrency.servers import servers
from .conftest import make_token
from .helpers import snapshot

CREATE = 'mutation { createOffer(offer: {title: "%s"}) { offer { id title } } }'


async def post(
    client: AsyncClient, token: str, query: str, key: str | None = None, url: str = "/graphql"
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post(url, json={"query": query}, headers=headers)


async def offers(db: Database) -> list[str]:
    return [row[-1] for row in (await snapshot(db))["offers"]]


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
