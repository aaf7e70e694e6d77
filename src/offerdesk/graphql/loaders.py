"""Per-request DataLoaders: the SQL a request runs depends on its shape, not on its row count.

Each loader batches one service read; the services hold the SQL.
"""

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from offerdesk.content.models import ContentItem
from offerdesk.enrollments import service as enrollments
from offerdesk.enrollments.models import EnrollmentStatusChange
from offerdesk.events import service as events
from offerdesk.events.models import OfferEvent, OfferEventDate
from offerdesk.offers import service as offers
from offerdesk.offers.models import Offer
from offerdesk.users import service as users
from offerdesk.users.models import User

if TYPE_CHECKING:
    from offerdesk.graphql.context import Context

K = TypeVar("K")
V = TypeVar("V")


class SharedLoader(DataLoader[K, V]):
    """A DataLoader whose shared futures survive the cancellation of one of their awaiters.

    Every ``load`` of a key returns the same future. graphql-core 3.3 cancels the sibling
    fields of one that failed (a non-null field's error ends its list, ``gather_with_cancel``),
    and cancelling a task that awaits a future cancels the future itself: every other field
    waiting for that key, anywhere in the answer, then got ``CancelledError``, which escapes
    execution as no error can (found by the cost fuzzing, tests/test_fuzzing.py). Each awaiter
    gets its own shield instead; the shared future is only ever resolved by the batch.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: set[asyncio.Future[V]] = set()

    def load(self, key: K) -> Awaitable[V]:
        # strawberry's load returns the batch's asyncio.Future, typed as an Awaitable.
        shared = cast("asyncio.Future[V]", super().load(key))
        if not shared.done() and shared not in self._pending:
            self._pending.add(shared)
            shared.add_done_callback(self._settled)
        return asyncio.shield(shared)

    def _settled(self, future: "asyncio.Future[V]") -> None:
        self._pending.discard(future)
        # Read the outcome, so that a batch whose every awaiter was cancelled does not log
        # "Future exception was never retrieved".
        if not future.cancelled():
            future.exception()

    def cancel_pending(self) -> None:
        """At the end of a request: batches nobody waits for any more are not run (strawberry
        cancels a batch whose futures are all cancelled)."""
        for future in list(self._pending):
            future.cancel()


class Loaders:
    def __init__(self, ctx: "Context") -> None:
        self._ctx = ctx
        # Rows a foreign key points at: always there.
        self.offer: DataLoader[uuid.UUID, Offer] = self._loader(_present(offers.get_many))
        self.event: DataLoader[uuid.UUID, OfferEvent] = self._loader(_present(events.get_many))
        self.user: DataLoader[uuid.UUID, User] = self._loader(_present(users.get_many))
        self.dates_by_event: DataLoader[uuid.UUID, list[OfferEventDate]] = self._loader(
            events.dates_of_events
        )
        self.content_by_event: DataLoader[uuid.UUID, list[ContentItem]] = self._loader(
            events.content_of_events
        )
        self.waitlist_position: DataLoader[uuid.UUID, int | None] = self._loader(
            enrollments.waitlist_positions
        )
        self.history: DataLoader[uuid.UUID, list[EnrollmentStatusChange]] = self._loader(
            enrollments.histories
        )
        self.events_by_offer: DataLoader[tuple[uuid.UUID, bool | None], list[OfferEvent]] = (
            SharedLoader(self._events_by_offer)
        )

    def cancel_pending(self) -> None:
        """Cancel every batch still waiting to run (the request is over)."""
        for loader in vars(self).values():
            if isinstance(loader, SharedLoader):
                loader.cancel_pending()

    def _loader(
        self, fetch: Callable[[AsyncSession, Sequence[K]], Awaitable[list[V]]]
    ) -> DataLoader[K, V]:
        async def load(keys: Sequence[K]) -> list[V]:
            async with self._ctx.read() as session:
                return await fetch(session, keys)

        return SharedLoader(load)

    async def _events_by_offer(
        self, keys: Sequence[tuple[uuid.UUID, bool | None]]
    ) -> list[list[OfferEvent]]:
        # Keys carry the isActive filter; a batch almost always has one filter value.
        by_filter: dict[bool | None, list[uuid.UUID]] = defaultdict(list)
        for offer_id, is_active in keys:
            by_filter[is_active].append(offer_id)
        found: dict[tuple[uuid.UUID, bool | None], list[OfferEvent]] = {}
        async with self._ctx.read() as session:
            for is_active, offer_ids in by_filter.items():
                lists = await events.events_of_offers(
                    session, offer_ids, events.EventFilter(is_active)
                )
                found.update(zip(((id_, is_active) for id_ in offer_ids), lists, strict=True))
        return [found[key] for key in keys]


def _present(
    fetch: Callable[[AsyncSession, Sequence[uuid.UUID]], Awaitable[list[V | None]]],
) -> Callable[[AsyncSession, Sequence[uuid.UUID]], Awaitable[list[V]]]:
    """``fetch`` for rows that must exist (a foreign key names them): a missing one is a bug."""

    async def fetch_present(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[V]:
        rows = await fetch(session, ids)
        missing = [id_ for id_, row in zip(ids, rows, strict=True) if row is None]
        if missing:
            raise LookupError(f"rows named by a foreign key are missing: {missing}")
        return [row for row in rows if row is not None]

    return fetch_present
