"""The scope matrix (issue 4, point 7), built from the schema itself.

Every root field of Query and Mutation must carry a scope decision (``requires(scope)``); a
new field without one fails here by name. Then each field is called over HTTP with a token of
every scope set — each single scope, none, all — through a minimal operation generated from
the field's own arguments: allowed, it is not refused; not allowed, the one error is FORBIDDEN
naming the scope, and a refused mutation wrote nothing.

Then the data (issue 14): from the schema, every path from every root field to every field
that returns a protected type (``TYPE_READERS``), nested in Query types, in other roots'
data and in mutation payloads, is called with the scopes the path needs but the type's
(null, one FORBIDDEN at the path, the rest kept) and with the type's read or write scope
(the data).
"""

import copy
import uuid
from dataclasses import dataclass
from typing import Any

import graphql
import pytest
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

from offerdesk.auth.scopes import ALL_SCOPES, Scope
from offerdesk.db import Database
from offerdesk.graphql.permissions import TYPE_READERS, required_scope
from offerdesk.graphql.schema import build_schema

from .conftest import make_token
from .helpers import Api, snapshot
from .service_helpers import enroll, make_content, make_date, make_event, make_offer, make_user

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


# Query fields on both read paths (conftest); mutations send no query operation, so their
# half runs once.
@pytest.mark.parametrize("field", [f for f in ROOT_FIELDS if f.operation == "query"], ids=str)
async def test_scope_matrix(api: Api, db: Database, field: RootField) -> None:
    await check_scope_matrix(api, db, field)


@pytest.mark.no_queries
@pytest.mark.parametrize("field", [f for f in ROOT_FIELDS if f.operation == "mutation"], ids=str)
async def test_scope_matrix_of_mutations(api: Api, db: Database, field: RootField) -> None:
    await check_scope_matrix(api, db, field)


async def check_scope_matrix(api: Api, db: Database, field: RootField) -> None:
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


# --- a type's data needs its scope wherever it is reached (issue 14, item 5) -------------

# Object types without data of their own: what they carry is checked at its own fields.
OPEN_TYPES = {"Query", "Mutation", "PageInfo", "BulkResponse"}


def executable_schema() -> graphql.GraphQLSchema:
    return build_schema()._schema


def test_every_object_type_has_a_reading_decision() -> None:
    """Each object type is protected by its area's scopes, or is a payload or list wrapper
    that holds no data of its own; a new type fails here until it is given one."""
    schema = executable_schema()
    undecided = [
        name
        for name, type_ in schema.type_map.items()
        if isinstance(type_, graphql.GraphQLObjectType)
        and not name.startswith("__")
        and name not in TYPE_READERS
        and name not in OPEN_TYPES
        and not name.endswith("Payload")
    ]
    assert not undecided, f"add these types to TYPE_READERS or say why they are open: {undecided}"
    for name, readers in TYPE_READERS.items():
        assert name in schema.type_map, name
        # A type is read with its area's read scope or, implied, its write scope; webhooks
        # have one scope for both.
        [family] = {scope.value.split(".")[0] for scope in readers}
        if family == "webhooks":
            assert readers == {Scope.WEBHOOKS_MANAGE}, name
        else:
            assert readers == {Scope(f"{family}.read"), Scope(f"{family}.write")}, name


@dataclass(frozen=True)
class Step:
    """One field on the way: ``parent.name``, and the field's GraphQL type."""

    parent: str
    name: str
    type: graphql.GraphQLOutputType

    @property
    def is_list(self) -> bool:
        return isinstance(graphql.get_nullable_type(self.type), graphql.GraphQLList)

    def __str__(self) -> str:
        return f"{self.parent}.{self.name}"


@dataclass(frozen=True)
class TypePath:
    """From a root field to a field that returns a protected type (the last step)."""

    operation: str
    steps: tuple[Step, ...]

    @property
    def root(self) -> str:
        return self.steps[0].name

    @property
    def target(self) -> str:
        return graphql.get_named_type(self.steps[-1].type).name

    def response_path(self) -> list[str | int]:
        """Where the last field is in the answer: list positions 0 (one row per list)."""
        path: list[str | int] = []
        for step in self.steps[:-1]:
            path.append(step.name)
            if step.is_list:
                path.append(0)
        return [*path, self.steps[-1].name]

    def __str__(self) -> str:
        return f"{self.operation} " + ".".join(step.name for step in self.steps)


# Lists that are empty in the payload of a call that creates their owner: the paths through
# them reach nothing (test_a_new_objects_lists_are_empty checks that they are).
EMPTY_IN_PAYLOAD = {
    ("createOffer", "Offer.offerEvents"),
    ("createOfferEvent", "OfferEvent.enrollments"),
}


def type_paths() -> list[TypePath]:
    """For every root field and every field that returns a protected type reachable from
    it — nested in Query types, in other roots' data, in mutation payloads — the shortest
    path from the one to the other (breadth first; each type is entered once per root)."""
    schema = executable_schema()
    found = []
    for operation, root_type in (
        ("query", schema.query_type),
        ("mutation", schema.mutation_type),
    ):
        assert root_type is not None
        for name, field in root_type.fields.items():
            first = Step(root_type.name, name, field.type)
            if graphql.get_named_type(field.type).name in TYPE_READERS:
                found.append(TypePath(operation, (first,)))
            queue: list[tuple[Step, ...]] = [(first,)]
            entered = {graphql.get_named_type(field.type).name}
            while queue:
                steps = queue.pop(0)
                parent = graphql.get_named_type(steps[-1].type)
                if not isinstance(parent, graphql.GraphQLObjectType):
                    continue
                for child_name, child in parent.fields.items():
                    step = Step(parent.name, child_name, child.type)
                    if (name, str(step)) in EMPTY_IN_PAYLOAD:
                        continue
                    target = graphql.get_named_type(child.type).name
                    if target in TYPE_READERS:
                        found.append(TypePath(operation, (*steps, step)))
                    if target not in entered:
                        entered.add(target)
                        queue.append((*steps, step))
    return found


# The change feed's and the webhooks' types are reached only from their own roots, which
# require a scope among the types' readers (checked below): a path to them is the root's own
# scope, which the root matrix above tests. The paths here are the data that one scope's
# operations reach of another's.
OWN_ROOT_TYPES = frozenset(
    {
        "Change",
        "ChangeConnection",
        "ChangeEdge",
        "WebhookSubscription",
        "WebhookDelivery",
        "WebhookDeliveryConnection",
        "WebhookDeliveryEdge",
    }
)
ALL_TYPE_PATHS = type_paths()
TYPE_PATHS = [path for path in ALL_TYPE_PATHS if path.target not in OWN_ROOT_TYPES]


def test_the_feed_and_webhook_types_are_reached_only_through_roots_of_their_scope() -> None:
    schema = executable_schema()
    for path in ALL_TYPE_PATHS:
        if path.target not in OWN_ROOT_TYPES:
            continue
        root_type = schema.query_type if path.operation == "query" else schema.mutation_type
        assert root_type is not None
        field = root_type.fields[path.root]
        strawberry_field = (field.extensions or {}).get("strawberry-definition")
        scope = required_scope(getattr(strawberry_field, "extensions", None) or [])
        assert scope in TYPE_READERS[path.target], (str(path), scope)


@dataclass(frozen=True)
class World:
    """One of everything, so that every list on a path holds exactly one row."""

    offer: str
    event: str
    date: str
    content: str
    user: str
    user_ref: str


def fresh() -> str:
    return uuid.uuid4().hex[:8]


# The arguments of each root field whose answer reaches a protected type, for a call that
# succeeds in ``World`` (values made fresh per call where a second call must not collide).
ROOT_ARGUMENTS: dict[str, Any] = {
    "offer": lambda w: {"id": w.offer},
    "offers": lambda w: {},
    "paginatedOffers": lambda w: {},
    "offerEvent": lambda w: {"id": w.event},
    "enrollment": lambda w: {"userId": w.user, "offerEventId": w.event},
    "enrollments": lambda w: {"userId": w.user},
    "contentItem": lambda w: {"id": w.content},
    "paginatedContentItems": lambda w: {},
    "user": lambda w: {"id": w.user},
    "paginatedUsers": lambda w: {},
    "createOffer": lambda w: {"offer": {"title": f"Offer {fresh()}"}},
    "updateOffer": lambda w: {"id": w.offer, "offer": {"title": f"Offer {fresh()}"}},
    "createOfferEvent": lambda w: {
        "offerEvent": {
            "offerId": w.offer,
            "title": f"Event {fresh()}",
            "contentId": w.content,
            "dates": [{"start": "2030-01-01T09:00:00Z", "end": "2030-01-01T12:00:00Z"}],
        }
    },
    "updateOfferEvent": lambda w: {"id": w.event, "offerEvent": {"title": f"Event {fresh()}"}},
    "createOfferEventDate": lambda w: {
        "offerEventDate": {
            "offerEventId": w.event,
            "start": "2030-02-01T09:00:00Z",
            "end": "2030-02-01T12:00:00Z",
        }
    },
    "updateOfferEventDate": lambda w: {"id": w.date, "offerEventDate": {"location": fresh()}},
    "enrollUserInOfferEvent": lambda w: {"enrollment": {"userId": w.user, "offerEventId": w.event}},
    "createOfferEventEnrollments": lambda w: {"offerEventId": w.event, "userIds": [w.user]},
    "createContentItem": lambda w: {"contentItem": {"type": "TRAINING", "title": fresh()}},
    "updateContentItem": lambda w: {"id": w.content, "contentItem": {"title": fresh()}},
    "createUser": lambda w: {"user": {"name": fresh(), "email": f"{fresh()}@example.com"}},
    "updateUser": lambda w: {"id": w.user, "user": {"name": fresh()}},
    "updateOrCreateUser": lambda w: {"ref": w.user_ref, "user": {"name": fresh()}},
}


def test_the_paths_cover_every_way_to_a_protected_type() -> None:
    roots = {path.root for path in TYPE_PATHS}
    assert roots == set(ROOT_ARGUMENTS), "give ROOT_ARGUMENTS for a new root field"
    targets = {path.target for path in TYPE_PATHS}
    assert targets == set(TYPE_READERS) - OWN_ROOT_TYPES
    # Every field of the schema that returns a protected type is on some path.
    schema = executable_schema()
    returning = {
        f"{type_.name}.{name}"
        for type_ in schema.type_map.values()
        if isinstance(type_, graphql.GraphQLObjectType) and not type_.name.startswith("__")
        for name, field in type_.fields.items()
        if graphql.get_named_type(field.type).name in set(TYPE_READERS) - OWN_ROOT_TYPES
    }
    assert {str(path.steps[-1]) for path in TYPE_PATHS} == returning
    # The leaks issue 14 found are among them.
    shown = {str(path) for path in TYPE_PATHS}
    assert {
        "query offerEvent.enrollments.edges.node.user",
        "query enrollment.user",
        "query enrollments.user",
        "mutation enrollUserInOfferEvent.enrollment.user",
        "query offerEvent.contentItems",
    } <= shown


def path_document(path: TypePath) -> str:
    """``query($a: T) { root(a: $a) { __typename f { __typename … last { __typename id } } } }``
    for ``ROOT_ARGUMENTS``' variables; ``__typename`` at every level is the rest of the answer
    that a refusal of the last field must keep."""
    schema = executable_schema()
    root_type = schema.query_type if path.operation == "query" else schema.mutation_type
    assert root_type is not None
    target = schema.type_map[path.target]
    assert isinstance(target, graphql.GraphQLObjectType)
    inner = "__typename id" if "id" in target.fields else "__typename"
    for step in reversed(path.steps[1:]):
        parent = schema.type_map[step.parent]
        assert isinstance(parent, graphql.GraphQLObjectType)
        inner = f"__typename {step.name}{one_page(parent.fields[step.name])} {{ {inner} }}"
    root = root_type.fields[path.root]
    arguments = ROOT_ARGUMENTS[path.root](WORLD_SHAPE)
    declarations = ", ".join(f"${name}: {root.args[name].type}" for name in arguments)
    given = [f"{name}: ${name}" for name in arguments]
    if one_page(root):
        given.append("first: 1")
    passed = ", ".join(given)
    return "%s%s { %s%s { %s } }" % (
        path.operation,
        f"({declarations})" if declarations else "",
        path.root,
        f"({passed})" if passed else "",
        inner,
    )


def one_page(field: graphql.GraphQLField) -> str:
    """``(first: 1)`` for a connection: the world holds one row per list, and nested default
    pages of 50 would cost more than the limit allows (docs/api.md, Cost)."""
    return "(first: 1)" if "first" in field.args else ""


# For the names of ROOT_ARGUMENTS' arguments.
NIL = str(uuid.UUID(int=0))
WORLD_SHAPE = World(NIL, NIL, NIL, NIL, NIL, "ref")


async def make_world(db: Database) -> World:
    offer = await make_offer(db)
    item = await make_content(db)
    event = await make_event(db, offer.id, content_id=item.id)
    date = await make_date(db, event.id)
    user = await make_user(db, ref=f"u-{fresh()}")
    await enroll(db, user.id, event.id)
    return World(
        offer=str(offer.id),
        event=str(event.id),
        date=str(date.id),
        content=str(item.id),
        user=str(user.id),
        user_ref=str(user.ref),
    )


def at(data: Any, path: list[str | int]) -> Any:
    for key in path:
        data = data[key]
    return data


def without(data: Any, path: list[str | int]) -> Any:
    """``data`` with the value at ``path`` replaced by null."""
    copied = copy.deepcopy(data)
    at(copied, path[:-1])[path[-1]] = None
    return copied


def minimal_scopes(path: TypePath) -> frozenset[Scope]:
    """The root field's scope and, for each protected type the path passes before its last
    field, that type's read scope where nothing held already grants it (SPEC §1, by
    ``TYPE_READERS``, not by what the schema checks)."""
    schema = executable_schema()
    root_type = schema.query_type if path.operation == "query" else schema.mutation_type
    assert root_type is not None
    root_scope = required_scope(
        root_type.fields[path.root].extensions["strawberry-definition"].extensions
    )
    assert root_scope is not None
    held = {root_scope}
    for step in path.steps[:-1]:
        readers = TYPE_READERS.get(graphql.get_named_type(step.type).name)
        if readers is not None and readers.isdisjoint(held):
            held.add(min(readers))  # the .read scope sorts first
    return frozenset(held)


def test_a_field_that_can_be_refused_is_nullable() -> None:
    """Where a path's scopes do not grant the type its last field returns, that field can be
    refused: it must be nullable, or GraphQL's null propagation would take its parent (an
    enrollment, the roster, the event) with it (docs/decisions.md)."""
    non_null = {
        str(path.steps[-1])
        for path in TYPE_PATHS
        if TYPE_READERS[path.target].isdisjoint(minimal_scopes(path))
        and isinstance(path.steps[-1].type, graphql.GraphQLNonNull)
    }
    assert not non_null, non_null


QUERY_ROOTS = {field.name for field in ROOT_FIELDS if field.operation == "query"}


# Query roots on both read paths (conftest); a mutation's payload is no query operation, so
# that half runs once.
@pytest.mark.parametrize("root", sorted(QUERY_ROOTS & set(ROOT_ARGUMENTS)))
async def test_a_type_needs_its_scope_wherever_it_is_reached(
    api: Api, db: Database, root: str
) -> None:
    await check_type_scopes(api, db, root)


@pytest.mark.no_queries
@pytest.mark.parametrize("root", sorted(set(ROOT_ARGUMENTS) - QUERY_ROOTS))
async def test_a_type_needs_its_scope_in_every_mutation_payload(
    api: Api, db: Database, root: str
) -> None:
    await check_type_scopes(api, db, root)


async def check_type_scopes(api: Api, db: Database, root: str) -> None:
    """For every path from ``root`` to a protected type: where the scopes the path needs do
    not already grant the type, a token without it gets the field null, ONE FORBIDDEN error
    naming the type's scopes at that path, and the rest of the answer; a token with the
    type's read or its write scope gets the data. Where the path grants the type (its root
    field's own scope, a type of the same area above), the data comes."""
    world = await make_world(db)
    tokens: dict[frozenset[Scope], str] = {}

    async def call(path: TypePath, scopes: frozenset[Scope]) -> dict[str, Any]:
        if scopes not in tokens:
            tokens[scopes] = await make_token(db, scopes)
        variables = ROOT_ARGUMENTS[root](world)
        response = await api.post(path_document(path), variables, token=tokens[scopes])
        assert response.status_code == 200, (str(path), response.text)
        result: dict[str, Any] = response.json()
        return result

    paths = [path for path in TYPE_PATHS if path.root == root]
    assert paths
    for path in paths:
        label = f"{path} with {{{scope_set_id(minimal_scopes(path))}}}"
        needed = TYPE_READERS[path.target]
        scopes = minimal_scopes(path)
        where = path.response_path()
        if not needed.isdisjoint(scopes):
            granted = await call(path, scopes)
            assert "errors" not in granted, (label, granted)
            assert at(granted["data"], where) is not None, (label, granted)
            continue
        refused = await call(path, scopes)
        answers = {reader: await call(path, scopes | {reader}) for reader in sorted(needed)}
        for reader, answer in answers.items():
            assert "errors" not in answer, (label, reader, answer)
            assert at(answer["data"], where) is not None, (label, reader, answer)
        errors = refused.get("errors", [])
        assert len(errors) == 1, (label, refused)
        [error] = errors
        assert error["extensions"]["code"] == "FORBIDDEN", (label, error)
        assert error["path"] == where, (label, error)
        for reader in needed:
            assert reader.value in error["message"], (label, error)
        assert path.target in error["message"], (label, error)
        # The rest of the answer is kept: the answer with the scope, this field null.
        assert refused["data"] == without(answers[min(needed)]["data"], where), (label, refused)


async def test_a_new_objects_lists_are_empty(api: Api, db: Database) -> None:
    """The paths EMPTY_IN_PAYLOAD leaves out reach nothing: the lists are empty there."""
    world = await make_world(db)
    for root, coordinate in EMPTY_IN_PAYLOAD:
        field = coordinate.split(".")[1]
        payload = {"createOffer": "offer", "createOfferEvent": "offerEvent"}[root]
        mutation = executable_schema().mutation_type
        assert mutation is not None
        root_field = mutation.fields[root]
        arguments = ROOT_ARGUMENTS[root](world)
        declarations = ", ".join(f"${name}: {root_field.args[name].type}" for name in arguments)
        passed = ", ".join(f"{name}: ${name}" for name in arguments)
        selection = f"{field} {{ __typename }}"
        if field == "enrollments":
            selection = f"{field} {{ count }}"
        data = await api.data(
            f"mutation({declarations}) {{ {root}({passed}) {{ {payload} {{ {selection} }} }} }}",
            arguments,
        )
        value = data[root][payload][field]
        assert value in ([], {"count": 0}), (root, value)


async def test_the_leaks_issue_14_found_give_no_personal_data(api: Api, db: Database) -> None:
    """A catalogue token (events.read) reading rosters, and an events.write token enrolling
    someone, get the enrollments with their userId but no name or e-mail address."""
    world = await make_world(db)
    personal = await api.data("query($u: UUID!) { user(id: $u) { name email } }", {"u": world.user})
    reader = await make_token(db, frozenset({Scope.EVENTS_READ}))
    writer = await make_token(db, frozenset({Scope.EVENTS_WRITE}))
    user = {"userId": world.user, "user": None}
    cases = [
        (
            reader,
            "query($e: UUID!) { offerEvent(id: $e) { id enrollments { edges { node { "
            "userId user { name email } } } } } }",
            ["offerEvent", "enrollments", "edges", 0, "node", "user"],
            {"offerEvent": {"id": world.event, "enrollments": {"edges": [{"node": user}]}}},
        ),
        (
            reader,
            "query($u: UUID!, $e: UUID!) { enrollment(userId: $u, offerEventId: $e) { "
            "userId user { name email } } }",
            ["enrollment", "user"],
            {"enrollment": user},
        ),
        (
            reader,
            "query($u: UUID!) { enrollments(userId: $u) { userId user { name email } } }",
            ["enrollments", 0, "user"],
            {"enrollments": [user]},
        ),
        (
            writer,
            "mutation($u: UUID!, $e: UUID!) { enrollUserInOfferEvent(enrollment: "
            "{userId: $u, offerEventId: $e}) { enrollment { userId user { name email } } } }",
            ["enrollUserInOfferEvent", "enrollment", "user"],
            {"enrollUserInOfferEvent": {"enrollment": user}},
        ),
    ]
    for token, document, where, data in cases:
        response = await api.post(document, {"u": world.user, "e": world.event}, token=token)
        for value in personal["user"].values():
            assert value not in response.text, response.text
        body = response.json()
        assert body["data"] == data, body
        [error] = body["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert error["path"] == where
        assert "users.read or users.write" in error["message"]
