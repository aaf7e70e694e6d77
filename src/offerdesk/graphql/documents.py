"""Parsed and validated documents, kept per schema and bounded in bytes.

Why not Strawberry's ``ParserCache``/``ValidationCache``: they are ``functools.lru_cache``s
bounded by count (512 each here), and an entry's cost is not: the parser cache keeps the query
text and its syntax tree, and a document of 1,000 tokens may carry a string literal of
nearly a megabyte (the body limit), so 512 of them could hold a gigabyte. Here one entry holds
a document's tree and, once validated, its validation errors; what it counts against the bound
is the query text, ``DOCUMENT_BYTES`` and ``DOCUMENT_BYTES_PER_CHARACTER`` per character for
the tree (which overestimates documents made of long literals: those are simply not kept).
"""

import sys
from collections.abc import Iterator

from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types.execution import ParseOptions

from offerdesk.graphql.inputs import StringArgument, string_arguments
from offerdesk.graphql.lru import BytesLRU

# A syntax tree with its tokens and locations, and the validation errors kept with it: a fixed
# part and a part per character of the query text, fitted over distinct documents of 27 to 291
# characters with tracemalloc (12-36 KiB each) so that it is never below what they held
# (bench/MEMORY.md).
DOCUMENT_BYTES = 8192
DOCUMENT_BYTES_PER_CHARACTER = 160


def document_bytes(query: str) -> int:
    """An estimate of what the parsed document of ``query`` holds in memory, in bytes."""
    return DOCUMENT_BYTES + DOCUMENT_BYTES_PER_CHARACTER * len(query)


class _Document:
    """A parsed document and, once validated, its validation errors and its String
    arguments (graphql/inputs.py)."""

    __slots__ = ("errors", "strings", "tree")

    def __init__(self, tree: DocumentNode) -> None:
        self.tree = tree
        self.errors: list[GraphQLError] | None = None
        self.strings: list[StringArgument] | None = None


class DocumentCache:
    """Documents by (query text, token limit), at most ``max_bytes`` of them (least
    recently used go first). One per schema: the validation rules are the schema's."""

    def __init__(self, max_bytes: int) -> None:
        self._documents: BytesLRU[tuple[str, int | None], _Document] = BytesLRU(max_bytes)

    def parsed(self, query: str, options: ParseOptions) -> _Document:
        """The document of ``query``, parsed with ``options`` on first use; parse errors
        (``GraphQLError``) are raised, never kept."""
        key = (query, options.get("max_tokens"))
        document = self._documents.get(key)
        if document is None:
            document = _Document(parse(query, **options))
            self._documents.put(key, document, sys.getsizeof(query) + document_bytes(query))
        return document

    def string_arguments(
        self, schema: GraphQLSchema, query: str, max_tokens: int | None, tree: DocumentNode
    ) -> list[StringArgument]:
        """The String arguments of ``tree`` (the document of ``query``), found once while the
        document is kept (they point into its tree: no memory of their own to speak of)."""
        document = self._documents.get((query, max_tokens))
        if document is None or document.tree is not tree:
            return string_arguments(schema, tree)
        if document.strings is None:
            document.strings = string_arguments(schema, tree)
        return document.strings

    @property
    def bytes(self) -> int:
        """The bytes the kept documents count against the bound."""
        return self._documents.bytes

    def __len__(self) -> int:
        return len(self._documents)


class CachedDocuments(SchemaExtension):
    """Parses and validates through a ``DocumentCache`` (in place of Strawberry's parse and
    validate steps); a request gets its own list of validation errors, which later
    extensions may edit."""

    def __init__(self, cache: DocumentCache) -> None:
        self.cache = cache
        self._document: _Document | None = None

    def on_parse(self) -> Iterator[None]:
        execution = self.execution_context
        self._document = self.cache.parsed(execution.query or "", execution.parse_options)
        execution.graphql_document = self._document.tree
        yield

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        document = self._document
        assert document is not None  # on_parse ran: validation follows a parsed document
        if document.errors is None:
            document.errors = validate_document(
                execution.schema._schema, document.tree, execution.validation_rules
            )
        execution.pre_execution_errors = list(document.errors)
        yield
