"""Webhook subscriptions, their deliveries, and the dispatcher's place in the outbox."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from offerdesk.db import Base, Entity, UTCDateTime
from offerdesk.pagination import keyset_index


class WebhookSubscription(Entity, Base):
    __tablename__ = "webhook_subscriptions"

    url: Mapped[str] = mapped_column(String(2048))
    # Event type names (outbox.models.EventType values).
    events: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(String(1000))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Why the dispatcher disabled it (a 410 Gone), shown in the API; None when active.
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    # The signing secret (``whsec_`` + base64), stored because it signs; returned only once.
    secret: Mapped[str] = mapped_column(String(100))
    # After a rotation the old secret signs too, until ``previous_secret_until``.
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


keyset_index(WebhookSubscription)


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class WebhookDelivery(Entity, Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # One delivery per event per subscription, whatever the dispatchers do.
        UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_sub_event"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    subscription_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    event_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # The JSON body sent, built once when the delivery was made: every attempt sends the same.
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(DeliveryStatus, native_enum=False, length=16, name="delivery_status")
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When the next attempt is due; while an attempt runs, when its claim lapses (a crashed
    # dispatcher's delivery is then taken again: at-least-once).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    # At most 1 KB of the last response's body.
    response_excerpt: Mapped[str | None] = mapped_column(String(1024))


keyset_index(WebhookDelivery)


class FanoutPosition(Base):
    """The one row saying how far the dispatchers have turned outbox events into deliveries
    (an outbox.service.Position)."""

    __tablename__ = "webhook_fanout_position"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tx: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
