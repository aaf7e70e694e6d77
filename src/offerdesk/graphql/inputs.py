"""Bounds on what a request carries besides its document (issue 15, item 4), checked before
any of it reaches graphql-core's coercion, the response cache's key encoder or a driver.

* Variables: at most ``MAX_VARIABLE_DEPTH`` levels of nesting and ``MAX_VARIABLE_VALUES``
  values in all. The deepest legitimate input (an event with its dates) is 4 levels; a variable
  nested 254 levels deep made the cache's encoder fail (INTERNAL_SERVER_ERROR), even unused.
* String arguments (``search``, look-up ``ref``s and ``email``, cursors, ``userRefs``): a
  maximum length each (``ARGUMENT_MAX_LENGTH``, else ``DEFAULT_ARGUMENT_MAX_LENGTH``), the same
  on both engines. A 50,000-character ``search`` went past SQLite's LIKE pattern limit.
  No NUL character either (U+0000, which PostgreSQL cannot take in text): a ref with one in
  ``userRefs`` was INTERNAL_SERVER_ERROR on PostgreSQL and NOT_FOUND on SQLite.
  String fields of input objects (titles, descriptions, …) have their own rules in the
  services (docs/api.md).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    GraphQLSchema,
    GraphQLString,
    ListValueNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    ValueNode,
    VariableNode,
    get_named_type,
    visit,
)
from graphql.language import Visitor
from strawberry.extensions import SchemaExtension

from offerdesk.errors import bad_input

if TYPE_CHECKING:
    from offerdesk.graphql.documents import DocumentCache

MAX_VARIABLE_DEPTH = 16
MAX_VARIABLE_VALUES = 10_000

# Characters. A ref is at most 255 where it is stored, so a longer one names nothing; an
# e-mail address at most 320 (RFC 5321: 64 + 1 + 255); a cursor is about 60.
ARGUMENT_MAX_LENGTH = {
    "search": 200,
    "ref": 255,
    "offerEventRef": 255,
    "userRefs": 255,
    "email": 320,
    "after": 200,
}
DEFAULT_ARGUMENT_MAX_LENGTH = 1000


def check_variables(variables: dict[str, Any]) -> None:
    """Raises DomainError (BAD_USER_INPUT, field ``variables.<name>``) when a variable is nested
    deeper than MAX_VARIABLE_DEPTH or the variables hold more than MAX_VARIABLE_VALUES values.

    Iterative, so a hostile depth cannot exhaust Python's stack here either."""
    count = 0
    for name, value in variables.items():
        stack: list[tuple[Any, int]] = [(value, 1)]
        while stack:
            item, depth = stack.pop()
            count += 1
            if count > MAX_VARIABLE_VALUES:
                raise bad_input(
                    "variables", f"the variables hold more than {MAX_VARIABLE_VALUES} values"
                )
            if depth > MAX_VARIABLE_DEPTH:
                raise bad_input(
                    f"variables.{name}",
                    f"variable ${name} is nested more than {MAX_VARIABLE_DEPTH} levels deep",
                )
            if isinstance(item, dict):
                stack.extend((child, depth + 1) for child in item.values())
            elif isinstance(item, list):
                stack.extend((child, depth + 1) for child in item)


@dataclass(frozen=True)
class StringArgument:
    """A String argument of a document: its name, its value node (a literal, a variable or a
    list of them) and its maximum length."""

    name: str
    value: ValueNode
    limit: int


def string_arguments(schema: GraphQLSchema, document: DocumentNode) -> list[StringArgument]:
    """Every argument of type String (or a list of String) in ``document``, in order."""
    type_info = TypeInfo(schema)
    found: list[StringArgument] = []

    class Arguments(Visitor):
        def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
            argument = type_info.get_argument()
            if argument is None or get_named_type(argument.type) is not GraphQLString:
                return
            name = node.name.value
            limit = ARGUMENT_MAX_LENGTH.get(name, DEFAULT_ARGUMENT_MAX_LENGTH)
            found.append(StringArgument(name, node.value, limit))

    visit(document, TypeInfoVisitor(type_info, Arguments()))
    return found


def check_strings(arguments: list[StringArgument], variables: dict[str, Any]) -> None:
    """Raises DomainError (BAD_USER_INPUT naming the argument, ``userRefs.0`` for an item of a
    list) for the first of ``arguments`` (``string_arguments``), given as a literal or a
    variable, that is longer than its maximum or holds a NUL character."""
    for argument in arguments:
        for field, value in _strings(argument.name, argument.value, variables):
            if len(value) > argument.limit:
                raise bad_input(field, f"{field} must be at most {argument.limit} characters")
            if "\x00" in value:
                raise bad_input(field, f"{field} must not contain the NUL character (U+0000)")


def _strings(name: str, value: Any, variables: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if isinstance(value, VariableNode):
        value = variables.get(value.name.value)
    elif isinstance(value, StringValueNode):
        value = value.value
    elif isinstance(value, ListValueNode):
        for index, item in enumerate(value.values):
            for _, text in _strings(name, item, variables):
                yield f"{name}.{index}", text
        return
    if isinstance(value, str):
        yield name, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                yield f"{name}.{index}", item


class InputLimits(SchemaExtension):
    """Checks the variables' shape and the String arguments' lengths before execution (and so
    before the response cache reads anything)."""

    def __init__(self, documents: "DocumentCache") -> None:
        self.documents = documents

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        variables = execution.variables or {}
        check_variables(variables)
        document = execution.graphql_document
        if document is not None and execution.query is not None:
            strings = self.documents.string_arguments(
                execution.schema._schema,
                execution.query,
                execution.parse_options.get("max_tokens"),
                document,
            )
            check_strings(strings, variables)
        yield
