"""The scope matrix (issue 4, point 7), built from the schema itself.

Every root field of Query and Mutation must carry a scope decision (``requires(scope)``); a
new field without one fails here by name. Then each field is called over HTTP with a token of
every scope set — each single scope, none, all — through a minimal operation generated from
the field's own arguments: allowed, it is not refused; not allowed, the one error is FORBIDDEN
naming the scope, and a refused mutation wrote nothing.
"""

import uuid
from dataclasses import dataclass
from typing import Any

import graphql
import pytest
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

from offerdesk.auth.scopes import ALL_SCOPES, Scope
from offerdesk.db import Database
from offerdesk.graphql.permissions import required_scope
from offerdesk.graphql.schema import build_schema

from .conftest import make_token
from .helpers import Api, snapshot

# SPEC §1: events.* covers offers, offer events, dates and enrollments; the others their own.
SCOPE_FAMILY_OF_PACKAGE = {
    "offers": "events",
    "events": "events",
    "enrollments": "events",
    "users": "users",
    "content": "content",
    # The change feed (issue 12) reads events.
    "outbox": "events",
}
SCOPE_SETS: list[frozenset[Scope]] = [
    frozenset(),
    *(frozenset({scope}) for scope in Scope),
    ALL_SCOPES,
]


@dataclass(frozen=True)
class RootField:
    operation: str  # "query" or "mutation"
    name: str  # as in GraphQL
    field: StrawberryField
    graphql_field: graphql.GraphQLField

    @property
    def scope(self) -> Scope | None:
        return required_scope(self.field.extensions)

    def __str__(self) -> str:
        return f"{self.operation} {self.name}"


def root_fields() -> list[RootField]:
    schema = build_schema()
    # The schema as served (its SDL), for the argument and return types of each field.
    served = graphql.build_schema(schema.as_str())
    found = []
    for operation, type_name in (("query", "Query"), ("mutation", "Mutation")):
        definition = schema.get_type_by_name(type_name)
        assert isinstance(definition, StrawberryObjectDefinition)
        graphql_type = served.get_type(type_name)
        assert isinstance(graphql_type, graphql.GraphQLObjectType)
        by_name = {schema.config.name_converter.get_graphql_name(f): f for f in definition.fields}
        # Every field the schema serves is one the matrix knows, and the other way round.
        assert set(by_name) == set(graphql_type.fields), type_name
        for name, field in by_name.items():
            found.append(RootField(operation, name, field, graphql_type.fields[name]))
    return found


ROOT_FIELDS = root_fields()


def test_the_schema_has_query_and_mutation_fields() -> None:
    operations = {field.operation for field in ROOT_FIELDS}
    assert operations == {"query", "mutation"}
    assert len(ROOT_FIELDS) >= 30


def test_every_root_field_has_a_scope_decision() -> None:
    undecided = [str(field) for field in ROOT_FIELDS if field.scope is None]
    assert not undecided, (
        "root fields without a scope decision (add extensions=requires(Scope.…)): "
        + ", ".join(undecided)
    )


def test_each_scope_fits_the_field() -> None:
    """Reads need a .read scope, writes a .write scope, of the family the SPEC gives the data."""
    wrong = []
    for field in ROOT_FIELDS:
        package = field.field.origin.__module__.split(".")[1]
        kind = "read" if field.operation == "query" else "write"
        # Webhooks: one scope for reads and writes (reading them shows where data goes).
        expected = (
            "webhooks.manage"
            if package == "webhooks"
            else f"{SCOPE_FAMILY_OF_PACKAGE[package]}.{kind}"
        )
        if field.scope != expected:
            wrong.append(f"{field}: {field.scope} (expected {expected})")
    assert not wrong, wrong


# --- a minimal operation for a field, from its arguments ---------------------------------

# Optional arguments still given: the look-ups need a key (exactly one of id or ref, …).
KEY_ARGUMENTS = ("id", "userId", "offerEventId")


def dummy_value(type_: graphql.GraphQLInputType, name: str = "") -> Any:
    """A well-formed JSON value for an input type (a variable's value); ``name`` is the
    argument's or input field's name, for the strings that have a form (an e-mail address)."""
    if isinstance(type_, graphql.GraphQLNonNull):
        return dummy_value(type_.of_type, name)
    if isinstance(type_, graphql.GraphQLList):
        return [dummy_value(type_.of_type, name)]
    if isinstance(type_, graphql.GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, graphql.GraphQLInputObjectType):
        return {
            key: dummy_value(field.type, key)
            for key, field in type_.fields.items()
            if graphql.is_required_input_field(field)
        }
    assert isinstance(type_, graphql.GraphQLScalarType)
    if name == "email":
        return f"matrix-{uuid.uuid4().hex[:8]}@example.com"
    values: dict[str, Any] = {
        "UUID": str(uuid.uuid4()),
        "ID": str(uuid.uuid4()),
        "String": f"Scope matrix {uuid.uuid4().hex[:8]}",
        "Int": 1,
        "Float": 1.0,
        "Boolean": True,
        "DateTime": "2030-01-01T09:00:00Z",
    }
    assert type_.name in values, f"no dummy value for the scalar {type_.name}: add one"
    return values[type_.name]


def minimal_operation(field: RootField) -> tuple[str, dict[str, Any]]:
    """``mutation($a: T!) { name(a: $a) { __typename } }`` with dummy values for ``$a``."""
    arguments = {
        name: argument
        for name, argument in field.graphql_field.args.items()
        if graphql.is_required_argument(argument) or name in KEY_ARGUMENTS
    }
    declarations = ", ".join(f"${name}: {argument.type}" for name, argument in arguments.items())
    passed = ", ".join(f"{name}: ${name}" for name in arguments)
    selection = ""
    if not graphql.is_leaf_type(graphql.get_named_type(field.graphql_field.type)):
        selection = " { __typename }"
    document = "%s%s { %s%s%s }" % (
        field.operation,
        f"({declarations})" if declarations else "",
        field.name,
        f"({passed})" if passed else "",
        selection,
    )
    variables = {name: dummy_value(argument.type, name) for name, argument in arguments.items()}
    return document, variables


def test_minimal_operations_are_valid_documents() -> None:
    served = graphql.build_schema(build_schema().as_str())
    for field in ROOT_FIELDS:
        document, variables = minimal_operation(field)
        parsed = graphql.parse(document)
        errors = graphql.validate(served, parsed)
        assert not errors, (str(field), document, errors)
        operation = parsed.definitions[0]
        assert isinstance(operation, graphql.OperationDefinitionNode)
        coerced = graphql.get_variable_values(
            served, operation.variable_definitions or (), variables
        )
        assert not isinstance(coerced, list), (str(field), coerced)  # a list of errors


DOMAIN_REFUSALS = {"NOT_FOUND", "BAD_USER_INPUT", "CONFLICT"}


def scope_set_id(scopes: frozenset[Scope]) -> str:
    if scopes == ALL_SCOPES:
        return "all"
    return " ".join(sorted(scopes)) or "none"


@pytest.mark.parametrize("field", ROOT_FIELDS, ids=str)
async def test_scope_matrix(api: Api, db: Database, field: RootField) -> None:
    needed = field.scope
    assert needed is not None, f"{field} has no scope decision"
    tokens = {scopes: await make_token(db, scopes) for scopes in SCOPE_SETS}
    for scopes, token in tokens.items():
        label = f"{field} with scopes [{scope_set_id(scopes)}]"
        document, variables = minimal_operation(field)
        before = await snapshot(db) if field.operation == "mutation" else None
        response = await api.post(document, variables, token=token)
        assert response.status_code == 200, (label, response.text)
        result = response.json()
        errors = result.get("errors", [])
        codes = [error["extensions"]["code"] for error in errors]
        if needed in scopes:
            # The field ran: its answer, or the domain's refusal of the dummy values (random
            # ids are NOT_FOUND), came back.
            assert set(codes) <= DOMAIN_REFUSALS, (label, errors)
            if errors:
                assert [error["path"] for error in errors] == [[field.name]], (label, errors)
            else:
                assert field.name in result["data"], (label, result)
        else:
            assert codes == ["FORBIDDEN"], (label, errors)
            assert needed.value in errors[0]["message"], (label, errors)
            assert errors[0]["path"] == [field.name], (label, errors)
            data = result.get("data")
            assert data is None or data[field.name] is None, (label, result)
            if before is not None:
                assert await snapshot(db) == before, f"{label}: a refused mutation wrote"
