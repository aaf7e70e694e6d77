"""A least-recently-used map bounded in bytes: the one shape of every per-process cache of the
GraphQL layer (answers, parsed and validated documents, compiled plans).

Why bytes and not a count: an entry's cost varies by three orders of magnitude (a parsed
10-token document against a compiled plan of a deep document, 0.4-1.5 MB measured), so a bound
by count is no bound on memory (issue 15, item 7; docs/decisions.md, "Memory").
"""

from collections import OrderedDict
from collections.abc import Hashable, KeysView
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# What an entry costs besides the bytes its owner counts: the OrderedDict's own node and its
# slot in the hash table, and the (value, size) tuple (measured with sys.getsizeof and
# tracemalloc on CPython 3.11: 170-190 bytes).
ENTRY_OVERHEAD = 200


class BytesLRU(Generic[K, V]):
    """Values by key, at most ``max_bytes`` of them as their owners count them (each ``put``
    names its entry's size, in bytes, including its key); the least recently used go first.
    A value bigger than the whole bound is not stored at all."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value stored under ``key`` (now the most recently used), or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: K, value: V, size: int) -> None:
        """Store ``value`` under ``key`` as ``size`` bytes (plus ``ENTRY_OVERHEAD``), dropping
        the least recently used entries until the total is within ``max_bytes``."""
        size += ENTRY_OVERHEAD
        if size > self.max_bytes:
            return
        self.pop(key)
        self._entries[key] = (value, size)
        self.bytes += size
        while self.bytes > self.max_bytes:
            self.pop(next(iter(self._entries)))

    def pop(self, key: K) -> None:
        """Forget ``key``'s entry, if any."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.bytes -= entry[1]

    def ordered_keys(self) -> KeysView[K]:
        """The keys, least recently used first."""
        return self._entries.keys()

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)
