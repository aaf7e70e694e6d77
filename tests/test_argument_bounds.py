"""Variables' shape and String arguments' lengths are bounded before anything runs (issue 15,
item 4): BAD_USER_INPUT naming the variable or argument, the same on both engines."""

from typing import Any

import pytest

from offerdesk.graphql.inputs import ARGUMENT_MAX_LENGTH, MAX_VARIABLE_DEPTH

from .helpers import Api


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def only_error(answer: dict[str, Any]) -> dict[str, Any]:
    assert "data" not in answer or answer["data"] is None, answer
    [error] = answer["errors"]
    return error  # type: ignore[no-any-return]


@pytest.mark.parametrize("depth", [MAX_VARIABLE_DEPTH + 1, 254, 900])
async def test_deeply_nested_variables_are_bad_input_even_unused(api: Api, depth: int) -> None:
    error = only_error(await api("{ offers { id } }", {"deep": nested(depth)}))
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "variables.deep"}
    deep_list: Any = []
    for _ in range(depth):
        deep_list = [deep_list]
    error = only_error(await api("{ offers { id } }", {"deepList": deep_list}))
    assert error["extensions"]["field"] == "variables.deepList"


async def test_variables_deeper_than_the_json_parser_goes_are_bad_input(api: Api) -> None:
    # orjson stops at 1024 levels: the body is "not JSON", still a clear 400, never a 500.
    depth = 5000
    body = (
        '{"query": "{ offers { id } }", "variables": {"deep": '
        + '{"a": ' * depth
        + "1"
        + "}" * depth
        + "}}"
    )
    response = await api.client.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {api.token}", "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert only_error(response.json())["extensions"]["code"] == "BAD_USER_INPUT"


async def test_variables_at_the_depth_limit_and_a_bulk_call_are_admitted(api: Api) -> None:
    assert await api.data("{ offers { id } }", {"deep": nested(MAX_VARIABLE_DEPTH)}) == {
        "offers": []
    }
    ids = [f"00000000-0000-0000-0000-{i:012d}" for i in range(1000)]
    answer = await api.data(
        "mutation($ids: [UUID!]!) {"
        " archiveOffers(archive: true, ids: $ids) { response { failedIds } } }",
        {"ids": ids},
    )
    assert len(answer["archiveOffers"]["response"]["failedIds"]) == 1000


async def test_too_many_variable_values_are_bad_input(api: Api) -> None:
    error = only_error(await api("{ offers { id } }", {"many": list(range(20_000))}))
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "variables"}


@pytest.mark.parametrize(
    ("query", "argument"),
    [
        ("query($s: String) { offers(search: $s) { id } }", "search"),
        ("query($s: String) { paginatedUsers(search: $s) { count } }", "search"),
        ("query($s: String) { paginatedContentItems(search: $s) { count } }", "search"),
        ("query($s: String) { offer(ref: $s) { id } }", "ref"),
        ("query($s: String) { user(email: $s) { id } }", "email"),
        ("query($s: String) { paginatedOffers(after: $s) { count } }", "after"),
    ],
)
@pytest.mark.parametrize("size", [50_000, 1])
async def test_string_arguments_over_their_maximum_are_bad_input(
    api: Api, query: str, argument: str, size: int
) -> None:
    limit = ARGUMENT_MAX_LENGTH[argument]
    too_long = "x" * (limit + size)
    error = only_error(await api(query, {"s": too_long}))
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": argument}
    assert f"at most {limit} characters" in error["message"]
    # The same value as a literal.
    literal = query.replace("query($s: String) ", "").replace("$s", f'"{too_long}"')
    error = only_error(await api(literal))
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": argument}


async def test_a_search_at_its_maximum_runs_on_both_engines(api: Api) -> None:
    term = "%_" * (ARGUMENT_MAX_LENGTH["search"] // 2)
    assert await api.data("query($s: String) { offers(search: $s) { id } }", {"s": term}) == {
        "offers": []
    }


async def test_list_of_string_arguments_name_the_item(api: Api) -> None:
    refs = ["ok", "y" * 300]
    error = only_error(
        await api(
            'mutation($r: [String!]) { createOfferEventEnrollments(offerEventRef: "e",'
            " userRefs: $r) { id } }",
            {"r": refs},
        )
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "userRefs.1"}
