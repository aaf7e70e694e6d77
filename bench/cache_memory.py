"""The caches' memory bounds, measured (issue 15, item 7; figures in bench/MEMORY.md).

One in-process app on a fresh SQLite database with 20 offers of 3 events (a 16 KB answer of
many small fields, like a catalogue page). N distinct queries are each sent twice, so that
every one is stored (the response cache admits a query from its second appearance):

* ``variables``: one document, an unused variable different each time: only the response
  cache sees new entries;
* ``documents``: a different alias each time: a new document, so the document cache and the
  compiled plans see new entries too.

Prints the process's RSS after the data was loaded, at the end and at its peak (VmHWM), and
what each cache counts against its bound:

    .venv/bin/python -m bench.cache_memory --cache-mb 64 --distinct 100000 --mode variables
"""

import argparse
import asyncio
import gc
import logging
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
    "{ %s: offers { id title isActive offerEvents"
    " { id title spotsAvailable enrolledCount dates { start end } } } }"
)


def status_mib(field: str) -> int:
    """A ``/proc/self/status`` figure (``VmRSS``, ``VmHWM``) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) // 1024
    return 0


def mib(value: int) -> str:
    return f"{value / 2**20:.1f}"


async def measure(url: str, cache_mib: int, distinct: int, mode: str) -> str:
    app = create_app(Settings(database_url=url, response_cache_mb=cache_mib))
    # The access log would be most of the work (and of the output).
    logging.disable(logging.INFO)
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
        before = status_mib("VmRSS")
        began = time.perf_counter()
        size = 0
        for index in range(distinct):
            alias = f"o{index}" if mode == "documents" else "offers"
            for _ in range(2):  # stored from its second appearance
                response = await client.post(
                    "/graphql", json={"query": QUERY % alias, "variables": {"x": index}}
                )
            size = len(response.content)
        gc.collect()
        cache = app.state.response_cache
        schema = app.state.schema
        counted = (
            f"response cache {len(cache) if cache else 0} entries / "
            f"{mib(cache.bytes if cache else 0)} MiB,"
            f" plans {len(schema.plans)} / {mib(schema.plans._plans.bytes)} MiB,"
            f" documents {len(schema.documents)} / {mib(schema.documents.bytes)} MiB"
        )
    await app.state.db.dispose()
    return (
        f"{mode}, cache {cache_mib} MiB, {distinct} distinct queries x 2 ({size} B answers):"
        f" RSS {before} -> {status_mib('VmRSS')} MiB (peak {status_mib('VmHWM')});"
        f" counted: {counted}; {time.perf_counter() - began:.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-mb", type=int, default=64, help="OFFERDESK_RESPONSE_CACHE_MB")
    parser.add_argument("--distinct", type=int, default=100_000)
    parser.add_argument("--mode", choices=["variables", "documents"], default="variables")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{directory}/offerdesk.db"
        upgrade(url)
        print(asyncio.run(measure(url, arguments.cache_mb, arguments.distinct, arguments.mode)))


if __name__ == "__main__":
    main()
