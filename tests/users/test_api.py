"""Users on the wire: e-mail addresses are unique regardless of case (SPEC §2.4, §3.9), refused
through ``POST /graphql`` as CONFLICT on ``user.email``, also under concurrent creates. The
rules themselves are tested through the service in test_service.py.
"""

import asyncio

import pytest

from offerdesk.db import Database

from ..api_helpers import (
    create,
    create_document,
    refused,
    update_document,
)
from ..helpers import Api

# --- rule 9: refs are unique per entity type; e-mail addresses regardless of case ---


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
@pytest.mark.no_queries
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
