"""Per-request DataLoaders: the SQL a request runs depends on its shape, not on its row count.

Each loader batches one service read; the services hold the SQL.
"""

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

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
            DataLoader(self._events_by_offer)
        )

    def _loader(
        self, fetch: Callable[[AsyncSession, Sequence[K]], Awaitable[list[V]]]
    ) -> DataLoader[K, V]:
        async def load(keys: Sequence[K]) -> list[V]:
            async with self._ctx.read() as session:
                return await fetch(session, keys)

        return DataLoader(load)

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
