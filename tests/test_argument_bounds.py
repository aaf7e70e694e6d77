"""Variables' shape and String arguments' lengths are bounded before anything runs (issue 15,
item 4): BAD_USER_INPUT naming the variable or argument, the same on both engines."""

import uuid
from pathlib import Path
from typing import Any

import graphql
import pytest

from offerdesk.graphql.inputs import ARGUMENT_MAX_LENGTH, MAX_VARIABLE_DEPTH

from .helpers import Api

ROOT = Path(__file__).resolve().parents[1]


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


def _string_arguments() -> list[tuple[str, str, str, bool]]:
    """Every (operation type, root field, String argument, is a list) of schema.graphql."""
    schema = graphql.build_schema((ROOT / "schema.graphql").read_text())
    found = []
    for kind, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        assert root is not None
        for field_name, field in root.fields.items():
            for arg_name, arg in field.args.items():
                if graphql.get_named_type(arg.type) is graphql.GraphQLString:
                    is_list = isinstance(graphql.get_nullable_type(arg.type), graphql.GraphQLList)
                    found.append((kind, field_name, arg_name, is_list))
    return found


def _placeholder(type_: Any) -> Any:
    """A valid value of a required argument's type, so the document validates."""
    named = graphql.get_named_type(type_)
    if isinstance(graphql.get_nullable_type(type_), graphql.GraphQLList):
        return [_placeholder(graphql.get_nullable_type(type_).of_type)]
    if isinstance(named, graphql.GraphQLInputObjectType):
        return {
            name: _placeholder(field.type)
            for name, field in named.fields.items()
            if graphql.is_non_null_type(field.type)
        }
    if isinstance(named, graphql.GraphQLEnumType):
        return next(iter(named.values))
    return {
        "UUID": str(uuid.uuid4()),
        "Boolean": False,
        "Int": 1,
        "String": "x",
        "DateTime": "2030-01-01T00:00:00Z",
    }[named.name]


STRING_ARGUMENTS = _string_arguments()


@pytest.mark.parametrize(
    ("kind", "field_name", "argument", "is_list"),
    STRING_ARGUMENTS,
    ids=[f"{kind} {field}({arg})" for kind, field, arg, _ in STRING_ARGUMENTS],
)
async def test_a_nul_in_any_string_argument_is_bad_input_naming_it(
    api: Api, kind: str, field_name: str, argument: str, is_list: bool
) -> None:
    """Issue 14 (3): a NUL in any String argument of any root field, in a list too, is
    refused before anything runs, naming the exact argument path, on both engines."""
    schema = graphql.build_schema((ROOT / "schema.graphql").read_text())
    root = schema.query_type if kind == "query" else schema.mutation_type
    assert root is not None
    field = root.fields[field_name]
    variables: dict[str, Any] = {}
    declared = []
    for name, arg in field.args.items():
        if name == argument:
            variables[name] = ["ok", "nul\x00"] if is_list else "nul\x00"
        elif graphql.is_non_null_type(arg.type):
            variables[name] = _placeholder(arg.type)
        else:
            continue
        declared.append((name, str(arg.type)))
    signature = ", ".join(f"${name}: {type_}" for name, type_ in declared)
    call = ", ".join(f"{name}: ${name}" for name, _ in declared)
    selection = (
        "" if graphql.is_leaf_type(graphql.get_named_type(field.type)) else " { __typename }"
    )
    document = f"{kind}({signature}) {{ {field_name}({call}){selection} }}"
    error = only_error(await api(document, variables))
    expected = f"{argument}.1" if is_list else argument
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": expected}, document
    assert "NUL" in error["message"]
