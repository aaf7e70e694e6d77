"""Per-request DataLoaders: the SQL a request runs depends on its shape, not on its row count."""

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from offerdesk.content.models import ContentItem
from offerdesk.db import rows_by_ids
from offerdesk.enrollments import service as enrollments
from offerdesk.enrollments.models import EnrollmentStatusChange
from offerdesk.events import service as events
from offerdesk.events.models import OfferEvent, OfferEventDate
from offerdesk.offers.models import Offer
from offerdesk.users.models import User

if TYPE_CHECKING:
    from offerdesk.graphql.context import Context

K = TypeVar("K")
V = TypeVar("V")


class Loaders:
    def __init__(self, ctx: "Context") -> None:
        self._ctx = ctx
        self.offer = self._rows(Offer)
        self.event = self._rows(OfferEvent)
        self.content_item = self._rows(ContentItem)
        self.user = self._rows(User)
        self.dates_by_event: DataLoader[uuid.UUID, list[OfferEventDate]] = self._loader(
            events.dates_by_event_ids
        )
        self.content_by_event: DataLoader[uuid.UUID, list[ContentItem]] = self._loader(
            events.content_items_by_event_ids
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

    def _rows(self, model: Any) -> DataLoader[uuid.UUID, Any]:
        async def fetch(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Any]:
            return await rows_by_ids(session, model, ids)

        return self._loader(fetch)

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
                lists = await events.events_by_offer_ids(session, offer_ids, is_active)
                found.update(zip(((id_, is_active) for id_ in offer_ids), lists, strict=True))
        return [found[key] for key in keys]
