"""Related objects are read through DataLoaders: the SQL a request runs depends on the shape of
the query, never on how many rows it answers (DESIGN.md, "Reads of related objects")."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from offerdesk.content import service as content_service
from offerdesk.content.models import ContentType
from offerdesk.db import Database
from offerdesk.events import service as events_service
from offerdesk.offers import service as offers_service

from .helpers import Api, count_statements


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    # These tests count the statements the executor's DataLoaders run when a query is
    # computed: the response cache is off, and so are compiled reads (one statement whatever
    # the shape: tests/test_compiled_reads.py, tests/test_response_cache.py).
    return {"response_cache_mb": 0, "compiled_reads": False}


EVENTS_PER_OFFER = 3
DATES_PER_EVENT = 3

OFFERS_QUERY = "{ offers { offerEvents { dates { start end } contentTitle spotsAvailable } } }"
PAGINATED_QUERY = """{ paginatedOffers(first: 50) { edges { node { offerEvents {
    title offer { title } contentItems { title } dates { start } } } } } }"""


async def seed_offers(db: Database, count: int) -> None:
    """``count`` offers, each with several events, each with several dates and two content items."""
    base = datetime(2025, 9, 1, 9, tzinfo=UTC)
    async with db.transaction() as session:
        for o in range(count):
            offer = await offers_service.create(session, {"title": f"Offer {o}"})
            for e in range(EVENTS_PER_OFFER):
                training = await content_service.create(
                    session, {"type": ContentType.TRAINING, "title": f"Training {o}.{e}"}
                )
                video = await content_service.create(
                    session, {"type": ContentType.VIDEO, "title": f"Video {o}.{e}"}
                )
                dates: list[events_service.DateChanges] = [
                    {
                        "start": base + timedelta(days=d, hours=e),
                        "end": base + timedelta(days=d, hours=e + 2),
                    }
                    for d in range(DATES_PER_EVENT)
                ]
                await events_service.create(
                    session,
                    {
                        "offer_id": offer.id,
                        "title": f"Event {o}.{e}",
                        "content_id": training.id,
                        "content_ids": [video.id],
                        "max_participants": 10 + e,
                    },
                    dates,
                )


async def statements_for(api: Api, db: Database, query: str) -> tuple[int, dict]:
    async with count_statements(db) as statements:
        data = await api.data(query)
    return len(statements), data


async def test_offers_with_events_dates_and_content_run_the_same_sql_for_5_and_50_offers(
    api: Api, db: Database
) -> None:
    await seed_offers(db, 5)
    small, small_data = await statements_for(api, db, OFFERS_QUERY)
    await seed_offers(db, 45)
    large, large_data = await statements_for(api, db, OFFERS_QUERY)
    print(f"\n[{db.dialect}] offers{{offerEvents{{dates contentTitle …}}}}: {small} vs {large}")

    # The answers really are 5 and 50 offers deep, with every event's dates and content.
    for data, offers in ((small_data, 5), (large_data, 50)):
        assert len(data["offers"]) == offers
        events = [event for offer in data["offers"] for event in offer["offerEvents"]]
        assert len(events) == offers * EVENTS_PER_OFFER
        assert all(len(event["dates"]) == DATES_PER_EVENT for event in events)
        assert all(event["contentTitle"].startswith("Training ") for event in events)
    assert small == large
    # One statement per list in the query (offers, events, dates, content), plus the token
    # look-up and the read transaction's BEGIN; a little room for auth changes.
    assert small <= 8


async def test_paginated_offers_with_nested_relations_run_the_same_sql_for_5_and_50_offers(
    api: Api, db: Database
) -> None:
    await seed_offers(db, 5)
    small, small_data = await statements_for(api, db, PAGINATED_QUERY)
    await seed_offers(db, 45)
    large, large_data = await statements_for(api, db, PAGINATED_QUERY)
    print(f"\n[{db.dialect}] paginatedOffers(first: 50){{…offerEvents{{…}}}}: {small} vs {large}")

    for data, offers in ((small_data, 5), (large_data, 50)):
        edges = data["paginatedOffers"]["edges"]
        assert len(edges) == offers
        for edge in edges:
            events = edge["node"]["offerEvents"]
            assert len(events) == EVENTS_PER_OFFER
            for event in events:
                assert event["offer"]["title"] == "Offer " + event["title"].split()[1].split(".")[0]
                assert [item["title"].split()[0] for item in event["contentItems"]] == [
                    "Training",
                    "Video",
                ]
                assert len(event["dates"]) == DATES_PER_EVENT
    assert small == large
    # count, offers, events, their offer, content items, dates, plus token look-up and BEGIN.
    assert small <= 10
