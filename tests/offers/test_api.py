"""Offers on the wire: bad input to the offer mutations refused through ``POST /graphql`` with
``extensions.code`` and the API's input path in ``extensions.field`` (a malformed id, a null
title), changing nothing. The rules themselves are tested through the service in
test_service.py; matrices over every entity kind are in tests/test_input_rules_all_kinds.py.
"""

from typing import Any

import pytest

from offerdesk.db import Database

from ..api_helpers import (
    create_document,
    literal,
    make_offer,
    refused,
)
from ..helpers import Api

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
@pytest.mark.no_queries
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
@pytest.mark.no_queries
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


@pytest.mark.parametrize("form", ["variable", "literal"])
@pytest.mark.no_queries
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


# --- issue 14 (2): one cleaning rule for titles, names and refs ---

CREATE_OFFER = """
mutation($offer: CreateOfferInput!) { createOffer(offer: $offer) { offer { id title ref } } }"""
CREATE_USER = """
mutation($user: CreateUserInput!) { createUser(user: $user) { user { id name ref } } }"""
OFFER_BY_REF = "query($ref: String) { offer(ref: $ref) { id ref } }"


@pytest.mark.parametrize("invisible", ["\u200b\u200b", "\ufeff", " \u200d\u2060 ", "\u200e\t"])
@pytest.mark.no_queries
async def test_a_title_name_or_ref_of_invisible_characters_is_refused_as_empty(
    api: Api, invisible: str
) -> None:
    error = await api.error(CREATE_OFFER, {"offer": {"title": invisible}})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "offer.title"}
    error = await api.error(CREATE_USER, {"user": {"name": invisible, "email": "a@example.org"}})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "user.name"}
    error = await api.error(CREATE_OFFER, {"offer": {"title": "Visible", "ref": invisible}})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "offer.ref"}


async def test_edges_are_cleaned_and_text_is_nfc_so_the_clean_ref_finds_it(api: Api) -> None:
    data = await api.data(
        CREATE_OFFER, {"offer": {"title": "\ufeffRene\u0301 \u200b", "ref": "\ufeffhr-7\u200b"}}
    )
    offer = data["createOffer"]["offer"]
    assert (offer["title"], offer["ref"]) == ("Ren\u00e9", "hr-7")
    for spelling in ("hr-7", "\ufeffhr-7", "hr-7\u200b "):
        found = await api.data(OFFER_BY_REF, {"ref": spelling})
        assert found["offer"] == {"id": offer["id"], "ref": "hr-7"}, spelling
    # A format character inside a value is part of it (only the edges are cleaned).
    inner = await api.data(CREATE_OFFER, {"offer": {"title": "a\u200bb"}})
    assert inner["createOffer"]["offer"]["title"] == "a\u200bb"
