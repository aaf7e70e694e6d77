"""Every per-process cache holds at most what its setting says (issue 15, item 7).

Measured with tracemalloc, not trusted from the caches' own counts: before, the compiled plans
(512 by count) and SQLAlchemy's compiled cache (500 by count) kept 0.1-1 MiB per distinct
document, so a stream of distinct documents grew a worker by hundreds of megabytes whatever
the settings said. Each test fills the caches to their bounds first, then sends as many
distinct documents again: what the process holds may not grow by more than the bounds allow.
"""

import gc
import sys
import tracemalloc
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette

from offerdesk.graphql.cache import ResponseCache, compact
from offerdesk.graphql.documents import DocumentCache

from .helpers import Api

MIB = 1024 * 1024
CATALOGUE = (
    "{ %s: offers { id title offerEvents { id title spotsAvailable dates { start end } } } }"
)


async def _seed(api: Api) -> None:
    for index in range(3):
        created = await api.data(
            "mutation($t: String!) { createOffer(offer: {title: $t}) { offer { id } } }",
            {"t": f"O{index}"},
        )
        offer = created["createOffer"]["offer"]["id"]
        await api.data(
            'mutation($o: UUID!) { createOfferEvent(offerEvent: {offerId: $o, title: "E",'
            ' dates: [{start: "2030-01-01T09:00:00Z", end: "2030-01-01T10:00:00Z"}]})'
            " { offerEvent { id } } }",
            {"o": offer},
        )


async def _distinct_documents(api: Api, first: int, count: int) -> None:
    for index in range(first, first + count):
        # Twice: the response cache stores a query from its second appearance.
        for _ in range(2):
            answer = await api(CATALOGUE % f"q{index}")
            assert len(answer["data"][f"q{index}"]) == 3, answer


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {"response_cache_mb": 1, "document_cache_mb": 1, "plan_cache_mb": 2}


async def test_distinct_documents_grow_a_process_only_up_to_its_cache_settings(
    api: Api, app: Starlette
) -> None:
    await _seed(api)
    # Enough distinct documents to fill the plans' and documents' bounds (a plan of this
    # document holds some 400 KiB, a document some 25 KiB).
    await _distinct_documents(api, 0, 60)
    answers = app.state.response_cache
    stored = answers.bytes
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        await _distinct_documents(api, 60, 60)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    schema = app.state.schema
    assert schema.plans._plans.bytes <= 2 * MIB
    assert schema.documents.bytes <= MIB
    assert answers.bytes <= MIB
    print(
        f"\n60 more distinct documents: {grown / MIB:.2f} MiB held,"
        f" {(answers.bytes - stored) / MIB:.2f} MiB of it new answers",
        file=sys.stderr,
    )
    # Plans and documents are full already: what they take in, they give back; the answers
    # (1 KiB each) still fit. Before, each of these documents kept some 400 KiB (24 MiB here).
    # The slack is for what the drivers keep per statement text, by count (sqlite3 128
    # prepared statements per connection, SQLAlchemy's asyncpg adapter 100): 2 MiB measured.
    assert grown < answers.bytes - stored + 3 * MIB


def test_a_document_cache_keeps_documents_within_its_bytes() -> None:
    cache = DocumentCache(max_bytes=256 * 1024)
    for index in range(200):
        document = cache.parsed(f"{{ offer{index}: offers {{ id title }} }}", {})
        assert document.tree.definitions
    assert cache.bytes <= 256 * 1024
    assert 0 < len(cache) < 200
    # A document larger than the whole bound is parsed, and not kept.
    huge = '{ offers(search: "%s") { id } }' % ("x" * 100_000)
    assert cache.parsed(huge, {}).tree.definitions
    assert cache.parsed(huge, {}) is not cache.parsed(huge, {})


def test_the_response_cache_counts_at_least_what_its_entries_hold() -> None:
    """Keys and answers are counted as the objects they are (each request brings its own
    document text, variables and scopes), never less."""
    cache = ResponseCache(max_bytes=64 * MIB)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for index in range(2000):
            key = (
                "".join(["{ offers { id title } } # ", str(index)]),
                None,
                compact(orjson.dumps({"x": index})),
                frozenset({"events.read", "users.read", f"s{index}"}),
            )
            cache.put(key, "1", {"offers": [{"id": str(index), "title": "t" * (index % 500)}]})
        # The cache is now the only holder of the keys' parts.
        del key
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(cache) == 2000
    assert held <= cache.bytes <= 1.5 * held, (held, cache.bytes)
