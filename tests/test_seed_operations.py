"""The example operations of the reference pages (SPEC §2.1, §2.2), sent as a client sends them."""

import uuid

from .helpers import Api


async def create_offer(api: Api, title: str = "Project management") -> str:
    data = await api.data(
        'mutation { createOffer(offer: {title: "%s", description: "Plan and deliver"}) '
        "{ offer { id title description isActive archivedAt } } }" % title
    )
    offer = data["createOffer"]["offer"]
    assert offer["title"] == title
    assert offer["isActive"] is True
    assert offer["archivedAt"] is None
    return str(offer["id"])


async def create_training(api: Api, title: str = "PM essentials") -> str:
    data = await api.data(
        'mutation { createContentItem(contentItem: {type: TRAINING, title: "%s"}) '
        "{ contentItem { id } } }" % title
    )
    return str(data["createContentItem"]["contentItem"]["id"])


async def create_offer_event(api: Api, offer_id: str, content_id: str) -> dict:
    data = await api.data(
        """
        mutation {
          createOfferEvent(offerEvent: {
            offerId: "%s"
            title: "Starting moment September"
            contentId: "%s"
            contentType: TRAINING
            maxParticipants: 20
          }) {
            offerEvent { id title offerId contentId contentType contentTitle maxParticipants }
          }
        }
        """
        % (offer_id, content_id)
    )
    event: dict = data["createOfferEvent"]["offerEvent"]
    return event


async def test_create_offer_event_returns_the_linked_content_title(api: Api) -> None:
    offer_id = await create_offer(api)
    content_id = await create_training(api, "PM essentials")
    event = await create_offer_event(api, offer_id, content_id)
    assert event["title"] == "Starting moment September"
    assert event["offerId"] == offer_id
    assert event["contentId"] == content_id
    assert event["contentType"] == "TRAINING"
    assert event["contentTitle"] == "PM essentials"
    assert event["maxParticipants"] == 20


async def test_offer_event_query_returns_dates_content_title_and_spots(api: Api) -> None:
    event = await create_offer_event(api, await create_offer(api), await create_training(api))
    for start, end in [
        ("2025-10-01T09:00:00+02:00", "2025-10-01T12:00:00+02:00"),
        ("2025-09-12T09:00:00Z", "2025-09-12T17:00:00Z"),
    ]:
        await api.data(
            """mutation { createOfferEventDate(offerEventDate: {
                 offerEventId: "%s", start: "%s", end: "%s"}) { offerEventDate { id } } }"""
            % (event["id"], start, end)
        )
    data = await api.data(
        """query { offerEvent(id: "%s") {
             id title dates { start end } contentTitle spotsAvailable } }"""
        % event["id"]
    )
    assert data["offerEvent"] == {
        "id": event["id"],
        "title": "Starting moment September",
        # Sorted by start and answered in UTC with Z.
        "dates": [
            {"start": "2025-09-12T09:00:00Z", "end": "2025-09-12T17:00:00Z"},
            {"start": "2025-10-01T07:00:00Z", "end": "2025-10-01T10:00:00Z"},
        ],
        "contentTitle": "PM essentials",
        "spotsAvailable": 20,
    }


async def test_offer_lists_its_offer_events(api: Api) -> None:
    offer_id = await create_offer(api)
    event = await create_offer_event(api, offer_id, await create_training(api))
    data = await api.data('query { offer(id: "%s") { offerEvents { id title } } }' % offer_id)
    assert data["offer"]["offerEvents"] == [{"id": event["id"], "title": event["title"]}]


async def test_update_offer_event_changes_title_and_capacity(api: Api) -> None:
    event = await create_offer_event(api, await create_offer(api), await create_training(api))
    data = await api.data(
        """mutation { updateOfferEvent(id: "%s", offerEvent: {title: "Evening group",
             maxParticipants: 12}) { offerEvent { id title maxParticipants spotsAvailable
             contentTitle } } }"""
        % event["id"]
    )
    assert data["updateOfferEvent"]["offerEvent"] == {
        "id": event["id"],
        "title": "Evening group",
        "maxParticipants": 12,
        "spotsAvailable": 12,
        "contentTitle": "PM essentials",
    }


async def test_archive_offer_events_reports_succeeded_and_failed_ids(api: Api) -> None:
    event = await create_offer_event(api, await create_offer(api), await create_training(api))
    unknown = str(uuid.uuid4())
    archive = """mutation { archiveOfferEvents(archive: %s, ids: ["%s", "%s"]) {
                   response { succeededIds failedIds } } }"""
    data = await api.data(archive % ("true", event["id"], unknown))
    assert data["archiveOfferEvents"]["response"] == {
        "succeededIds": [event["id"]],
        "failedIds": [unknown],
    }
    state = await api.data('query { offerEvent(id: "%s") { isActive } }' % event["id"])
    assert state["offerEvent"]["isActive"] is False
    # Archiving twice is a success; un-archiving restores.
    again = await api.data(archive % ("true", event["id"], unknown))
    assert again["archiveOfferEvents"]["response"]["succeededIds"] == [event["id"]]
    await api.data(archive % ("false", event["id"], unknown))
    state = await api.data('query { offerEvent(id: "%s") { isActive } }' % event["id"])
    assert state["offerEvent"]["isActive"] is True


async def test_update_offer_event_date_keeps_what_is_not_given(api: Api) -> None:
    event = await create_offer_event(api, await create_offer(api), await create_training(api))
    created = await api.data(
        """mutation { createOfferEventDate(offerEventDate: {offerEventId: "%s",
             start: "2025-09-12T09:00:00Z", end: "2025-09-12T12:00:00Z", location: "Room 1"})
             { offerEventDate { id offerEventId start end location } } }"""
        % event["id"]
    )
    date = created["createOfferEventDate"]["offerEventDate"]
    assert date["offerEventId"] == event["id"]
    updated = await api.data(
        """mutation { updateOfferEventDate(id: "%s", offerEventDate: {
             end: "2025-09-12T13:30:00.250+00:00"})
             { offerEventDate { id start end location } } }"""
        % date["id"]
    )
    assert updated["updateOfferEventDate"]["offerEventDate"] == {
        "id": date["id"],
        "start": "2025-09-12T09:00:00Z",
        "end": "2025-09-12T13:30:00.25Z",
        "location": "Room 1",
    }


async def test_delete_offer_event_dates_reports_succeeded_and_failed_ids(api: Api) -> None:
    event = await create_offer_event(api, await create_offer(api), await create_training(api))
    created = await api.data(
        """mutation { createOfferEventDate(offerEventDate: {offerEventId: "%s",
             start: "2025-09-12T09:00:00Z", end: "2025-09-12T12:00:00Z"})
             { offerEventDate { id } } }"""
        % event["id"]
    )
    date_id = created["createOfferEventDate"]["offerEventDate"]["id"]
    unknown = str(uuid.uuid4())
    data = await api.data(
        'mutation { deleteOfferEventDates(ids: ["%s", "%s"]) '
        "{ response { succeededIds failedIds } } }" % (date_id, unknown)
    )
    assert data["deleteOfferEventDates"]["response"] == {
        "succeededIds": [date_id],
        "failedIds": [unknown],
    }
    left = await api.data('query { offerEvent(id: "%s") { dates { id } } }' % event["id"])
    assert left["offerEvent"]["dates"] == []


async def test_offer_page_operations(api: Api) -> None:
    offer_id = await create_offer(api, "Project management")
    other_id = await create_offer(api, "Leadership")

    data = await api.data(
        'query { offer(id: "%s") { id title description isActive archivedAt createdAt '
        "updatedAt offerEvents { id } } }" % offer_id
    )
    assert data["offer"]["title"] == "Project management"
    assert data["offer"]["description"] == "Plan and deliver"
    assert data["offer"]["createdAt"].endswith("Z")

    updated = await api.data(
        'mutation { updateOffer(id: "%s", offer: {title: "Project management basics", '
        'ref: "pm-1"}) { offer { id title ref } } }' % offer_id
    )
    assert updated["updateOffer"]["offer"] == {
        "id": offer_id,
        "title": "Project management basics",
        "ref": "pm-1",
    }
    by_ref = await api.data('query { offer(ref: "pm-1") { id } }')
    assert by_ref["offer"]["id"] == offer_id

    listed = await api.data("query { offers { id title } }")
    assert {o["id"] for o in listed["offers"]} == {offer_id, other_id}

    unknown = str(uuid.uuid4())
    archived = await api.data(
        'mutation { archiveOffers(archive: true, ids: ["%s", "%s"]) '
        "{ response { succeededIds failedIds } } }" % (other_id, unknown)
    )
    assert archived["archiveOffers"]["response"] == {
        "succeededIds": [other_id],
        "failedIds": [unknown],
    }
    listed = await api.data("query { offers { id } }")
    assert [o["id"] for o in listed["offers"]] == [offer_id]
    archived_offer = await api.data('query { offer(id: "%s") { archivedAt } }' % other_id)
    assert archived_offer["offer"]["archivedAt"] is not None
