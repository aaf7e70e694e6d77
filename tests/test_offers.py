"""Offers (SPEC §2.2, §3.6): listing, search, the on/off switch, archiving, and their events."""

import uuid
from typing import Any

import pytest

from .helpers import Api


async def create_offer(api: Api, title: str, description: str | None = None, **extra: Any) -> str:
    data = await api.data(
        "mutation ($offer: CreateOfferInput!) { createOffer(offer: $offer) { offer { id } } }",
        {"offer": {"title": title, "description": description, **extra}},
    )
    return str(data["createOffer"]["offer"]["id"])


async def archive_offers(api: Api, ids: list[str], archive: bool = True) -> dict[str, Any]:
    data = await api.data(
        "mutation ($archive: Boolean!, $ids: [UUID!]!) { archiveOffers(archive: $archive, "
        "ids: $ids) { response { succeededIds failedIds } } }",
        {"archive": archive, "ids": ids},
    )
    response: dict[str, Any] = data["archiveOffers"]["response"]
    return response


async def create_event(
    api: Api, offer_id: str, title: str, dates: list[tuple[str, str]] | None = None
) -> str:
    data = await api.data(
        "mutation ($event: CreateOfferEventInput!) { createOfferEvent(offerEvent: $event) "
        "{ offerEvent { id } } }",
        {
            "event": {
                "offerId": offer_id,
                "title": title,
                "dates": [{"start": start, "end": end} for start, end in dates or []],
            }
        },
    )
    return str(data["createOfferEvent"]["offerEvent"]["id"])


async def archive_event(api: Api, event_id: str) -> None:
    data = await api.data(
        'mutation { archiveOfferEvents(archive: true, ids: ["%s"]) '
        "{ response { succeededIds } } }" % event_id
    )
    assert data["archiveOfferEvents"]["response"]["succeededIds"] == [event_id]


async def listed(api: Api, arguments: str = "") -> list[str]:
    query = "query { offers%s { id } }" % (f"({arguments})" if arguments else "")
    data = await api.data(query)
    return [offer["id"] for offer in data["offers"]]


async def offer(api: Api, offer_id: str, fields: str) -> dict[str, Any]:
    data = await api.data('query { offer(id: "%s") { %s } }' % (offer_id, fields))
    found: dict[str, Any] = data["offer"]
    return found


async def test_offers_lists_only_active_non_archived_offers(api: Api) -> None:
    active = await create_offer(api, "Project management")
    await create_offer(api, "Leadership", isActive=False)
    archived = await create_offer(api, "Negotiation")
    await archive_offers(api, [archived])

    assert await listed(api) == [active]


async def test_offers_with_include_archived_lists_every_offer(api: Api) -> None:
    active = await create_offer(api, "Project management")
    inactive = await create_offer(api, "Leadership", isActive=False)
    archived = await create_offer(api, "Negotiation")
    await archive_offers(api, [archived])

    assert sorted(await listed(api, "includeArchived: true")) == sorted(
        [active, inactive, archived]
    )


async def test_offers_search_matches_title_or_description_case_insensitively(api: Api) -> None:
    by_title = await create_offer(api, "Project Management", "Plan and deliver")
    by_description = await create_offer(api, "Leadership", "Lead a PROJECT team")
    await create_offer(api, "Negotiation", "Win-win agreements")

    assert sorted(await listed(api, 'search: "project"')) == sorted([by_title, by_description])
    assert await listed(api, 'search: "MANAGEMENT"') == [by_title]
    assert await listed(api, 'search: "Team"') == [by_description]
    assert await listed(api, 'search: "no such words"') == []


async def test_offers_search_skips_archived_offers_unless_included(api: Api) -> None:
    kept = await create_offer(api, "Project management")
    archived = await create_offer(api, "Project leadership")
    await archive_offers(api, [archived])

    assert await listed(api, 'search: "project"') == [kept]
    assert sorted(await listed(api, 'search: "project", includeArchived: true')) == sorted(
        [kept, archived]
    )


async def test_offers_search_takes_percent_and_underscore_literally(api: Api) -> None:
    discount = await create_offer(api, "Save 50% on coaching")
    await create_offer(api, "Save 500 euro on coaching")
    snake = await create_offer(api, "Python snake_case basics")
    await create_offer(api, "Python snakes and ladders")

    assert await listed(api, 'search: "50%"') == [discount]
    assert await listed(api, 'search: "snake_"') == [snake]
    assert await listed(api, 'search: "%"') == [discount]


async def test_switching_an_offer_off_hides_it_from_offers_but_offer_by_id_answers(
    api: Api,
) -> None:
    offer_id = await create_offer(api, "Project management")
    data = await api.data(
        'mutation { updateOffer(id: "%s", offer: {isActive: false}) '
        "{ offer { id isActive archivedAt } } }" % offer_id
    )
    assert data["updateOffer"]["offer"] == {"id": offer_id, "isActive": False, "archivedAt": None}

    assert await listed(api) == []
    assert await offer(api, offer_id, "id title isActive") == {
        "id": offer_id,
        "title": "Project management",
        "isActive": False,
    }


async def test_archiving_an_offer_twice_keeps_the_first_archived_at(api: Api) -> None:
    offer_id = await create_offer(api, "Project management")
    assert await archive_offers(api, [offer_id]) == {"succeededIds": [offer_id], "failedIds": []}
    first = (await offer(api, offer_id, "archivedAt"))["archivedAt"]
    assert first is not None

    assert await archive_offers(api, [offer_id]) == {"succeededIds": [offer_id], "failedIds": []}
    assert (await offer(api, offer_id, "archivedAt"))["archivedAt"] == first


async def test_unarchiving_an_offer_clears_archived_at_and_lists_it_again(api: Api) -> None:
    offer_id = await create_offer(api, "Project management")
    await archive_offers(api, [offer_id])
    assert await listed(api) == []

    assert await archive_offers(api, [offer_id], archive=False) == {
        "succeededIds": [offer_id],
        "failedIds": [],
    }
    assert await offer(api, offer_id, "archivedAt isActive") == {
        "archivedAt": None,
        "isActive": True,
    }
    assert await listed(api) == [offer_id]


async def test_offer_events_include_archived_ones_sorted_by_first_date_undated_last(
    api: Api,
) -> None:
    offer_id = await create_offer(api, "Project management")
    # Created in an order unlike the expected one, so only sorting by first date passes.
    undated = await create_event(api, offer_id, "Not yet planned")
    october = await create_event(
        api, offer_id, "October group", [("2025-10-01T09:00:00Z", "2025-10-01T12:00:00Z")]
    )
    # Its later session is created first: the event sorts by its earliest session.
    september = await create_event(
        api,
        offer_id,
        "September group",
        [
            ("2025-11-20T09:00:00Z", "2025-11-20T12:00:00Z"),
            ("2025-09-01T09:00:00+02:00", "2025-09-01T12:00:00+02:00"),
        ],
    )
    # 2025-09-15T01:00+02:00 is 2025-09-14T23:00Z: sorted in UTC, before the next one.
    archived = await create_event(
        api,
        offer_id,
        "Archived group",
        [("2025-09-15T01:00:00+02:00", "2025-09-15T03:00:00+02:00")],
    )
    mid_september = await create_event(
        api, offer_id, "Mid-September group", [("2025-09-14T23:30:00Z", "2025-09-15T02:00:00Z")]
    )
    await archive_event(api, archived)

    events = (await offer(api, offer_id, "offerEvents { id isActive }"))["offerEvents"]
    assert events == [
        {"id": september, "isActive": True},
        {"id": archived, "isActive": False},
        {"id": mid_september, "isActive": True},
        {"id": october, "isActive": True},
        {"id": undated, "isActive": True},
    ]


async def test_offer_events_is_active_argument_filters(api: Api) -> None:
    offer_id = await create_offer(api, "Project management")
    late = await create_event(
        api, offer_id, "Late", [("2025-12-01T09:00:00Z", "2025-12-01T12:00:00Z")]
    )
    archived = await create_event(
        api, offer_id, "Archived", [("2025-10-01T09:00:00Z", "2025-10-01T12:00:00Z")]
    )
    early = await create_event(
        api, offer_id, "Early", [("2025-09-01T09:00:00Z", "2025-09-01T12:00:00Z")]
    )
    await archive_event(api, archived)

    data = await offer(
        api,
        offer_id,
        "active: offerEvents(isActive: true) { id } "
        "inactive: offerEvents(isActive: false) { id } all: offerEvents { id }",
    )
    assert [event["id"] for event in data["active"]] == [early, late]
    assert [event["id"] for event in data["inactive"]] == [archived]
    assert [event["id"] for event in data["all"]] == [early, archived, late]


@pytest.mark.parametrize("arguments", ['id: "%s", ref: "pm-1"', ""], ids=["both", "neither"])
async def test_offer_needs_exactly_one_of_id_and_ref(api: Api, arguments: str) -> None:
    offer_id = await create_offer(api, "Project management", ref="pm-1")
    query = "query { offer%s { id } }" % (f"({arguments % offer_id})" if arguments else "")
    error = await api.error(query)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_offer_by_ref_answers_and_unknown_id_or_ref_is_null(api: Api) -> None:
    offer_id = await create_offer(api, "Project management", ref="pm-1")
    by_ref = await api.data('query { offer(ref: "pm-1") { id } }')
    assert by_ref["offer"] == {"id": offer_id}

    unknown = await api.data('query { offer(id: "%s") { id } }' % uuid.uuid4())
    assert unknown["offer"] is None
    unknown_ref = await api.data('query { offer(ref: "pm-2") { id } }')
    assert unknown_ref["offer"] is None


async def test_event_of_an_archived_offer_is_still_listed_under_it(api: Api) -> None:
    offer_id = await create_offer(api, "Project management")
    event_id = await create_event(api, offer_id, "September group")
    await archive_offers(api, [offer_id])

    data = await offer(api, offer_id, "archivedAt offerEvents { id offer { id archivedAt } }")
    assert data["archivedAt"] is not None
    assert data["offerEvents"] == [
        {"id": event_id, "offer": {"id": offer_id, "archivedAt": data["archivedAt"]}}
    ]
    included = await api.data("query { offers(includeArchived: true) { id offerEvents { id } } }")
    assert included["offers"] == [{"id": offer_id, "offerEvents": [{"id": event_id}]}]
