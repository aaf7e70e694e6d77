"""Bad input on the wire across every entity kind (SPEC §2.5, §3 rules 6, 9-11).

These tests stay in one cross-cutting file because each is one rule checked over several
domains at once — a matrix over the four kinds with a title and a ref (offer, offer event,
content item, user), over every bulk mutation, or over every paginated listing — so splitting
them by domain would split one parametrised test into several. Every call goes through
``POST /graphql`` as a client sends it, and every refusal is checked for ``extensions.code``
and ``extensions.field`` and for leaving the database exactly as it was. Rules of one domain
are in ``tests/<domain>/test_api.py`` (the wire) and ``tests/<domain>/test_service.py``.
"""

import asyncio
import base64
import uuid
from typing import Any

import pytest

from offerdesk.db import Database

from .api_helpers import (
    BULK,
    INPUT_TYPE,
    KINDS,
    TITLE_FIELD,
    UPDATE_EVENT,
    bulk_document,
    bulk_target,
    create,
    create_document,
    literal,
    make_content,
    make_date,
    make_event,
    make_offer,
    refused,
    update_document,
    valid_input,
)
from .helpers import Api, snapshot

# --- rule 6: bulk calls report unknown ids and never fail as a whole for them ---


@pytest.mark.parametrize("mutation", list(BULK))
@pytest.mark.no_queries
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


# --- rule 9: refs are unique per entity type; e-mail addresses regardless of case ---


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("second_ref", ["dup-1", "  dup-1  "])
@pytest.mark.no_queries
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
@pytest.mark.no_queries
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
@pytest.mark.no_queries
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
@pytest.mark.no_queries
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


# --- rule 11: validation limits ---


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("title", ["", "   ", "\t\n "])
@pytest.mark.no_queries
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
@pytest.mark.no_queries
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
@pytest.mark.no_queries
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
@pytest.mark.no_queries
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


@pytest.mark.parametrize("mutation", list(BULK))
@pytest.mark.no_queries
async def test_more_than_1000_ids_in_a_bulk_call_is_refused_on_ids(
    api: Api, db: Database, mutation: str
) -> None:
    real = await bulk_target(api, mutation)
    ids = [real] + [str(uuid.uuid4()) for _ in range(1000)]
    await refused(
        api, db, bulk_document(mutation), {"ids": ids}, code="BAD_USER_INPUT", field="ids"
    )


@pytest.mark.parametrize("mutation", list(BULK))
@pytest.mark.no_queries
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
@pytest.mark.no_queries
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
