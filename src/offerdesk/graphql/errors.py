"""Turning every error into the shape of SPEC §2.5, once, in one place.

Expected refusals (``DomainError``) go out as they are. Everything unexpected is masked: the
client gets ``INTERNAL_SERVER_ERROR`` and a request id, the log gets the detail under that id.
"""

import logging
import re
from collections.abc import Iterator
from typing import Any

from graphql import (
    ArgumentNode,
    BooleanValueNode,
    DocumentNode,
    EnumValueNode,
    FloatValueNode,
    GraphQLError,
    IntValueNode,
    ListValueNode,
    Node,
    NullValueNode,
    ObjectValueNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    visit,
)
from graphql.error import GraphQLSyntaxError
from graphql.language import Visitor
from strawberry.extensions import SchemaExtension
from strawberry.utils.str_converters import to_camel_case

from offerdesk.errors import DomainError, ErrorCode
from offerdesk.graphql.limits import TOKEN_LIMIT_MESSAGE

log = logging.getLogger("offerdesk.errors")

_VARIABLE_ERROR = re.compile(r"^Variable '\$(\w+)' has invalid value(?: at ([^:]+))?:")


class ErrorPhases(SchemaExtension):
    """Tags errors with the phase they come from, which is all that tells them apart."""

    def on_parse(self) -> Iterator[None]:
        yield
        self._tag(lambda _: ErrorCode.GRAPHQL_PARSE_FAILED)

    def on_validate(self) -> Iterator[None]:
        yield
        self._tag(
            lambda error: (
                ErrorCode.BAD_USER_INPUT
                if _refused_literal(error)
                else ErrorCode.GRAPHQL_VALIDATION_FAILED
            )
        )

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        document = self.execution_context.graphql_document
        for error in getattr(result, "errors", None) or []:
            # No path: graphql-core refused a variable before any field ran.
            if not error.path and document is not None:
                field = _variable_path(error.message, document)
                _set_code(error, ErrorCode.BAD_USER_INPUT, field)

    def _tag(self, code_of: Any) -> None:
        document = self.execution_context.graphql_document
        for error in self.execution_context.pre_execution_errors or []:
            code = code_of(error)
            field = None
            if code == ErrorCode.BAD_USER_INPUT and document is not None:
                field = _literal_path(document, error.nodes or [])
            _set_code(error, code, field)


# The literals a leaf type parses itself; graphql-core's errors about them are refusals of
# the value (``maxParticipants: 3000000000``, ``title: null``), not of the document's shape.
_LEAF_LITERALS = (
    IntValueNode,
    FloatValueNode,
    StringValueNode,
    BooleanValueNode,
    EnumValueNode,
    NullValueNode,
)


def _refused_literal(error: GraphQLError) -> bool:
    """A literal that its type refused is bad input, as the same value in a variable is.

    Our scalars' errors (a malformed UUID, a time without an offset) come with the scalar's
    error as the cause; built-in scalars (``Int`` out of range) and non-null checks raise
    their own error on the one literal node.
    """
    if error.original_error is not None:
        return True
    nodes = error.nodes or []
    return len(nodes) == 1 and isinstance(nodes[0], _LEAF_LITERALS)


# graphql-core's messages for an unknown directive and for one repeated at a location.
_DIRECTIVE_ERROR = re.compile(r"^(Unknown directive '@|The directive '@.*' can only be used once)")


class FirstDirectiveError(SchemaExtension):
    """Keeps the first unknown or repeated directive's error and drops the others.

    graphql-core reports every one: ``{ __typename @aa @aa … }`` got one error per ``@aa``,
    which directive-overloading scanners flag (a server that validates each repeat is doing
    work per repeat for an attacker). One error says what is wrong; the directive-count limit
    (graphql/limits.py) still bounds the document.
    """

    def on_validate(self) -> Iterator[None]:
        yield
        errors = self.execution_context.pre_execution_errors or []
        first = True
        kept = []
        for error in errors:
            if _DIRECTIVE_ERROR.match(error.message):
                if not first:
                    continue
                first = False
            kept.append(error)
        errors[:] = kept


_SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


class NoSuggestions(SchemaExtension):
    """Drops "Did you mean …?" hints, which would reveal the schema with introspection off."""

    def on_validate(self) -> Iterator[None]:
        yield
        errors = self.execution_context.pre_execution_errors or []
        for index, error in enumerate(errors):
            if _SUGGESTION.search(error.message):
                errors[index] = GraphQLError(
                    _SUGGESTION.sub("", error.message),
                    error.nodes,
                    original_error=error.original_error,
                    extensions=error.extensions,
                )


def _set_code(error: GraphQLError, code: ErrorCode, field: str | None) -> None:
    extensions = dict(error.extensions or {})
    extensions.setdefault("code", code.value)
    if field:
        extensions.setdefault("field", field)
    error.extensions = extensions


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    formatted: dict[str, Any] = {"message": error.message}
    if error.locations:
        formatted["locations"] = [loc._asdict() for loc in error.locations]
    if error.path:
        formatted["path"] = error.path
    cause = error.original_error
    if isinstance(cause, DomainError):
        formatted["message"] = api_message(cause)
        extensions: dict[str, Any] = {"code": cause.code.value}
        if cause.field:
            extensions["field"] = api_path(cause.field)
    elif error.extensions and "code" in error.extensions:
        extensions = dict(error.extensions)
    elif isinstance(error, GraphQLSyntaxError) or isinstance(cause, GraphQLSyntaxError):
        # The document cache parses in its own hook, before ErrorPhases can tag the error.
        code = ErrorCode.GRAPHQL_PARSE_FAILED
        if TOKEN_LIMIT_MESSAGE in error.message:
            code = ErrorCode.TOO_COMPLEX
        extensions = {"code": code.value}
    else:
        log.error(
            "unexpected error in request %s: %s",
            request_id,
            error.message,
            exc_info=cause,
        )
        formatted = {"message": f"Internal server error (request id {request_id})"}
        if error.path:
            formatted["path"] = error.path
        extensions = {"code": ErrorCode.INTERNAL_SERVER_ERROR.value, "requestId": request_id}
    formatted["extensions"] = extensions
    return formatted


def api_path(domain_path: str) -> str:
    """The API's input path for a service's domain path: each snake_case name in camelCase,
    list positions kept (``offer_event.dates.0.end`` -> ``offerEvent.dates.0.end``).

    This is the one mapping between the two: the API's arguments and input fields are the
    camelCase forms of the services' parameters and fields (SPEC §2.5 ``extensions.field``).
    """
    return ".".join(to_camel_case(name) for name in domain_path.split("."))


def api_message(error: DomainError) -> str:
    """The error's message with the domain paths it names written as the API's paths."""
    message = error.message
    paths = {*error.mentions, *([error.field] if error.field else [])}
    for path in sorted(paths, key=len, reverse=True):
        message = re.sub(rf"(?<![\w.]){re.escape(path)}(?![\w])", api_path(path), message)
    return message


def _dotted(path: str) -> str:
    return re.sub(r"\[(\d+)\]", r".\1", path)


def _variable_path(message: str, document: DocumentNode) -> str | None:
    """``offerEvent.maxParticipants`` for a bad ``$input`` passed as ``offerEvent: $input``."""
    match = _VARIABLE_ERROR.match(message)
    if not match:
        return None
    variable, inner = match.group(1), match.group(2)
    head = _argument_of_variable(document, variable) or variable
    return head + _dotted(inner) if inner else head


def _argument_of_variable(document: DocumentNode, variable: str) -> str | None:
    found: list[str] = []

    class Finder(Visitor):
        def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
            value = node.value
            if isinstance(value, VariableNode) and value.name.value == variable:
                found.append(node.name.value)

    visit(document, Finder())
    return found[0] if found else None


def _literal_path(document: DocumentNode, nodes: list[Node]) -> str | None:
    """The input path of a literal value node, e.g. ``offerEventDate.start``."""
    targets = {id(node) for node in nodes}
    found: list[str] = []

    def walk(value: ValueNode, path: str) -> None:
        if id(value) in targets:
            found.append(path)
        elif isinstance(value, ObjectValueNode):
            for field in value.fields:
                walk(field.value, f"{path}.{field.name.value}")
        elif isinstance(value, ListValueNode):
            for index, item in enumerate(value.values):
                walk(item, f"{path}.{index}")

    class Finder(Visitor):
        def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
            walk(node.value, node.name.value)

    visit(document, Finder())
    return found[0] if found else None
