"""The cost limit (issue 15, item 1): a bound on the *answer*, computed before anything runs.

The depth, alias and token limits bound the document; a 180-character document nesting
``offer { offerEvents { offer { offerEvents … dates }}}`` still built a 410 MB answer. The cost
of an operation is the number of fields its answer can hold at most: every selected field
counts once for each time it can appear, and a list multiplies what is selected under it by
the most items it can have:

* a connection's ``edges`` by its page size (``first``, default 50, at most 100; the value of
  a variable when ``first`` is one),
* a plain list by its maximum (``LIST_MAXIMA``): dates per event, events per offer, content
  items per event are enforced on writes (``offerdesk.list_limits``); the ``offers`` list, a
  user's ``enrollments`` and an enrollment's ``history`` are not bounded by a write rule, and
  count with the estimate given here,
* any other list (ids in bulk answers, enrollments created in one call) by
  ``DEFAULT_LIST_SIZE``.

An operation over ``max_cost`` is refused with TOO_COMPLEX naming its cost and the limit.
Introspection fields are not counted (as for the depth limit): production turns introspection
off, and the token limit bounds it.
"""

from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NamedTypeNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)
from strawberry.extensions import SchemaExtension

from offerdesk.errors import DomainError, ErrorCode
from offerdesk.list_limits import (
    MAX_CONTENT_LINKS_PER_EVENT,
    MAX_DATES_PER_EVENT,
    MAX_EVENTS_PER_OFFER,
)
from offerdesk.pagination import MAX_PAGE_SIZE

DEFAULT_PAGE_SIZE = 50
DEFAULT_LIST_SIZE = 100

# (type, field) -> the most items the list can have (or the estimate it is counted with).
LIST_MAXIMA = {
    ("Offer", "offerEvents"): MAX_EVENTS_PER_OFFER,
    ("OfferEvent", "dates"): MAX_DATES_PER_EVENT,
    ("OfferEvent", "contentItems"): MAX_CONTENT_LINKS_PER_EVENT,
    # Not bounded by a write rule: estimates. ``offers`` at 250 admits the offers with their
    # events and dates (5 offers in the demo, hundreds in a small installation); with
    # thousands of offers it underestimates, and the request's time budget and the answer's
    # byte cap are what bound it: a catalogue goes through paginatedOffers.
    ("Query", "offers"): 250,
    ("Query", "enrollments"): 100,
    ("Enrollment", "history"): 20,
}


def operation_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
) -> int:
    """The most fields the answer to ``operation`` can hold (see the module's docstring)."""
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    walk = _Walk(schema, fragments, variables)
    return walk.cost(root, operation.selection_set, 1, DEFAULT_PAGE_SIZE, frozenset())


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        # The variables given as a ``first`` argument: all the walk reads of ``variables``.
        self.read: set[str] = set()

    def cost(
        self,
        parent: GraphQLObjectType,
        selection_set: SelectionSetNode | None,
        multiplier: int,
        page: int,
        seen: frozenset[str],
    ) -> int:
        """The cost of ``selection_set`` on ``parent``, each field counted ``multiplier``
        times; ``page`` is the page size of the connection ``parent`` is (if it is one)."""
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field(parent, selection, multiplier, page, seen)
            elif isinstance(selection, InlineFragmentNode):
                target = self._type(selection.type_condition, parent)
                total += self.cost(target, selection.selection_set, multiplier, page, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                # A fragment cycle is refused by validation; here it must only not loop.
                if name in self.fragments and name not in seen:
                    fragment = self.fragments[name]
                    target = self._type(fragment.type_condition, parent)
                    total += self.cost(
                        target, fragment.selection_set, multiplier, page, seen | {name}
                    )
        return total

    def _field(
        self,
        parent: GraphQLObjectType,
        node: FieldNode,
        multiplier: int,
        page: int,
        seen: frozenset[str],
    ) -> int:
        name = node.name.value
        field = parent.fields.get(name)
        if name.startswith("__") or field is None:
            return 0
        inner = multiplier
        field_type = field.type
        while isinstance(field_type, GraphQLNonNull | GraphQLList):
            if isinstance(field_type, GraphQLList):
                if name == "edges" and parent.name.endswith("Connection"):
                    inner *= page
                else:
                    inner *= LIST_MAXIMA.get((parent.name, name), DEFAULT_LIST_SIZE)
            field_type = field_type.of_type
        if not isinstance(field_type, GraphQLObjectType):
            return multiplier
        child_page = self._first_argument(node)
        return multiplier + self.cost(field_type, node.selection_set, inner, child_page, seen)

    def _first_argument(self, field: FieldNode) -> int:
        for argument in field.arguments or ():
            if argument.name.value != "first":
                continue
            if isinstance(argument.value, IntValueNode):
                return _page_size(int(argument.value.value))
            if isinstance(argument.value, VariableNode):
                self.read.add(argument.value.name.value)
                return _page_size(self.variables.get(argument.value.name.value))
            return _page_size(None)
        return DEFAULT_PAGE_SIZE

    def _type(
        self, condition: NamedTypeNode | None, parent: GraphQLObjectType
    ) -> GraphQLObjectType:
        if condition is None:
            return parent
        named = self.schema.get_type(condition.name.value)
        return named if isinstance(named, GraphQLObjectType) else parent


def _page_size(value: Any) -> int:
    """The page size a ``first`` of ``value`` is counted with."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_PAGE_SIZE:
        return value
    if value is None:
        return DEFAULT_PAGE_SIZE
    # A value the page rules refuse anyway (BAD_USER_INPUT): count the largest page.
    return MAX_PAGE_SIZE


class OperationCost:
    """``operation_cost`` of one operation, remembered by the only thing in a request that it
    depends on: the page sizes its ``first`` variables give. A known operation
    (graphql/direct.py) then costs a dictionary look-up per request instead of a walk."""

    # Distinct page-size combinations remembered; past that, each is walked again.
    MAX_REMEMBERED = 256

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDefinitionNode],
    ) -> None:
        self.schema = schema
        self.operation = operation
        self.fragments = fragments
        # Which variables the walk reads does not depend on their values: one walk tells.
        walk = _Walk(schema, fragments, {})
        root = schema.get_root_type(operation.operation)
        if root is not None:
            walk.cost(root, operation.selection_set, 1, DEFAULT_PAGE_SIZE, frozenset())
        self.names = tuple(sorted(walk.read))
        self._costs: dict[tuple[int, ...], int] = {}

    def __call__(self, variables: dict[str, Any]) -> int:
        """``operation_cost`` of the operation with ``variables`` (as sent)."""
        key = tuple(_page_size(variables.get(name)) for name in self.names)
        cost = self._costs.get(key)
        if cost is None:
            cost = operation_cost(self.schema, self.operation, self.fragments, variables)
            if len(self._costs) < self.MAX_REMEMBERED:
                self._costs[key] = cost
        return cost


class CostLimit(SchemaExtension):
    """Refuses an operation whose cost is over ``max_cost`` with TOO_COMPLEX, before it runs."""

    def __init__(self, max_cost: int) -> None:
        self.max_cost = max_cost

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        document = execution.graphql_document
        if document is not None:
            fragments = {
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            variables = execution.variables or {}
            schema = execution.schema._schema
            for definition in document.definitions:
                if not isinstance(definition, OperationDefinitionNode):
                    continue
                wanted = execution.operation_name
                if wanted is not None and (
                    definition.name is None or definition.name.value != wanted
                ):
                    continue
                cost = operation_cost(schema, definition, fragments, variables)
                if cost > self.max_cost:
                    raise DomainError(
                        ErrorCode.TOO_COMPLEX,
                        f"the operation's cost is {cost}; at most {self.max_cost}"
                        " (fields the answer can hold, list sizes multiplied: ask for smaller"
                        " pages or fewer nested lists)",
                    )
        yield
