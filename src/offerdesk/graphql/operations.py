"""Choosing the operation of a document, as the GraphQL specification's GetOperation() does.

Strawberry picks the first operation when no ``operationName`` is given, even when the
document holds several; the specification requires an error there (§6.1 "GetOperation"), and
running the first of two operations by surprise could run the wrong mutation.
"""

from collections.abc import Iterator

from graphql import OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError

SEVERAL_OPERATIONS = "Must provide operation name if query contains multiple operations."
NO_OPERATION = "Must provide an operation."


class OperationNameRequired(CannotGetOperationTypeError):
    """A document with several operations and no ``operationName``."""

    def __init__(self) -> None:
        super().__init__(None)


class OperationChoice(SchemaExtension):
    """Refuses a document with several operations and no operation name, right after it is
    parsed (before the operation's type is judged, so no other refusal hides this one)."""

    def on_parse(self) -> Iterator[None]:
        yield
        execution = self.execution_context
        document = execution.graphql_document
        # The name the client sent: the public ``operation_name`` falls back to the first
        # operation's name, which is the very guess this check refuses.
        if document is None or execution._provided_operation_name is not None:
            return
        operations = sum(
            isinstance(definition, OperationDefinitionNode) for definition in document.definitions
        )
        if operations > 1:
            raise OperationNameRequired


def operation_error_message(error: CannotGetOperationTypeError) -> str:
    """The message for a document whose operation cannot be chosen: graphql-js's wording,
    which clients and the GraphQL-over-HTTP audits know."""
    if isinstance(error, OperationNameRequired):
        return SEVERAL_OPERATIONS
    if error.operation_name is not None:
        return f'Unknown operation named "{error.operation_name}".'
    return NO_OPERATION
