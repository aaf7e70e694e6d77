"""Limits on the answer (issue 15, items 1 and 2): a byte cap on what is sent."""

from typing import Any

import pytest

from .helpers import Api


@pytest.fixture
def app_overrides(compiled_reads: bool) -> dict[str, Any]:
    # Both read paths (conftest): a compiled answer is written into the body as the
    # statement's text, and must be capped like the executor's.
    return {"max_response_bytes": 2048, "compiled_reads": compiled_reads}


async def test_an_answer_over_the_byte_cap_is_refused_with_too_complex(api: Api) -> None:
    for index in range(12):
        await api.data(
            "mutation($t: String!) { createOffer(offer: {title: $t}) { offer { id } } }",
            {"t": f"{index:02d} " + "x" * 200},
        )
    small = await api.data("{ offers { id } }")
    assert len(small["offers"]) == 12
    response = await api.post("{ offers { id title } }")
    assert response.status_code == 200
    answer = response.json()
    assert "data" not in answer
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "TOO_COMPLEX"
    assert "at most 2048" in error["message"]
