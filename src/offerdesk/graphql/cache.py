"""Whole answers of read-only queries, kept in each worker process until the data changes.

Why: a catalogue page is thousands of resolved fields and the same for every caller with the
same scopes until something is written; building it again costs hundreds of milliseconds
(bench/PROFILE.md), looking it up costs one statement.

Why it is exact: the database's data version (``Database.data_version``) changes with every
committed write; an answer is stored under the version read *before* its data was read, and
served only to a request that reads the same version first. A request that starts after a
write has been answered therefore reads another version and never an answer from before the
write (docs/api.md, "Response cache").

Reading the version is itself a statement, so a query is admitted only from its second
appearance (a "doorkeeper"): a look-up made once, such as one id among thousands, costs only
a dictionary entry.
"""

import sys
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from graphql import ExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from offerdesk.graphql.lru import BytesLRU

if TYPE_CHECKING:
    from offerdesk.graphql.context import Context

CacheKey = tuple[str, str | None, bytes, frozenset[str]]


@dataclass(frozen=True, slots=True)
class _Entry:
    version: str
    # The answer's data as the JSON that is sent: a bytes object costs its length in memory,
    # where the decoded dicts, lists and strings cost three to six times their JSON (measured:
    # a 16 MiB cache of decoded answers held 97 MiB).
    encoded: bytes


def compact(encoded: bytes) -> bytes:
    """``encoded`` in a bytes object of its own length. orjson returns its output in the buffer
    it wrote it into, whose capacity (4 KiB at least, doubled as it grows) stays allocated
    while ``sys.getsizeof`` reports only the length: kept as they came, a cache's answers and
    keys held twice to a hundred times what they counted (issue 15, item 7)."""
    return bytes(memoryview(encoded))


def cache_key(
    query: str, operation_name: str | None, variables: Any, scopes: frozenset[str]
) -> CacheKey:
    """The key of an answer: the document and operation name as sent, the variables as
    canonical JSON (sorted keys, ``compact``: orjson's spare buffer would stay with the key),
    and the scopes the answer depends on."""
    encoded = compact(orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS))
    return (query, operation_name, encoded, scopes)


def _entry_bytes(key: CacheKey, entry: _Entry) -> int:
    """What an entry holds in memory (CPython's sizes): its key's tuple, document, variables
    and scopes, and the entry with its version and answer. The key's parts are the request's
    own objects, so they are counted per entry."""
    return (
        sys.getsizeof(key)
        + sys.getsizeof(key[0])
        + sys.getsizeof(key[2])
        + sys.getsizeof(key[3])
        + sys.getsizeof(entry)
        + sys.getsizeof(entry.version)
        + sys.getsizeof(entry.encoded)
    )


class ResponseCache:
    """Answers by (document, operation, variables, scopes), bounded in bytes: what their
    objects hold, keys included (least recently used go first)."""

    def __init__(self, max_bytes: int, max_seen: int = 10_000) -> None:
        self._entries: BytesLRU[CacheKey, _Entry] = BytesLRU(max_bytes)
        # Hashes of keys seen once: a collision only makes a query admitted one request early.
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._max_seen = max_seen

    def admit(self, key: CacheKey) -> bool:
        """True from a key's second appearance on: worth reading the data version for."""
        if key in self._entries:
            return True
        digest = hash(key)
        if digest in self._seen:
            del self._seen[digest]
            return True
        self._seen[digest] = None
        if len(self._seen) > self._max_seen:
            self._seen.popitem(last=False)
        return False

    def get(self, key: CacheKey, version: str) -> bytes | None:
        """The stored answer's data as JSON bytes, when stored at ``version``."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.version != version:
            self._entries.pop(key)
            return None
        return entry.encoded

    def version(self, key: CacheKey) -> str | None:
        """The version the answer under ``key`` was stored at, if one is stored."""
        entry = self._entries.get(key)
        return entry.version if entry is not None else None

    def put(self, key: CacheKey, version: str, data: dict[str, Any]) -> None:
        """Store ``data`` (encoded once, here) under ``key`` at ``version``."""
        self.put_encoded(key, version, orjson.dumps(data))

    def put_encoded(self, key: CacheKey, version: str, encoded: bytes) -> None:
        """Store the answer's data as JSON bytes under ``key`` at ``version``; what it costs
        against the bound is every object the entry keeps (``_entry_bytes``)."""
        entry = _Entry(version, compact(encoded))
        self._entries.put(key, entry, _entry_bytes(key, entry))

    @property
    def bytes(self) -> int:
        """The bytes the stored entries count against the bound."""
        return self._entries.bytes

    def __len__(self) -> int:
        return len(self._entries)


class CachedQueries(SchemaExtension):
    """Serves a query's answer from the request's ResponseCache when it is still current, and
    stores error-free answers of queries (never of mutations)."""

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context: Context = execution.context
        cache = context.response_cache
        if cache is None or execution.operation_type is not OperationType.QUERY:
            yield
            return
        key = cache_key(
            execution.query or "",
            execution.operation_name,
            execution.variables,
            frozenset(scope.value for scope in context.principal.scopes),
        )
        if not cache.admit(key):
            yield
            return
        async with context.read() as session:
            version = await context.db.data_version(session)
        encoded = cache.get(key, version)
        if encoded is not None:
            # The endpoint sends these bytes as the answer's data (Context.cached_answer); the
            # result's own data is an empty placeholder, never decoded (a hit stays a copy).
            context.cached_answer = encoded
            execution.result = ExecutionResult(data={})
            yield
            return
        yield
        result = execution.result
        if isinstance(result, ExecutionResult) and not result.errors and result.data is not None:
            cache.put(key, version, result.data)
