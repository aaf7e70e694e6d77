"""Bad input (SPEC §2.5, §3 rules 6-11): refused with a code and the input path, changing nothing.

Every call goes through ``POST /graphql`` as a client sends it, and every refusal is checked
for ``extensions.code`` and ``extensions.field`` and for leaving the database exactly as it was.
"""

import asyncio
import base64
import json
import uuid
from typing import Any

import pytest

from offerdesk.db import Database

from .helpers import Api, snapshot

START = "2025-09-12T09:00:00Z"
END = "2025-09-12T12:00:00Z"

# The four entity kinds that have a title (or name) and a ref, by their input argument name.
KINDS = ("offer", "offerEvent", "contentItem", "user")
TITLE_FIELD = {"offer": "title", "offerEvent": "title", "contentItem": "title", "user": "name"}
INPUT_TYPE = {
    "offer": "Offer",
    "offerEvent": "OfferEvent",
    "contentItem": "ContentItem",
    "user": "User",
}

CREATE_EVENT = """mutation ($input: CreateOfferEventInput!) {
    createOfferEvent(offerEvent: $input) { offerEvent { id contentId contentType } } }"""
UPDATE_EVENT = """mutation ($id: UUID!, $input: UpdateOfferEventInput!) {
    updateOfferEvent(id: $id, offerEvent: $input) {
      offerEvent { id title maxParticipants minParticipants } } }"""
CREATE_DATE = """mutation ($input: CreateOfferEventDateInput!) {
    createOfferEventDate(offerEventDate: $input) { offerEventDate { id } } }"""
UPDATE_DATE = """mutation ($id: UUID!, $input: UpdateOfferEventDateInput!) {
    updateOfferEventDate(id: $id, offerEventDate: $input) { offerEventDate { id start end } } }"""


def literal(value: Any) -> str:
    """A Python value as a GraphQL literal (strings are escaped as in JSON, which GraphQL reads)."""
    return json.dumps(value)


def create_document(kind: str) -> str:
    name = INPUT_TYPE[kind]
    return "mutation ($input: Create%sInput!) { create%s(%s: $input) { %s { id } } }" % (
        name,
        name,
        kind,
        kind,
    )


def update_document(kind: str) -> str:
    name = INPUT_TYPE[kind]
    return (
        "mutation ($id: UUID!, $input: Update%sInput!) { update%s(id: $id, %s: $input) "
        "{ %s { id } } }" % (name, name, kind, kind)
    )


async def refused(
    api: Api,
    db: Database,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    code: str,
    field: str,
) -> dict[str, Any]:
    """The one error of a call that must fail with ``code`` on ``field`` and change nothing."""
    before = await snapshot(db)
    error = await api.error(query, variables)
    assert error["extensions"].get("code") == code, error
    assert error["extensions"].get("field") == field, error
    assert await snapshot(db) == before
    return error


async def make_offer(api: Api, **fields: Any) -> str:
    return await create(api, "offer", **fields)


async def make_content(api: Api, type_: str = "TRAINING", **fields: Any) -> str:
    return await create(api, "contentItem", type=type_, **fields)


async def make_event(api: Api, **fields: Any) -> str:
    return await create(api, "offerEvent", **fields)


async def make_date(api: Api, event_id: str, start: str = START, end: str = END) -> str:
    data = await api.data(
        CREATE_DATE, {"input": {"offerEventId": event_id, "start": start, "end": end}}
    )
    return str(data["createOfferEventDate"]["offerEventDate"]["id"])


async def valid_input(api: Api, kind: str) -> dict[str, Any]:
    """The smallest valid create input of each kind (an offer event gets a new offer)."""
    tag = uuid.uuid4().hex[:8]
    if kind == "offer":
        return {"title": f"Offer {tag}"}
    if kind == "offerEvent":
        return {"offerId": await make_offer(api), "title": f"Event {tag}"}
    if kind == "contentItem":
        return {"type": "TRAINING", "title": f"Content {tag}"}
    return {"name": f"User {tag}", "email": f"user-{tag}@example.com"}


async def create(api: Api, kind: str, **fields: Any) -> str:
    data = await api.data(
        create_document(kind), {"input": {**await valid_input(api, kind), **fields}}
    )
    return str(data[f"create{INPUT_TYPE[kind]}"][kind]["id"])


# --- §2.5: a value that does not coerce to its type is BAD_USER_INPUT, with its input path ---

MALFORMED_UUIDS = [
    "not-a-uuid",
    "",
    "123e4567e89b12d3a456426614174000",  # no hyphens
    "{123e4567-e89b-12d3-a456-426614174000}",  # braces
    "urn:uuid:123e4567-e89b-12d3-a456-426614174000",
    "123e4567-e89b-12d3-a456-42661417400g",  # not hexadecimal
    "123e4567-e89b-12d3-a456-4266141740000",  # one digit too many
]


@pytest.mark.parametrize("value", MALFORMED_UUIDS)
async def test_malformed_uuid_variable_is_bad_user_input_on_its_argument(
    api: Api, db: Database, value: str
) -> None:
    await make_offer(api)
    await refused(
        api,
        db,
        'mutation ($id: UUID!) { updateOffer(id: $id, offer: {title: "Renamed"}) '
        "{ offer { id } } }",
        {"id": value},
        code="BAD_USER_INPUT",
        field="id",
    )


@pytest.mark.parametrize("value", MALFORMED_UUIDS)
async def test_malformed_uuid_literal_is_bad_user_input_on_its_argument(
    api: Api, db: Database, value: str
) -> None:
    await make_offer(api)
    await refused(
        api,
        db,
        'mutation { updateOffer(id: %s, offer: {title: "Renamed"}) { offer { id } } }'
        % literal(value),
        code="BAD_USER_INPUT",
        field="id",
    )


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


async def test_malformed_uuid_in_a_bulk_list_names_its_index_and_archives_nothing(
    api: Api, db: Database
) -> None:
    offer_id = await make_offer(api)
    await refused(
        api,
        db,
        "mutation ($ids: [UUID!]!) { archiveOffers(archive: true, ids: $ids) "
        "{ response { succeededIds } } }",
        {"ids": [offer_id, "not-a-uuid"]},
        code="BAD_USER_INPUT",
        field="ids.1",
    )
    await refused(
        api,
        db,
        'mutation { archiveOffers(archive: true, ids: [%s, "not-a-uuid"]) '
        "{ response { succeededIds } } }" % literal(offer_id),
        code="BAD_USER_INPUT",
        field="ids.1",
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


@pytest.mark.parametrize("form", ["variable", "literal"])
async def test_null_for_a_required_input_field_is_bad_user_input(
    api: Api, db: Database, form: str
) -> None:
    if form == "variable":
        query = create_document("offer")
        variables: dict[str, Any] | None = {"input": {"title": None}}
    else:
        query = "mutation { createOffer(offer: {title: null}) { offer { id } } }"
        variables = None
    await refused(api, db, query, variables, code="BAD_USER_INPUT", field="offer.title")


# --- rule 6: bulk calls report unknown ids and never fail as a whole for them ---

BULK = {
    "archiveOffers": "archive: true, ",
    "archiveOfferEvents": "archive: true, ",
    "deleteOfferEventDates": "",
    "archiveContentItems": "archive: true, ",
    "archiveUsers": "archive: true, ",
}


def bulk_document(mutation: str) -> str:
    return (
        "mutation ($ids: [UUID!]!) { %s(%sids: $ids) { response { succeededIds failedIds } } }"
        % (
            mutation,
            BULK[mutation],
        )
    )


async def bulk_target(api: Api, mutation: str) -> str:
    """A real id of what ``mutation`` acts on."""
    if mutation == "archiveOffers":
        return await make_offer(api)
    if mutation == "archiveOfferEvents":
        return await make_event(api)
    if mutation == "deleteOfferEventDates":
        return await make_date(api, await make_event(api))
    if mutation == "archiveContentItems":
        return await make_content(api)
    return await create(api, "user")


@pytest.mark.parametrize("mutation", list(BULK))
async def test_bulk_call_with_only_unknown_ids_reports_them_failed_and_changes_nothing(
    api: Api, db: Database, mutation: str
) -> None:
    await bulk_target(api, mutation)
    unknown = [str(uuid.uuid4()), str(uuid.uuid4())]
    before = await snapshot(db)
    # An id in capitals is still that id, answered in canonical lower case (SPEC §2.5).
    data = await api.data(bulk_document(mutation), {"ids": [unknown[0].upper(), unknown[1]]})
    assert data[mutation]["response"] == {"succeededIds": [], "failedIds": unknown}
    assert await snapshot(db) == before


# --- rule 7: dates end after they start ---


@pytest.mark.parametrize("end", ["2025-09-12T08:59:59Z", START, "2025-09-12T10:00:00+02:00"])
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


# --- rule 9: refs are unique per entity type; e-mail addresses regardless of case ---


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("second_ref", ["dup-1", "  dup-1  "])
async def test_duplicate_ref_on_create_is_conflict(
    api: Api, db: Database, kind: str, second_ref: str
) -> None:
    # Refs are trimmed, so a padded copy is the same ref.
    await create(api, kind, ref="dup-1")
    await refused(
        api,
        db,
        create_document(kind),
        {"input": {**await valid_input(api, kind), "ref": second_ref}},
        code="CONFLICT",
        field=f"{kind}.ref",
    )


@pytest.mark.parametrize("kind", KINDS)
async def test_changing_a_ref_to_one_in_use_is_conflict(api: Api, db: Database, kind: str) -> None:
    await create(api, kind, ref="taken")
    other = await create(api, kind, ref="mine")
    title = TITLE_FIELD[kind]
    await refused(
        api,
        db,
        update_document(kind),
        {"id": other, "input": {title: "Renamed", "ref": "taken"}},
        code="CONFLICT",
        field=f"{kind}.ref",
    )
    # Keeping one's own ref is no conflict.
    await api.data(update_document(kind), {"id": other, "input": {"ref": "mine"}})


async def test_the_same_ref_on_different_entity_types_is_allowed(api: Api) -> None:
    for kind in KINDS:
        await create(api, kind, ref="shared-ref")


@pytest.mark.parametrize("kind", KINDS)
async def test_concurrent_creates_with_one_ref_give_one_success_and_conflicts(
    api: Api, kind: str
) -> None:
    # Two transactions may both find a ref free; the second must still get CONFLICT, not a
    # unique-index driver error (SPEC §3.9, §3.10).
    for round_ in range(3):
        ref = f"race-{round_}"
        inputs = [await valid_input(api, kind) for _ in range(8)]
        results = await asyncio.gather(
            *(api(create_document(kind), {"input": {**each, "ref": ref}}) for each in inputs)
        )
        created = [result for result in results if "errors" not in result]
        assert len(created) == 1, results
        for result in results:
            if "errors" in result:
                assert [error["extensions"] for error in result["errors"]] == [
                    {"code": "CONFLICT", "field": f"{kind}.ref"}
                ], result


async def test_concurrent_creates_with_one_email_in_any_case_give_one_success_and_conflicts(
    api: Api,
) -> None:
    for round_ in range(3):
        spellings = [f"Race-{round_}@Example.com", f"race-{round_}@example.COM"] * 4
        results = await asyncio.gather(
            *(
                api(create_document("user"), {"input": {"name": "Racer", "email": email}})
                for email in spellings
            )
        )
        assert len([result for result in results if "errors" not in result]) == 1, results
        for result in results:
            if "errors" in result:
                assert [error["extensions"] for error in result["errors"]] == [
                    {"code": "CONFLICT", "field": "user.email"}
                ], result


@pytest.mark.parametrize("email", ["ADA@EXAMPLE.COM", "Ada@Example.com", "  ada@example.com "])
async def test_duplicate_email_in_another_case_is_conflict(
    api: Api, db: Database, email: str
) -> None:
    await create(api, "user", email="ada@example.com")
    await refused(
        api,
        db,
        create_document("user"),
        {"input": {"name": "Ada again", "email": email}},
        code="CONFLICT",
        field="user.email",
    )
    other = await create(api, "user", email="grace@example.com")
    await refused(
        api,
        db,
        update_document("user"),
        {"id": other, "input": {"name": "Renamed", "email": email}},
        code="CONFLICT",
        field="user.email",
    )


# --- rule 10: bad input never reaches the database as a driver error ---


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("offer", "title"),
        ("offer", "ref"),
        ("offer", "description"),
        ("offerEvent", "title"),
        ("offerEvent", "ref"),
        ("contentItem", "title"),
        ("contentItem", "description"),
        ("contentItem", "url"),
        ("user", "name"),
        ("user", "ref"),
    ],
)
async def test_nul_character_is_bad_user_input_not_a_driver_error(
    api: Api, db: Database, kind: str, field: str
) -> None:
    # PostgreSQL cannot store U+0000 in text; both engines refuse it the same way.
    value = "https://example.com/before\u0000after" if field == "url" else "before\u0000after"
    await refused(
        api,
        db,
        create_document(kind),
        {"input": {**await valid_input(api, kind), field: value}},
        code="BAD_USER_INPUT",
        field=f"{kind}.{field}",
    )


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


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("title", ["", "   ", "\t\n "])
async def test_empty_or_blank_title_is_refused_on_create_and_update(
    api: Api, db: Database, kind: str, title: str
) -> None:
    field = TITLE_FIELD[kind]
    await refused(
        api,
        db,
        create_document(kind),
        {"input": {**await valid_input(api, kind), field: title}},
        code="BAD_USER_INPUT",
        field=f"{kind}.{field}",
    )
    existing = await create(api, kind)
    await refused(
        api,
        db,
        update_document(kind),
        {"id": existing, "input": {"ref": "changed", field: title}},
        code="BAD_USER_INPUT",
        field=f"{kind}.{field}",
    )


@pytest.mark.parametrize("kind", KINDS)
async def test_title_of_501_characters_is_refused_on_create_and_update(
    api: Api, db: Database, kind: str
) -> None:
    field = TITLE_FIELD[kind]
    await refused(
        api,
        db,
        create_document(kind),
        {"input": {**await valid_input(api, kind), field: "x" * 501}},
        code="BAD_USER_INPUT",
        field=f"{kind}.{field}",
    )
    existing = await create(api, kind)
    await refused(
        api,
        db,
        update_document(kind),
        {"id": existing, "input": {"ref": "changed", field: " " + "y" * 501 + " "}},
        code="BAD_USER_INPUT",
        field=f"{kind}.{field}",
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("title", ["x" * 500, "é" * 500, "  " + "z" * 500 + "\n"])
async def test_title_of_500_characters_is_accepted_and_stored_trimmed(
    api: Api, kind: str, title: str
) -> None:
    # 500 characters, not bytes; the padding around the last one does not count.
    field = TITLE_FIELD[kind]
    name = INPUT_TYPE[kind]
    data = await api.data(
        "mutation ($input: Create%sInput!) { create%s(%s: $input) { %s { %s } } }"
        % (name, name, kind, kind, field),
        {"input": {**await valid_input(api, kind), field: title}},
    )
    assert data[f"create{name}"][kind][field] == title.strip()


@pytest.mark.parametrize("kind", KINDS)
async def test_blank_or_overlong_ref_is_refused(api: Api, db: Database, kind: str) -> None:
    for ref in ("   ", "r" * 256):
        await refused(
            api,
            db,
            create_document(kind),
            {"input": {**await valid_input(api, kind), "ref": ref}},
            code="BAD_USER_INPUT",
            field=f"{kind}.ref",
        )
    await create(api, kind, ref="r" * 255)


@pytest.mark.parametrize("maximum", [0, -1])
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


@pytest.mark.parametrize("mutation", list(BULK))
async def test_more_than_1000_ids_in_a_bulk_call_is_refused_on_ids(
    api: Api, db: Database, mutation: str
) -> None:
    real = await bulk_target(api, mutation)
    ids = [real] + [str(uuid.uuid4()) for _ in range(1000)]
    await refused(
        api, db, bulk_document(mutation), {"ids": ids}, code="BAD_USER_INPUT", field="ids"
    )


@pytest.mark.parametrize("mutation", list(BULK))
async def test_1000_ids_in_a_bulk_call_are_accepted_and_unknown_ones_fail(
    api: Api, mutation: str
) -> None:
    real = await bulk_target(api, mutation)
    unknown = [str(uuid.uuid4()) for _ in range(999)]
    data = await api.data(bulk_document(mutation), {"ids": [*unknown[:500], real, *unknown[500:]]})
    assert data[mutation]["response"] == {"succeededIds": [real], "failedIds": unknown}


PAGINATED = ["paginatedOffers", "paginatedUsers", "paginatedContentItems"]


@pytest.mark.parametrize("listing", PAGINATED)
@pytest.mark.parametrize("first", [101, 0, -1, 1000])
async def test_page_size_outside_1_to_100_is_refused_on_first(
    api: Api, listing: str, first: int
) -> None:
    error = await api.error("query { %s(first: %d) { count } }" % (listing, first))
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}, error
    error = await api.error(
        "query ($first: Int) { %s(first: $first) { count } }" % listing, {"first": first}
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}, error


@pytest.mark.parametrize("listing", PAGINATED)
async def test_page_size_of_100_is_accepted(api: Api, listing: str) -> None:
    await make_offer(api)
    await make_content(api)
    await create(api, "user")
    data = await api.data("query { %s(first: 100) { count edges { cursor } } }" % listing)
    assert data[listing]["count"] == len(data[listing]["edges"]) == 1


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "after",
    [
        pytest.param("not a cursor", id="not-base64"),
        pytest.param(_cursor("2025-09-12T09:00:00+00:00"), id="no-id"),
        pytest.param(_cursor("2025-09-12T09:00:00+00:00|not-a-uuid"), id="bad-id"),
        pytest.param(_cursor(f"2025-09-12T09:00:00|{uuid.uuid4()}"), id="no-offset"),
        pytest.param(_cursor(f"0001-01-01T00:00:00+01:00|{uuid.uuid4()}"), id="before-year-1"),
    ],
)
@pytest.mark.parametrize("listing", PAGINATED)
async def test_cursor_the_api_did_not_give_out_is_refused_on_after(
    api: Api, listing: str, after: str
) -> None:
    error = await api.error(
        "query ($after: String) { %s(after: $after) { count } }" % listing, {"after": after}
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}, error


# An explicit null where a field has no null state: refused and named, never taken as "leave".
NULL_REFUSED = [
    ("updateOffer", "offer", "title"),
    ("updateOffer", "offer", "isActive"),
    ("createOffer", "offer", "isActive"),
    ("updateOfferEvent", "offerEvent", "title"),
    ("updateOfferEvent", "offerEvent", "offerId"),
    ("updateOfferEvent", "offerEvent", "waitingList"),
    ("updateOfferEvent", "offerEvent", "isActive"),
    ("createOfferEvent", "offerEvent", "waitingList"),
    ("createOfferEvent", "offerEvent", "isActive"),
    ("updateOfferEventDate", "offerEventDate", "start"),
    ("updateOfferEventDate", "offerEventDate", "end"),
    ("updateContentItem", "contentItem", "title"),
    ("updateUser", "user", "name"),
    ("updateUser", "user", "email"),
]


@pytest.mark.parametrize("form", ["variable", "literal"])
@pytest.mark.parametrize(("mutation", "argument", "field"), NULL_REFUSED)
async def test_explicit_null_for_a_field_without_a_null_state_is_refused(
    api: Api, db: Database, mutation: str, argument: str, field: str, form: str
) -> None:
    offer_id = await make_offer(api)
    event_id = await make_event(api, offerId=offer_id)
    ids = {
        "updateOffer": offer_id,
        "updateOfferEvent": event_id,
        "updateOfferEventDate": await make_date(api, event_id),
        "updateContentItem": await make_content(api),
        "updateUser": await create(api, "user"),
    }
    given: dict[str, Any] = {
        "createOffer": {"title": "New offer"},
        "createOfferEvent": {"offerId": offer_id, "title": "New event"},
    }.get(mutation, {})
    given = {**given, field: None}
    input_type = mutation[0].upper() + mutation[1:] + "Input"
    id_argument = f'id: "{ids[mutation]}", ' if mutation in ids else ""
    if form == "variable":
        query = "mutation ($input: %s!) { %s(%s%s: $input) { __typename } }" % (
            input_type,
            mutation,
            id_argument,
            argument,
        )
        variables: dict[str, Any] | None = {"input": given}
    else:
        fields = ", ".join(
            f"{key}: {'null' if value is None else literal(value)}" for key, value in given.items()
        )
        query = "mutation { %s(%s%s: {%s}) { __typename } }" % (
            mutation,
            id_argument,
            argument,
            fields,
        )
        variables = None
    await refused(api, db, query, variables, code="BAD_USER_INPUT", field=f"{argument}.{field}")


async def test_explicit_null_clears_a_field_that_has_a_null_state(api: Api) -> None:
    # The counterpart: where null means something (no ref, unlimited), it is a value.
    offer_id = await make_offer(api, ref="pm-1", description="Plan")
    data = await api.data(
        "mutation ($id: UUID!) { updateOffer(id: $id, offer: {ref: null, description: null}) "
        "{ offer { ref description } } }",
        {"id": offer_id},
    )
    assert data["updateOffer"]["offer"] == {"ref": None, "description": None}
    event_id = await make_event(api, offerId=offer_id, maxParticipants=3)
    data = await api.data(UPDATE_EVENT, {"id": event_id, "input": {"maxParticipants": None}})
    assert data["updateOfferEvent"]["offerEvent"]["maxParticipants"] is None


@pytest.mark.parametrize(
    ("query", "variables", "field"),
    [
        ("query($s: String) { offers(search: $s) { id } }", {"s": "a\x00b"}, "search"),
        (
            "query($s: String) { paginatedUsers(search: $s) { count } }",
            {"s": "\x00"},
            "search",
        ),
        (
            "query($s: String) { paginatedContentItems(search: $s) { count } }",
            {"s": "x\x00"},
            "search",
        ),
        ("query($r: String) { offer(ref: $r) { id } }", {"r": "r\x00"}, "ref"),
        ("query($r: String) { offerEvent(ref: $r) { id } }", {"r": "r\x00"}, "ref"),
        ("query($e: String) { user(email: $e) { id } }", {"e": "a\x00@example.com"}, "email"),
    ],
)
async def test_nul_character_in_a_look_up_is_bad_user_input(
    api: Api, db: Database, query: str, variables: dict[str, Any], field: str
) -> None:
    await refused(api, db, query, variables, code="BAD_USER_INPUT", field=field)
