"""Offer events and their dates on the wire: bad input to the event and date mutations (SPEC
§2.5 coercion, §3.7 dates, §3.8 content links, §3.11 participant limits) refused through
``POST /graphql`` with ``extensions.code`` and the API's input path in ``extensions.field``,
changing nothing; and the accepted counterparts. The rules themselves are tested through the
service in test_service.py.
"""

import uuid
from typing import Any

import pytest

from offerdesk.db import Database

from ..api_helpers import (
    CREATE_DATE,
    CREATE_EVENT,
    END,
    START,
    UPDATE_DATE,
    UPDATE_EVENT,
    bulk_document,
    literal,
    make_content,
    make_date,
    make_event,
    make_offer,
    refused,
)
from ..helpers import Api

# --- §2.5: a value that does not coerce to its type is BAD_USER_INPUT, with its input path ---


async def test_malformed_uuid_inside_an_input_names_the_input_path(api: Api, db: Database) -> None:
    event_id = await make_event(api)
    good = {"offerEventId": event_id, "start": START, "end": END}
    await refused(
        api,
        db,
        CREATE_DATE,
        {"input": {**good, "offerEventId": "not-a-uuid"}},
        code="BAD_USER_INPUT",
        field="offerEventDate.offerEventId",
    )
    await refused(
        api,
        db,
        'mutation { createOfferEventDate(offerEventDate: {offerEventId: "not-a-uuid", '
        "start: %s, end: %s}) { offerEventDate { id } } }" % (literal(START), literal(END)),
        code="BAD_USER_INPUT",
        field="offerEventDate.offerEventId",
    )


BAD_DATETIMES = [
    "2025-09-12T09:00:00",  # no offset
    "2025-09-12T09:00:00.500",  # no offset, with a fraction
    "2025-09-12",  # a date only
    "2025-09-12T09:00:00+0200",  # offset without its colon
    "2025-02-30T09:00:00Z",  # no such day
    "2025-09-12T25:00:00Z",  # no such hour
    "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    "next tuesday",
]


@pytest.mark.parametrize("value", BAD_DATETIMES)
@pytest.mark.no_queries
async def test_bad_datetime_variable_is_bad_user_input_on_its_field(
    api: Api, db: Database, value: str
) -> None:
    event_id = await make_event(api)
    await refused(
        api,
        db,
        CREATE_DATE,
        {"input": {"offerEventId": event_id, "start": value, "end": END}},
        code="BAD_USER_INPUT",
        field="offerEventDate.start",
    )


@pytest.mark.parametrize("value", BAD_DATETIMES)
@pytest.mark.no_queries
async def test_bad_datetime_literal_is_bad_user_input_on_its_field(
    api: Api, db: Database, value: str
) -> None:
    event_id = await make_event(api)
    await refused(
        api,
        db,
        "mutation { createOfferEventDate(offerEventDate: {offerEventId: %s, start: %s, "
        "end: %s}) { offerEventDate { id } } }"
        % (literal(event_id), literal(START), literal(value)),
        code="BAD_USER_INPUT",
        field="offerEventDate.end",
    )


async def test_datetime_without_offset_in_a_list_of_dates_names_the_index(
    api: Api, db: Database
) -> None:
    offer_id = await make_offer(api)
    dates = [{"start": START, "end": END}, {"start": START, "end": "2025-09-12T12:00:00"}]
    await refused(
        api,
        db,
        CREATE_EVENT,
        {"input": {"offerId": offer_id, "title": "Evening group", "dates": dates}},
        code="BAD_USER_INPUT",
        field="offerEvent.dates.1.end",
    )
    await refused(
        api,
        db,
        'mutation { createOfferEvent(offerEvent: {offerId: %s, title: "Evening group", '
        'dates: [{start: %s, end: %s}, {start: %s, end: "2025-09-12T12:00:00"}]}) '
        "{ offerEvent { id } } }"
        % (literal(offer_id), literal(START), literal(END), literal(START)),
        code="BAD_USER_INPUT",
        field="offerEvent.dates.1.end",
    )


async def test_closing_date_without_offset_is_bad_user_input(api: Api, db: Database) -> None:
    event_id = await make_event(api)
    await refused(
        api,
        db,
        UPDATE_EVENT,
        {"id": event_id, "input": {"title": "Renamed", "closingDate": "2025-09-01T00:00:00"}},
        code="BAD_USER_INPUT",
        field="offerEvent.closingDate",
    )


@pytest.mark.parametrize("form", ["variable", "literal"])
@pytest.mark.no_queries
async def test_int_outside_32_bits_is_bad_user_input_on_its_field(
    api: Api, db: Database, form: str
) -> None:
    # The same refusal whether the number comes in a variable or is written in the document.
    offer_id = await make_offer(api)
    if form == "variable":
        query = CREATE_EVENT
        variables: dict[str, Any] | None = {
            "input": {"offerId": offer_id, "title": "Big", "maxParticipants": 3_000_000_000}
        }
    else:
        query = (
            'mutation { createOfferEvent(offerEvent: {offerId: %s, title: "Big", '
            "maxParticipants: 3000000000}) { offerEvent { id } } }" % literal(offer_id)
        )
        variables = None
    await refused(
        api, db, query, variables, code="BAD_USER_INPUT", field="offerEvent.maxParticipants"
    )


# --- rule 7: dates end after they start ---


@pytest.mark.parametrize("end", ["2025-09-12T08:59:59Z", START, "2025-09-12T10:00:00+02:00"])
@pytest.mark.no_queries
async def test_date_that_does_not_end_after_its_start_is_refused_on_end(
    api: Api, db: Database, end: str
) -> None:
    # The last case is 08:00 UTC: compared as instants, not as the text given.
    event_id = await make_event(api)
    await refused(
        api,
        db,
        CREATE_DATE,
        {"input": {"offerEventId": event_id, "start": START, "end": end}},
        code="BAD_USER_INPUT",
        field="offerEventDate.end",
    )


async def test_date_in_another_offset_that_ends_after_its_start_is_accepted(api: Api) -> None:
    # 11:30+02:00 is 09:30 UTC, after a 09:00 UTC start, though its text sorts before it.
    event_id = await make_event(api)
    await make_date(api, event_id, START, "2025-09-12T11:30:00+02:00")
    data = await api.data('query { offerEvent(id: "%s") { dates { start end } } }' % event_id)
    assert data["offerEvent"]["dates"] == [{"start": START, "end": "2025-09-12T09:30:00Z"}]


async def test_create_offer_event_with_a_date_ending_before_its_start_is_refused(
    api: Api, db: Database
) -> None:
    offer_id = await make_offer(api)
    dates = [{"start": START, "end": "2025-09-12T08:00:00Z"}]
    await refused(
        api,
        db,
        CREATE_EVENT,
        {"input": {"offerId": offer_id, "title": "Evening group", "dates": dates}},
        code="BAD_USER_INPUT",
        field="offerEvent.dates.0.end",
    )


async def test_failing_create_offer_event_with_a_bad_last_date_creates_no_event_and_no_date(
    api: Api, db: Database
) -> None:
    offer_id = await make_offer(api)
    dates = [
        {"start": "2025-09-12T09:00:00Z", "end": "2025-09-12T12:00:00Z", "location": "Room 1"},
        {"start": "2025-09-19T09:00:00Z", "end": "2025-09-19T12:00:00Z", "location": "Room 2"},
        {"start": "2025-09-26T09:00:00Z", "end": "2025-09-26T09:00:00Z", "location": "Room 3"},
    ]
    await refused(
        api,
        db,
        CREATE_EVENT,
        {"input": {"offerId": offer_id, "title": "Evening group", "ref": "eg-1", "dates": dates}},
        code="BAD_USER_INPUT",
        field="offerEvent.dates.2.end",
    )
    data = await api.data(
        'query { offer(id: "%s") { offerEvents { id } } byRef: offerEvent(ref: "eg-1") { id } }'
        % offer_id
    )
    assert data == {"offer": {"offerEvents": []}, "byRef": None}
    # The ref was not taken by the failed call.
    await make_event(api, offerId=offer_id, ref="eg-1")


async def test_partial_date_update_moving_start_after_the_stored_end_is_refused_on_start(
    api: Api, db: Database
) -> None:
    date_id = await make_date(api, await make_event(api), START, END)
    await refused(
        api,
        db,
        UPDATE_DATE,
        {"id": date_id, "input": {"start": "2025-09-12T13:00:00Z", "location": "Room 9"}},
        code="BAD_USER_INPUT",
        field="offerEventDate.start",
    )


async def test_partial_date_update_moving_end_before_the_stored_start_is_refused_on_end(
    api: Api, db: Database
) -> None:
    date_id = await make_date(api, await make_event(api), START, END)
    await refused(
        api,
        db,
        UPDATE_DATE,
        {"id": date_id, "input": {"end": "2025-09-12T08:00:00Z"}},
        code="BAD_USER_INPUT",
        field="offerEventDate.end",
    )


async def test_partial_date_update_that_keeps_end_after_start_is_accepted(api: Api) -> None:
    date_id = await make_date(api, await make_event(api), START, END)
    data = await api.data(UPDATE_DATE, {"id": date_id, "input": {"start": "2025-09-12T11:59:59Z"}})
    assert data["updateOfferEventDate"]["offerEventDate"] == {
        "id": date_id,
        "start": "2025-09-12T11:59:59Z",
        "end": END,
    }


async def test_date_for_an_unknown_offer_event_is_not_found_on_offer_event_id(
    api: Api, db: Database
) -> None:
    await make_event(api)
    await refused(
        api,
        db,
        CREATE_DATE,
        {"input": {"offerEventId": str(uuid.uuid4()), "start": START, "end": END}},
        code="NOT_FOUND",
        field="offerEventDate.offerEventId",
    )


# --- rule 8: content links ---


async def test_unknown_offer_id_is_not_found_on_offer_id(api: Api, db: Database) -> None:
    await make_offer(api)
    await refused(
        api,
        db,
        CREATE_EVENT,
        {"input": {"offerId": str(uuid.uuid4()), "title": "Evening group"}},
        code="NOT_FOUND",
        field="offerEvent.offerId",
    )


async def test_unknown_content_id_is_not_found_on_content_id(api: Api, db: Database) -> None:
    offer_id = await make_offer(api)
    unknown = str(uuid.uuid4())
    await refused(
        api,
        db,
        CREATE_EVENT,
        {"input": {"offerId": offer_id, "title": "Evening group", "contentId": unknown}},
        code="NOT_FOUND",
        field="offerEvent.contentId",
    )
    event_id = await make_event(api, offerId=offer_id, contentId=await make_content(api))
    await refused(
        api,
        db,
        UPDATE_EVENT,
        {"id": event_id, "input": {"title": "Renamed", "contentId": unknown}},
        code="NOT_FOUND",
        field="offerEvent.contentId",
    )


async def test_unknown_extra_content_id_is_not_found_on_its_index(api: Api, db: Database) -> None:
    offer_id = await make_offer(api)
    known = await make_content(api)
    await refused(
        api,
        db,
        CREATE_EVENT,
        {
            "input": {
                "offerId": offer_id,
                "title": "Evening group",
                "contentId": known,
                "contentIds": [await make_content(api), str(uuid.uuid4())],
            }
        },
        code="NOT_FOUND",
        field="offerEvent.contentIds.1",
    )


async def test_content_type_that_does_not_match_the_item_is_refused_on_content_type(
    api: Api, db: Database
) -> None:
    offer_id = await make_offer(api)
    training = await make_content(api, "TRAINING")
    await refused(
        api,
        db,
        CREATE_EVENT,
        {
            "input": {
                "offerId": offer_id,
                "title": "Evening group",
                "contentId": training,
                "contentType": "COURSE",
            }
        },
        code="BAD_USER_INPUT",
        field="offerEvent.contentType",
    )
    # Also on update: a new item whose type differs from the one given, or a type alone
    # that differs from the linked item's.
    event_id = await make_event(api, offerId=offer_id, contentId=training)
    course = await make_content(api, "COURSE")
    for changes in (
        {"contentId": course, "contentType": "TRAINING"},
        {"title": "Renamed", "contentType": "VIDEO"},
    ):
        await refused(
            api,
            db,
            UPDATE_EVENT,
            {"id": event_id, "input": changes},
            code="BAD_USER_INPUT",
            field="offerEvent.contentType",
        )


async def test_content_type_is_taken_from_the_item_when_omitted(api: Api) -> None:
    offer_id = await make_offer(api)
    course = await make_content(api, "COURSE")
    data = await api.data(
        CREATE_EVENT, {"input": {"offerId": offer_id, "title": "Evening", "contentId": course}}
    )
    assert data["createOfferEvent"]["offerEvent"]["contentId"] == course
    assert data["createOfferEvent"]["offerEvent"]["contentType"] == "COURSE"
    # A matching type given explicitly is accepted too.
    data = await api.data(
        CREATE_EVENT,
        {
            "input": {
                "offerId": offer_id,
                "title": "Morning",
                "contentId": course,
                "contentType": "COURSE",
            }
        },
    )
    assert data["createOfferEvent"]["offerEvent"]["contentType"] == "COURSE"


async def test_archived_content_item_cannot_be_linked(api: Api, db: Database) -> None:
    offer_id = await make_offer(api)
    item = await make_content(api)
    await api.data(bulk_document("archiveContentItems"), {"ids": [item]})
    await refused(
        api,
        db,
        CREATE_EVENT,
        {"input": {"offerId": offer_id, "title": "Evening group", "contentId": item}},
        code="BAD_USER_INPUT",
        field="offerEvent.contentId",
    )


# --- rule 10: bad input never reaches the database as a driver error ---


async def test_nul_character_in_a_date_location_is_bad_user_input(api: Api, db: Database) -> None:
    event_id = await make_event(api)
    await refused(
        api,
        db,
        CREATE_DATE,
        {"input": {"offerEventId": event_id, "start": START, "end": END, "location": "R\u00001"}},
        code="BAD_USER_INPUT",
        field="offerEventDate.location",
    )


# --- rule 11: validation limits ---


@pytest.mark.parametrize("maximum", [0, -1])
@pytest.mark.no_queries
async def test_max_participants_below_one_is_refused(api: Api, db: Database, maximum: int) -> None:
    offer_id = await make_offer(api)
    await refused(
        api,
        db,
        CREATE_EVENT,
        {"input": {"offerId": offer_id, "title": "Evening", "maxParticipants": maximum}},
        code="BAD_USER_INPUT",
        field="offerEvent.maxParticipants",
    )
    event_id = await make_event(api, offerId=offer_id, maxParticipants=10)
    await refused(
        api,
        db,
        UPDATE_EVENT,
        {"id": event_id, "input": {"title": "Renamed", "maxParticipants": maximum}},
        code="BAD_USER_INPUT",
        field="offerEvent.maxParticipants",
    )


async def test_negative_min_participants_is_refused(api: Api, db: Database) -> None:
    offer_id = await make_offer(api)
    await refused(
        api,
        db,
        CREATE_EVENT,
        {"input": {"offerId": offer_id, "title": "Evening", "minParticipants": -1}},
        code="BAD_USER_INPUT",
        field="offerEvent.minParticipants",
    )


async def test_min_participants_above_max_participants_is_refused_on_create(
    api: Api, db: Database
) -> None:
    offer_id = await make_offer(api)
    await refused(
        api,
        db,
        CREATE_EVENT,
        {
            "input": {
                "offerId": offer_id,
                "title": "Evening",
                "maxParticipants": 10,
                "minParticipants": 11,
            }
        },
        code="BAD_USER_INPUT",
        field="offerEvent.minParticipants",
    )


async def test_update_giving_only_min_participants_above_the_stored_max_is_refused(
    api: Api, db: Database
) -> None:
    event_id = await make_event(api, maxParticipants=10, minParticipants=2)
    await refused(
        api,
        db,
        UPDATE_EVENT,
        {"id": event_id, "input": {"title": "Renamed", "minParticipants": 11}},
        code="BAD_USER_INPUT",
        field="offerEvent.minParticipants",
    )


async def test_update_giving_only_max_participants_below_the_stored_min_is_refused(
    api: Api, db: Database
) -> None:
    event_id = await make_event(api, maxParticipants=10, minParticipants=5)
    await refused(
        api,
        db,
        UPDATE_EVENT,
        {"id": event_id, "input": {"title": "Renamed", "maxParticipants": 4}},
        code="BAD_USER_INPUT",
        field="offerEvent.maxParticipants",
    )


async def test_participant_limits_at_their_bounds_are_accepted(api: Api) -> None:
    event_id = await make_event(api, maxParticipants=1, minParticipants=0)
    data = await api.data(
        UPDATE_EVENT, {"id": event_id, "input": {"maxParticipants": 5, "minParticipants": 5}}
    )
    event = data["updateOfferEvent"]["offerEvent"]
    assert (event["maxParticipants"], event["minParticipants"]) == (5, 5)
    # null is "unlimited": then any minimum is allowed.
    data = await api.data(
        UPDATE_EVENT, {"id": event_id, "input": {"maxParticipants": None, "minParticipants": 50}}
    )
    event = data["updateOfferEvent"]["offerEvent"]
    assert (event["maxParticipants"], event["minParticipants"]) == (None, 50)


LINKS = """
mutation($id: UUID!, $input: UpdateOfferEventInput!) {
  updateOfferEvent(id: $id, offerEvent: $input) {
    offerEvent { contentId contentType contentItems { id } title }
  }
}"""
ARCHIVE_CONTENT = """
mutation($ids: [UUID!]!) {
  archiveContentItems(archive: true, ids: $ids) { response { succeededIds } }
}"""


async def test_an_existing_link_to_an_item_archived_since_is_kept_or_dropped_freely(
    api: Api,
) -> None:
    """Issue 14 (4): the rule "an archived item cannot be linked" is about links a call
    creates. Keeping the link (sending the same contentId, or changing only contentIds) and
    removing it both work; linking another archived item is still refused, on the field that
    named it."""
    kept, extra, other = [await make_content(api) for _ in range(3)]
    event = await make_event(api, contentId=kept)
    await api.data(ARCHIVE_CONTENT, {"ids": [kept, other]})

    same = await api.data(LINKS, {"id": event, "input": {"contentId": kept, "title": "Renamed"}})
    assert same["updateOfferEvent"]["offerEvent"]["contentId"] == kept
    extras = await api.data(LINKS, {"id": event, "input": {"contentIds": [extra]}})
    assert [i["id"] for i in extras["updateOfferEvent"]["offerEvent"]["contentItems"]] == [
        kept,
        extra,
    ]
    refused = await api.error(LINKS, {"id": event, "input": {"contentIds": [extra, other]}})
    assert refused["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "offerEvent.contentIds.1",
    }
    removed = await api.data(LINKS, {"id": event, "input": {"contentId": None, "contentIds": []}})
    assert removed["updateOfferEvent"]["offerEvent"]["contentItems"] == []
