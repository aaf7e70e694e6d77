"""The change feed over GraphQL (issue 12 item 5): ``changes(after, first, types)``."""

import uuid
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from offerdesk.auth.scopes import Scope
from offerdesk.graphql.common import AppInfo
from offerdesk.graphql.pagination import Edge, PageInfo
from offerdesk.graphql.permissions import requires
from offerdesk.outbox import payloads, service
from offerdesk.outbox.models import EventType

# The domain's enum is the GraphQL enum (the name the issue gives it).
strawberry.enum(EventType, name="WebhookEventType", description="What changed (docs/webhooks.md).")


@strawberry.type(description="One change, as the feed and webhooks hand it out (docs/webhooks.md).")
class Change:
    id: uuid.UUID = strawberry.field(description="The event id; a webhook's webhook-id.")
    type: EventType
    object_id: uuid.UUID
    occurred_at: datetime
    data: JSON = strawberry.field(description="The event's data, as a webhook's body has it.")


@strawberry.type
class ChangeConnection:
    edges: list[Edge[Change]]
    page_info: PageInfo


@strawberry.type
class OutboxQueries:
    @strawberry.field(
        extensions=requires(Scope.EVENTS_READ),
        description=(
            "Every change, oldest first, in an order a reader polling with its last cursor "
            "never misses one of; kept 30 days. User events need users.read."
        ),
    )
    async def changes(
        self,
        info: AppInfo,
        after: str | None = None,
        first: int | None = None,
        types: list[EventType] | None = None,
    ) -> ChangeConnection:
        user_events = Scope.USERS_READ in info.context.principal.scopes
        async with info.context.read() as session:
            page = await service.feed(session, after, first, types, user_events=user_events)
            bodies = await payloads.envelopes(
                session, [row for row, _ in page.items], users_visible=user_events
            )
        edges = [
            Edge(
                node=Change(
                    id=row.id,
                    type=EventType(row.type),
                    object_id=row.object_id,
                    occurred_at=row.occurred_at,
                    data=body["data"],
                ),
                cursor=cursor,
            )
            for (row, cursor), body in zip(page.items, bodies, strict=True)
        ]
        return ChangeConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        )
