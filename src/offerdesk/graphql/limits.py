"""Query limits, enforced before anything runs (depth, aliases, directives, tokens, body size).

Defaults follow the published defaults of GraphQL Armor (aliases 15, directives 50,
tokens 1000), except depth: Armor's 6 would refuse legitimate queries of this schema (a
catalogue page with each event's roster and users is 9 deep), so depth is 10, the value
commonly used with graphql-depth-limit. All are settings (config.py).
"""

from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    visit,
)
from graphql.language import Visitor
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from offerdesk.errors import ErrorCode

TOO_COMPLEX = {"code": ErrorCode.TOO_COMPLEX.value}
TOKEN_LIMIT_MESSAGE = "Parsing aborted"


def too_complex(message: str, nodes: list[Node] | None = None) -> GraphQLError:
    return GraphQLError(message, nodes, extensions=dict(TOO_COMPLEX))


class TokenLimit(SchemaExtension):
    """Stops the parser after ``max_tokens`` tokens: a huge document costs nothing more."""

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens

    def on_parse(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self.max_tokens
        yield


def _depth(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    seen: frozenset[str],
) -> int:
    if selection_set is None:
        return 0
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            # Introspection is not counted (as GraphQL Armor does): the standard introspection
            # query of every client is 15 deep. Production turns introspection off, and the
            # token limit bounds it here.
            if not selection.name.value.startswith("__"):
                deepest = max(deepest, 1 + _depth(selection.selection_set, fragments, seen))
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, _depth(selection.selection_set, fragments, seen))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            # A fragment cycle is refused by the standard rules; here it only must not loop.
            if name in fragments and name not in seen:
                fragment = fragments[name]
                deepest = max(deepest, _depth(fragment.selection_set, fragments, seen | {name}))
    return deepest


def limit_rules(
    max_depth: int, max_aliases: int, max_directives: int
) -> list[type[ValidationRule]]:
    """Validation rules refusing documents beyond the limits with TOO_COMPLEX."""

    class DocumentLimits(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            fragments = {
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            for definition in document.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    depth = _depth(definition.selection_set, fragments, frozenset())
                    if depth > max_depth:
                        context.report_error(
                            too_complex(
                                f"the operation is {depth} levels deep; at most {max_depth}",
                                [definition],
                            )
                        )
            counts = _Counter()
            visit(document, counts)
            if counts.aliases > max_aliases:
                context.report_error(
                    too_complex(f"{counts.aliases} aliases in the document; at most {max_aliases}")
                )
            if counts.directives > max_directives:
                context.report_error(
                    too_complex(
                        f"{counts.directives} directives in the document; at most {max_directives}"
                    )
                )

    return [DocumentLimits]


class _Counter(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.aliases = 0
        self.directives = 0

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        if node.alias is not None:
            self.aliases += 1

    def enter_directive(self, *_: Any) -> None:
        self.directives += 1


class BodySizeLimit:
    """Refuses request bodies over ``max_bytes`` with 413 before they are read into memory."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = (
            b'{"errors":[{"message":"the request body is too large","extensions":'
            b'{"code":"TOO_COMPLEX"}}]}'
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def late_body_message(seconds: float) -> str:
    """The message of the 408 a request gets when its body has not arrived within ``seconds``
    (``body_read_timeout_seconds``)."""
    return f"the request body did not arrive within {seconds:g} s"


class BodyTooLarge(Exception):
    """Raised while reading a streamed body past the limit; the endpoint answers 413."""
