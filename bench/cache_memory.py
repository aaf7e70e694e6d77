"""The response cache's memory bound, measured (issue 15, item 7).

One in-process app on a fresh SQLite database with 20 offers of 3 events (a 16 KB answer of
many small fields, like a catalogue page); N distinct queries (an undeclared variable makes
each its own cache key) are each sent twice, so that every one is stored. Prints the process's
RSS before and after against what the cache counts:

    .venv/bin/python -m bench.cache_memory 64 5500
"""

import asyncio
import gc
import sys
import tempfile
import time
from pathlib import Path

from httpx import ASGITransport, AsyncClient

from offerdesk.app import create_app, tune_gc
from offerdesk.auth.scopes import ALL_SCOPES
from offerdesk.auth.service import issue_token
from offerdesk.config import Settings
from offerdesk.migrate import upgrade

CREATE_OFFER = "mutation($t: String!) { createOffer(offer: {title: $t}) { offer { id } } }"
CREATE_EVENT = (
    'mutation($o: UUID!) { createOfferEvent(offerEvent: {offerId: $o, title: "Event",'
    ' maxParticipants: 10, dates: [{start: "2030-01-01T09:00:00Z",'
    ' end: "2030-01-01T10:00:00Z"}, {start: "2030-01-02T09:00:00Z",'
    ' end: "2030-01-02T10:00:00Z"}]}) { offerEvent { id } } }'
)
QUERY = (
    "{ offers { id title isActive offerEvents"
    " { id title spotsAvailable enrolledCount dates { start end } } } }"
)


def rss_mib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


async def measure(url: str, cache_mib: int, distinct: int) -> str:
    app = create_app(Settings(database_url=url, response_cache_mb=cache_mib))
    tune_gc()
    async with app.state.db.transaction() as session:
        token = (await issue_token(session, ALL_SCOPES, 3600)).token
    headers = {"Authorization": f"Bearer {token}"}
    transport = ASGITransport(app=app)
    async with AsyncClient(transport=transport, base_url="http://t", headers=headers) as client:
        for index in range(20):
            answer = await client.post(
                "/graphql", json={"query": CREATE_OFFER, "variables": {"t": f"Offer {index}"}}
            )
            offer = answer.json()["data"]["createOffer"]["offer"]["id"]
            for _ in range(3):
                await client.post(
                    "/graphql", json={"query": CREATE_EVENT, "variables": {"o": offer}}
                )
        before = rss_mib()
        began = time.perf_counter()
        size = 0
        for index in range(distinct):
            for _ in range(2):  # stored from its second appearance
                response = await client.post(
                    "/graphql", json={"query": QUERY, "variables": {"x": index}}
                )
            size = len(response.content)
        gc.collect()
        cache = app.state.response_cache
        entries = len(cache) if cache is not None else 0
        counted = cache._bytes / 2**20 if cache is not None else 0.0
    await app.state.db.dispose()
    return (
        f"cache {cache_mib} MiB, {distinct} distinct queries x 2 ({size} B answers):"
        f" RSS {before} -> {rss_mib()} MiB, {entries} entries counting {counted:.1f} MiB,"
        f" {time.perf_counter() - began:.0f} s"
    )


def main() -> None:
    cache_mib, distinct = int(sys.argv[1]), int(sys.argv[2])
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{directory}/offerdesk.db"
        upgrade(url)
        print(asyncio.run(measure(url, cache_mib, distinct)))


if __name__ == "__main__":
    main()
