"""A validated query operation compiled into one SQL statement: a plan.

The statement's one value is the answer's ``data`` object as JSON text. Fields are collected
by graphql-core's own ``collect_fields`` (fragments, inline fragments, ``@include``/``@skip``,
merging of equal response keys), so the members come in the order the executor writes them.
What no declaration covers (or the engine cannot write) raises ``Fallback`` naming it.

A plan serves every request with the same document, operation and variable *shape*
(``variable_shape``): which variables are null, which strings are blank, the value of each
boolean. Everything else a request sends is a bound parameter, computed per request by
``Plan.parameters`` with graphql-core's argument coercion.
"""

import itertools
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    get_named_type,
)
from graphql.execution.collect_fields import (
    FieldDetailsList,
    FragmentDetails,
    GroupedFieldSet,
    collect_fields,
    collect_subfields,
)
from graphql.execution.values import VariableValues, get_argument_values
from sqlalchemy import ColumnElement, FromClause, Select, bindparam, func, select
from sqlalchemy.orm import aliased, join
from sqlalchemy.sql.visitors import iterate
from strawberry.permission import PermissionExtension

from offerdesk.errors import DomainError
from offerdesk.graphql.compiler.declarations import (
    Connection,
    Fallback,
    First,
    Link,
    Rows,
    TypeMap,
    Value,
    Write,
)
from offerdesk.graphql.compiler.json_sql import BOOLEAN, INT, STRING, JsonSql, json_sql, leaf_kind
from offerdesk.graphql.cost import OperationCost
from offerdesk.graphql.documents import document_bytes
from offerdesk.graphql.lru import BytesLRU
from offerdesk.graphql.permissions import field_readers, required_scope
from offerdesk.pagination import after_condition, decode_cursor, keyset_order, page_size

ParamSource = Callable[[VariableValues, dict[int, dict[str, Any]]], Any]


# Distinct scope sets a plan remembers its answer for (Plan.missing_scopes).
MAX_SCOPE_SETS = 64


@dataclass(frozen=True, eq=False)
class Plan:
    """One statement for a (document, operation, variable shape), the parameters it takes
    and the scopes its fields need: each member of ``scopes`` is a set of which the principal
    must hold one (a root field's scope alone; a protected type's read and write scopes).
    ``data`` is the answer's ``data`` object as JSON text, an SQL expression with no FROM of
    its own (graphql/direct.py puts it beside the token check)."""

    data: ColumnElement[Any]
    params: tuple[tuple[str, ParamSource], ...]
    scopes: frozenset[frozenset[str]]
    # A mutation's plan: its one root field's change, ``data`` being the payload read after
    # it (graphql/direct.py).
    write: "PlannedWrite | None" = None
    # missing_scopes by the scopes held: a service's callers hold a handful of scope sets.
    _missing: dict[frozenset[str], tuple[str, ...]] = field(
        default_factory=dict, init=False, repr=False
    )
    # SQLAlchemy's compiled form of ``statement`` (its ``compiled_cache`` execution option),
    # kept with the plan: in the engine's own cache, bounded by count, it would keep the
    # statements of plans long evicted from ``Plans`` alive.
    compiled_cache: dict[Any, Any] = field(default_factory=dict, compare=False)

    @property
    def statement(self) -> Select[Any]:
        """The statement whose one value is ``data``."""
        return select(self.data.label("data"))

    def missing_scopes(self, held: frozenset[str]) -> tuple[str, ...]:
        """What a principal holding the scopes ``held`` lacks, each as ``a or b``, sorted; empty
        when it may read everything the plan answers. (``Scope`` members are strings: a
        principal's scopes are taken as they are.)"""
        missing = self._missing.get(held)
        if missing is None:
            missing = tuple(
                sorted(" or ".join(sorted(needed)) for needed in self.scopes if not needed & held)
            )
            if len(self._missing) < MAX_SCOPE_SETS:
                self._missing[held] = missing
        return missing

    def parameters(self, variables: VariableValues) -> dict[str, Any]:
        """This request's parameter values; ``Fallback`` when one is refused (a malformed
        cursor, a page size out of range, a NUL character: the executor's error answers)."""
        arguments: dict[int, dict[str, Any]] = {}
        return {name: source(variables, arguments) for name, source in self.params}


@dataclass(frozen=True)
class PlannedWrite:
    """A mutation plan's change: its declaration, and the root field's coerced arguments for
    a request's variables (``Fallback`` when they do not coerce)."""

    write: Write
    arguments: Callable[[VariableValues], dict[str, Any]]


@dataclass(frozen=True)
class Unsupported:
    """A (document, operation, variable shape) the executor answers, and why."""

    reason: str


def variable_shape(variables: VariableValues) -> tuple[tuple[str, Any], ...]:
    """What of the variables' values can change a plan: null or not, blank or not, booleans."""
    return tuple(sorted((name, _shape(value)) for name, value in variables.coerced.items()))


def _shape(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return "text" if value.strip() else "blank"
    if isinstance(value, list):
        return tuple(_shape(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((key, _shape(item)) for key, item in value.items()))
    return "value"


class _Arguments:
    """``declarations.Args`` for one field node, reading values while the plan is built and
    registering bound parameters read per request."""

    def __init__(self, builder: "_Builder", definition: GraphQLField | None, node: FieldNode):
        self._builder = builder
        self._definition = definition
        self._node = node
        self._values = builder.argument_values(definition, node, builder.variables, {})

    def given(self, name: str) -> bool:
        return self._values.get(name) is not None

    def text_given(self, name: str) -> bool:
        value = self._values.get(name)
        return isinstance(value, str) and bool(value.strip())

    def flag(self, name: str) -> bool | None:
        value = self._values.get(name)
        if value is not None and not isinstance(value, bool):
            raise Fallback(f"argument {name} is not a Boolean")
        return value

    def one_of(self, *names: str) -> str:
        given = [name for name in names if self.given(name)]
        if len(given) != 1:
            raise Fallback(f"not exactly one of {', '.join(names)}")
        return given[0]

    def param(self, name: str, prepare: Callable[[Any], Any] | None = None) -> Any:
        definition, node, values_of = self._definition, self._node, self._builder.argument_values

        def source(variables: VariableValues, memo: dict[int, dict[str, Any]]) -> Any:
            value = values_of(definition, node, variables, memo).get(name)
            if prepare is None:
                return value
            try:
                return prepare(value)
            except DomainError as exc:
                raise Fallback(f"argument {name}: {exc.code.value}") from exc

        return self._builder.parameter(source)


class _Builder:
    def __init__(
        self,
        schema: GraphQLSchema,
        maps: Mapping[str, TypeMap],
        dialect: str,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDetails],
        variables: VariableValues,
    ) -> None:
        self.schema = schema
        self.maps = maps
        self.dialect = dialect
        self.json: JsonSql = json_sql(dialect)
        self.operation = operation
        self.fragments = fragments
        self.variables = variables
        self.params: list[tuple[str, ParamSource]] = []
        self.scopes: set[frozenset[str]] = set()
        self.write: PlannedWrite | None = None
        self._names = itertools.count()

    def parameter(self, source: ParamSource) -> Any:
        name = f"p{next(self._names)}"
        self.params.append((name, source))
        return bindparam(name)

    @staticmethod
    def argument_values(
        definition: GraphQLField | None,
        node: FieldNode,
        variables: VariableValues,
        memo: dict[int, dict[str, Any]],
    ) -> dict[str, Any]:
        if definition is None:
            return {}
        if id(node) not in memo:
            try:
                memo[id(node)] = get_argument_values(definition, node, variables)
            except GraphQLError as exc:
                raise Fallback(f"arguments of {node.name.value}: {exc.message}") from exc
        return memo[id(node)]

    def build(self) -> ColumnElement[Any]:
        root = self.schema.get_root_type(self.operation.operation)
        if root is None or root.name not in self.maps:
            raise Fallback(f"no {self.operation.operation.value} type")
        grouped = collect_fields(
            self.schema, self.fragments, self.variables, root, self.operation
        ).grouped_field_set
        if self.operation.operation is OperationType.MUTATION and len(grouped) != 1:
            # The executor runs several mutation fields one after another, each in its own
            # transaction, and answers a refused one beside the others.
            raise Fallback("a mutation of several fields")
        return self.object(root, self.maps[root.name], None, grouped)

    def object(
        self,
        graphql_type: GraphQLObjectType,
        type_map: TypeMap,
        row: Any,
        grouped: GroupedFieldSet,
    ) -> ColumnElement[Any]:
        members = [
            (key, self.field(graphql_type, type_map, row, details))
            for key, details in grouped.items()
        ]
        return self.json.obj(members)

    def subfields(self, graphql_type: Any, details: FieldDetailsList) -> GroupedFieldSet:
        if not isinstance(graphql_type, GraphQLObjectType):
            raise Fallback(f"selection on {graphql_type}")
        return collect_subfields(
            self.schema, self.fragments, self.variables, self.operation, graphql_type, details
        ).grouped_field_set

    def _check_field(self, parent: GraphQLObjectType, definition: GraphQLField) -> None:
        """The scopes a field's resolver checks (its own, and its type's where it returns a
        protected type) become the plan's; any other field extension would change the
        executor's answer in a way the plan does not know."""
        strawberry_field = (definition.extensions or {}).get("strawberry-definition")
        extensions = getattr(strawberry_field, "extensions", None) or []
        for extension in extensions:
            if not isinstance(extension, PermissionExtension):
                raise Fallback(f"{parent.name} field with {type(extension).__name__}")
        scope = required_scope(extensions)
        if scope is not None:
            self.scopes.add(frozenset({scope.value}))
        readers = field_readers(definition)
        if readers is not None:
            self.scopes.add(frozenset(reader.value for reader in readers))

    def field(
        self, parent: GraphQLObjectType, type_map: TypeMap, row: Any, details: FieldDetailsList
    ) -> ColumnElement[Any]:
        node = details[0].node
        name = node.name.value
        if name == "__typename":
            return self.json.string(parent.name)
        definition = parent.fields.get(name)
        declaration = type_map.fields.get(name)
        if definition is None or declaration is None:
            raise Fallback(f"{parent.name}.{name}")
        self._check_field(parent, definition)
        named = get_named_type(definition.type)
        kind_name = "enum" if isinstance(named, GraphQLEnumType) else named.name
        if isinstance(declaration, Write):
            return self.changed(declaration, definition, node, named, details)
        if isinstance(declaration, Value):
            expr = declaration.sql(row)
            return self.json.leaf(leaf_kind(kind_name, expr), expr)
        args = _Arguments(self, definition, node)
        if isinstance(declaration, First):
            return self.first(parent, type_map, row, declaration, kind_name)
        if isinstance(declaration, Link):
            return self.link(row, declaration, args, named, details)
        return self.connection(row, declaration, args, named, details)

    def changed(
        self,
        declaration: Write,
        definition: GraphQLField,
        node: FieldNode,
        named: Any,
        details: FieldDetailsList,
    ) -> ColumnElement[Any]:
        """A mutation root field: its change is the plan's ``write``, and its value the
        payload, whose fields reach their rows through the change's result
        (``declarations.result_id``)."""
        if self.dialect not in declaration.dialects:
            raise Fallback(f"{node.name.value} on {self.dialect}")
        payload = self.maps.get(declaration.payload)
        if payload is None:
            raise Fallback(f"type {declaration.payload}")
        values_of = self.argument_values

        def arguments(variables: VariableValues) -> dict[str, Any]:
            return values_of(definition, node, variables, {})

        self.write = PlannedWrite(declaration, arguments)
        return self.object(named, payload, None, self.subfields(named, details))

    def _target(self, name: str) -> TypeMap:
        target = self.maps.get(name)
        if target is None or target.model is None:
            raise Fallback(f"type {name}")
        return target

    def _from(self, child: Any, rows: Rows) -> FromClause:
        from_: Any = child
        for table, on in rows.joins:
            from_ = join(from_, table, on)
        return from_  # type: ignore[no-any-return]

    def link(
        self, row: Any, declaration: Link, args: _Arguments, named: Any, details: FieldDetailsList
    ) -> ColumnElement[Any]:
        target = self._target(declaration.target)
        child = aliased(target.model)
        rows = declaration.rows(row, child, args)
        element = self.object(named, target, child, self.subfields(named, details))
        from_ = self._from(child, rows)
        correlate = [row] if row is not None else []
        if declaration.many:
            return self.json.array(element, from_, rows.where, rows.order_by, correlate)
        one = select(element).select_from(from_).where(*rows.where).order_by(*rows.order_by)
        return self.json.one(one.correlate(*correlate) if correlate else one)

    def first(
        self, parent: GraphQLObjectType, type_map: TypeMap, row: Any, declaration: First, kind: str
    ) -> ColumnElement[Any]:
        link = type_map.fields.get(declaration.link)
        if not isinstance(link, Link):
            raise Fallback(f"{parent.name}.{declaration.link} is not a link")
        target = self._target(link.target)
        value = target.fields.get(declaration.field)
        if not isinstance(value, Value):
            raise Fallback(f"{target.name}.{declaration.field} is not a value")
        child = aliased(target.model)
        link_field = parent.fields[declaration.link]
        # The link's arguments at their defaults: contentTitle is the first of all items.
        bare = FieldNode(name=NameNode(value=declaration.link), arguments=(), directives=())
        rows = link.rows(row, child, _Arguments(self, link_field, bare))
        raw = (
            select(value.sql(child))
            .select_from(self._from(child, rows))
            .where(*rows.where)
            .order_by(*rows.order_by)
            .limit(1)
            .correlate(row)
            .scalar_subquery()
        )
        return self.json.leaf(leaf_kind(kind, raw), raw)

    def connection(
        self,
        row: Any,
        declaration: Connection,
        args: _Arguments,
        named: Any,
        details: FieldDetailsList,
    ) -> ColumnElement[Any]:
        target = self._target(declaration.target)
        correlate = [row] if row is not None else []
        # Both checked per request even when the selection does not use them, as the
        # executor checks them (pagination.paginate).
        size = args.param("first", page_size)
        size_and_one = args.param("first", lambda first: page_size(first) + 1)
        after = None
        if args.given("after"):
            after = (
                args.param("after", lambda cursor: decode_cursor(cursor)[0]),
                args.param("after", lambda cursor: decode_cursor(cursor)[1]),
            )

        def page(limit: Any) -> Any:
            """The ids of the page's rows (``limit`` of them at most), in keyset order: a
            subquery in FROM, correlated to the parent row where there is one."""
            base = aliased(target.model)
            where = list(declaration.where(row, base, args))
            if after is not None:
                where.append(after_condition(base, *after))
            rows = (
                select(base.id.label("id")).where(*where).order_by(*keyset_order(base)).limit(limit)
            )
            return (rows.correlate(*correlate) if correlate else rows).subquery()

        members = []
        for key, field_details in self.subfields(named, details).items():
            name = field_details[0].node.name.value
            field_type = get_named_type(named.fields[name].type) if name in named.fields else None
            if name == "__typename":
                value = self.json.string(named.name)
            elif name == "edges":
                value = self.edges(target, page(size), correlate, field_type, field_details)
            elif name == "pageInfo":
                value = self.page_info(target, page, size, size_and_one, field_type, field_details)
            elif name == "count":
                counted = aliased(target.model)
                total = (
                    select(func.count())
                    .select_from(counted)
                    .where(*declaration.where(row, counted, args))
                )
                total = total.correlate(*correlate) if correlate else total
                value = self.json.leaf(INT, total.scalar_subquery())
            else:
                raise Fallback(f"{named.name}.{name}")
            members.append((key, value))
        return self.json.obj(members)

    def edges(
        self,
        target: TypeMap,
        page: Any,
        correlate: list[Any],
        edge_type: Any,
        details: FieldDetailsList,
    ) -> ColumnElement[Any]:
        node = aliased(target.model)
        members = []
        for key, field_details in self.subfields(edge_type, details).items():
            name = field_details[0].node.name.value
            if name == "__typename":
                value = self.json.string(edge_type.name)
            elif name == "node":
                node_type = get_named_type(edge_type.fields["node"].type)
                grouped = self.subfields(node_type, field_details)
                value = self.object(node_type, target, node, grouped)
            elif name == "cursor":
                value = self.json.leaf(STRING, self.json.cursor(node.created_at, node.id))
            else:
                raise Fallback(f"{edge_type.name}.{name}")
            members.append((key, value))
        from_ = join(page, node, node.id == page.c.id)
        return self.json.array(self.json.obj(members), from_, [], keyset_order(node), correlate)

    def page_info(
        self,
        target: TypeMap,
        page: Callable[[Any], Any],
        size: Any,
        size_and_one: Any,
        info_type: Any,
        details: FieldDetailsList,
    ) -> ColumnElement[Any]:
        members = []
        for key, field_details in self.subfields(info_type, details).items():
            name = field_details[0].node.name.value
            if name == "__typename":
                value = self.json.string(info_type.name)
            elif name == "hasNextPage":
                more = select(func.count()).select_from(page(size_and_one)).scalar_subquery()
                value = self.json.leaf(BOOLEAN, more > size)
            elif name == "endCursor":
                ids = page(size)
                last = aliased(target.model)
                cursor = (
                    select(self.json.cursor(last.created_at, last.id))
                    .select_from(join(ids, last, last.id == ids.c.id))
                    .order_by(*(column.desc() for column in keyset_order(last)))
                    .limit(1)
                    .scalar_subquery()
                )
                value = self.json.leaf(STRING, cursor)
            else:
                raise Fallback(f"{info_type.name}.{name}")
            members.append((key, value))
        return self.json.obj(members)


def compile_operation(
    schema: GraphQLSchema,
    maps: Mapping[str, TypeMap],
    dialect: str,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: VariableValues,
) -> Plan:
    """The plan of a validated query ``operation`` for ``variables``' shape; ``Fallback``
    names what cannot be compiled."""
    fragments = {
        definition.name.value: FragmentDetails(definition)
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    builder = _Builder(schema, maps, dialect, operation, fragments, variables)
    data = builder.build()
    return Plan(data, tuple(builder.params), frozenset(builder.scopes), builder.write)


@dataclass(frozen=True)
class KnownOperation:
    """A query operation that has been answered by a compiled plan: its document passed
    parsing, the token limit, validation and the choice of operation (graphql/direct.py)."""

    document: DocumentNode
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    # The operation's cost, by the variables of a request (graphql/cost.py).
    cost: OperationCost

    @property
    def name(self) -> str | None:
        """The operation's own name."""
        return self.operation.name.value if self.operation.name else None


# What a plan holds in memory per element of its statement (``sqlalchemy.sql.visitors.iterate``)
# once it has run: the statement's objects with their memoized column collections, its cache
# key and its compiled form. Measured with tracemalloc over distinct documents from 27 to 291
# characters (101 to 1,017 elements, 113 KiB to 1 MiB per plan): 1,010-1,730 bytes per element
# (bench/MEMORY.md).
PLAN_BYTES_PER_ELEMENT = 1800


def plan_bytes(plan: "Plan | Unsupported") -> int:
    """An estimate of what ``plan`` holds in memory, in bytes, once it has run."""
    if isinstance(plan, Unsupported):
        return sys.getsizeof(plan.reason) + 64
    return PLAN_BYTES_PER_ELEMENT * sum(1 for _ in iterate(plan.statement))


class Plans:
    """Plans (and refusals) by (engine, document, operation name, variable shape), at most
    ``max_bytes`` of them as ``plan_bytes`` estimates, keys included: least recently used
    first out, beside the document cache (graphql/schema.py)."""

    def __init__(self, maps: Mapping[str, TypeMap], max_bytes: int) -> None:
        self.maps = maps
        # Plans, and the operations known to have compiled (under ("known", text, name)), in
        # one bound: a known operation keeps its document's tree alive.
        self._plans: BytesLRU[tuple[Any, ...], Plan | Unsupported | KnownOperation] = BytesLRU(
            max_bytes
        )

    def known(self, query: str, operation_name: str | None) -> KnownOperation | None:
        """The compiled operation that a request of ``query`` and ``operation_name`` (as sent:
        None when the document has one operation) runs."""
        known = self._plans.get(("known", query, operation_name))
        return known if isinstance(known, KnownOperation) else None

    def remember(
        self,
        schema: GraphQLSchema,
        query: str,
        document: DocumentNode,
        operation: OperationDefinitionNode,
    ) -> None:
        """Note that ``operation`` of ``query`` passed the schema's checks and was answered by
        a plan: under its name, and under no name when it is the document's only operation
        (the two ways a request can choose it). Counted as its document would be
        (graphql/documents.py), which it keeps alive."""
        fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        known = KnownOperation(
            document, operation, fragments, OperationCost(schema, operation, fragments)
        )
        operations = [
            definition
            for definition in document.definitions
            if isinstance(definition, OperationDefinitionNode)
        ]
        names = {known.name}
        if len(operations) == 1:
            names.add(None)
        size = sys.getsizeof(query) + document_bytes(query)
        for name in names:
            self._plans.put(("known", query, name), known, size)

    def get(
        self,
        schema: GraphQLSchema,
        dialect: str,
        query: str,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: VariableValues,
    ) -> Plan | Unsupported:
        """The plan for this request, compiled on first use."""
        name = operation.name.value if operation.name else None
        key = (dialect, query, name, variable_shape(variables))
        plan = self._plans.get(key)
        if isinstance(plan, Plan | Unsupported):
            return plan
        try:
            plan = compile_operation(schema, self.maps, dialect, document, operation, variables)
        except Fallback as exc:
            plan = Unsupported(exc.reason)
        self._plans.put(key, plan, sys.getsizeof(query) + sys.getsizeof(key) + plan_bytes(plan))
        return plan

    def __len__(self) -> int:
        """The number of plans (and refusals) kept, known operations aside."""
        return sum(1 for key in self._plans.ordered_keys() if key[0] != "known")
