"""GraphQL types and operations for webhook subscriptions and their delivery log (issue 12
item 2), all under the scope ``webhooks.manage``."""

import uuid
from datetime import datetime

import strawberry

from offerdesk.auth.scopes import Scope
from offerdesk.graphql.common import AppInfo, BulkResponse, provided
from offerdesk.graphql.pagination import Connection
from offerdesk.graphql.permissions import requires
from offerdesk.graphql.scalars import to_id
from offerdesk.outbox.models import EventType
from offerdesk.webhooks import models, service
from offerdesk.webhooks.dispatcher import url_policy
from offerdesk.webhooks.models import DeliveryStatus

strawberry.enum(DeliveryStatus, name="WebhookDeliveryStatus")


@strawberry.type
class WebhookSubscription:
    id: strawberry.ID
    url: str
    events: list[EventType]
    description: str | None
    is_active: bool
    disabled_reason: str | None = strawberry.field(
        description="Why delivery stopped (a 410 Gone from the receiver); null when active."
    )
    secret: str | None = strawberry.field(
        description=(
            "The signing secret (whsec_…): given only by createWebhookSubscription and "
            "rotateWebhookSecret, null everywhere else."
        )
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(
        cls, subscription: models.WebhookSubscription, show_secret: bool = False
    ) -> "WebhookSubscription":
        return cls(
            id=to_id(subscription.id),
            url=subscription.url,
            events=[EventType(kind) for kind in subscription.events],
            description=subscription.description,
            is_active=subscription.is_active,
            disabled_reason=subscription.disabled_reason,
            secret=subscription.secret if show_secret else None,
            created_at=subscription.created_at,
            updated_at=subscription.updated_at,
        )


@strawberry.type
class WebhookDelivery:
    id: strawberry.ID
    subscription_id: strawberry.ID
    event_id: strawberry.ID
    event_type: EventType
    object_id: strawberry.ID
    status: DeliveryStatus
    attempt_count: int
    last_status_code: int | None
    last_error: str | None
    latency_ms: int | None = strawberry.field(description="The last attempt's, milliseconds.")
    next_attempt_at: datetime | None
    response_body_excerpt: str | None = strawberry.field(
        description="At most the first 1 KB of the last response's body."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, delivery: models.WebhookDelivery) -> "WebhookDelivery":
        return cls(
            id=to_id(delivery.id),
            subscription_id=to_id(delivery.subscription_id),
            event_id=to_id(delivery.event_id),
            event_type=EventType(delivery.event_type),
            object_id=to_id(delivery.object_id),
            status=delivery.status,
            attempt_count=delivery.attempts,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            latency_ms=delivery.latency_ms,
            next_attempt_at=delivery.next_attempt_at,
            response_body_excerpt=delivery.response_excerpt,
            created_at=delivery.created_at,
            updated_at=delivery.updated_at,
        )


@strawberry.input
class CreateWebhookSubscriptionInput:
    url: str
    events: list[EventType]
    description: str | None = strawberry.UNSET


@strawberry.input
class UpdateWebhookSubscriptionInput:
    url: str | None = strawberry.UNSET
    events: list[EventType] | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    is_active: bool | None = strawberry.UNSET


@strawberry.type
class WebhookSubscriptionPayload:
    webhook_subscription: WebhookSubscription


@strawberry.type
class DeleteWebhookSubscriptionsPayload:
    response: BulkResponse


@strawberry.type
class RedeliverWebhookDeliveryPayload:
    webhook_delivery: WebhookDelivery


def _changes(
    data: CreateWebhookSubscriptionInput | UpdateWebhookSubscriptionInput,
) -> service.SubscriptionChanges:
    changes: service.SubscriptionChanges = provided(
        data, "webhookSubscription", non_null=("url", "events", "is_active")
    )
    return changes


@strawberry.type
class WebhookQueries:
    @strawberry.field(extensions=requires(Scope.WEBHOOKS_MANAGE))
    async def webhook_subscription(
        self, info: AppInfo, id: uuid.UUID
    ) -> WebhookSubscription | None:
        async with info.context.read() as session:
            found = await service.find(session, id)
        return WebhookSubscription.from_model(found) if found else None

    @strawberry.field(extensions=requires(Scope.WEBHOOKS_MANAGE))
    async def webhook_subscriptions(self, info: AppInfo) -> list[WebhookSubscription]:
        async with info.context.read() as session:
            found = await service.find_many(session)
        return [WebhookSubscription.from_model(subscription) for subscription in found]

    @strawberry.field(extensions=requires(Scope.WEBHOOKS_MANAGE))
    async def webhook_deliveries(
        self,
        info: AppInfo,
        subscription_id: uuid.UUID | None = None,
        status: DeliveryStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[WebhookDelivery]:
        where = service.DeliveryFilter(subscription_id, status)
        async with info.context.read() as session:
            page = await service.deliveries(session, where, first, after)
        return Connection.of(page, WebhookDelivery.from_model)


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(extensions=requires(Scope.WEBHOOKS_MANAGE))
    async def create_webhook_subscription(
        self, info: AppInfo, webhook_subscription: CreateWebhookSubscriptionInput
    ) -> WebhookSubscriptionPayload | None:
        policy = url_policy(info.context.settings)
        async with info.context.write() as session:
            created = await service.create(session, _changes(webhook_subscription), policy)
        return WebhookSubscriptionPayload(
            webhook_subscription=WebhookSubscription.from_model(created, show_secret=True)
        )

    @strawberry.mutation(extensions=requires(Scope.WEBHOOKS_MANAGE))
    async def update_webhook_subscription(
        self, info: AppInfo, id: uuid.UUID, webhook_subscription: UpdateWebhookSubscriptionInput
    ) -> WebhookSubscriptionPayload | None:
        policy = url_policy(info.context.settings)
        async with info.context.write() as session:
            updated = await service.update(session, id, _changes(webhook_subscription), policy)
        return WebhookSubscriptionPayload(
            webhook_subscription=WebhookSubscription.from_model(updated)
        )

    @strawberry.mutation(extensions=requires(Scope.WEBHOOKS_MANAGE))
    async def rotate_webhook_secret(
        self, info: AppInfo, id: uuid.UUID
    ) -> WebhookSubscriptionPayload | None:
        async with info.context.write() as session:
            rotated = await service.rotate_secret(session, id)
        return WebhookSubscriptionPayload(
            webhook_subscription=WebhookSubscription.from_model(rotated, show_secret=True)
        )

    @strawberry.mutation(extensions=requires(Scope.WEBHOOKS_MANAGE))
    async def delete_webhook_subscriptions(
        self, info: AppInfo, ids: list[uuid.UUID]
    ) -> DeleteWebhookSubscriptionsPayload | None:
        async with info.context.write() as session:
            result = await service.delete_many(session, ids)
        return DeleteWebhookSubscriptionsPayload(response=BulkResponse.of(result))

    @strawberry.mutation(extensions=requires(Scope.WEBHOOKS_MANAGE))
    async def redeliver_webhook_delivery(
        self, info: AppInfo, id: uuid.UUID
    ) -> RedeliverWebhookDeliveryPayload | None:
        async with info.context.write() as session:
            delivery = await service.redeliver(session, id)
        return RedeliverWebhookDeliveryPayload(
            webhook_delivery=WebhookDelivery.from_model(delivery)
        )
