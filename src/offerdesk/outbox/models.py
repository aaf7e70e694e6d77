"""The outbox table: one row per change, written in the change's own transaction."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, FetchedValue, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from offerdesk.db import Base, UTCDateTime


class EventType(StrEnum):
    """What changed. The three enrollment events are the reference LMS's names, verbatim; the
    others follow their style (issue 12)."""

    OFFER_CREATED = "OFFER_CREATED"
    OFFER_UPDATED = "OFFER_UPDATED"
    OFFER_ARCHIVED = "OFFER_ARCHIVED"
    OFFER_EVENT_CREATED = "OFFER_EVENT_CREATED"
    OFFER_EVENT_UPDATED = "OFFER_EVENT_UPDATED"
    OFFER_EVENT_ARCHIVED = "OFFER_EVENT_ARCHIVED"
    OFFER_EVENT_DATE_CREATED = "OFFER_EVENT_DATE_CREATED"
    OFFER_EVENT_DATE_UPDATED = "OFFER_EVENT_DATE_UPDATED"
    OFFER_EVENT_DATE_DELETED = "OFFER_EVENT_DATE_DELETED"
    OFFER_EVENT_ENROLLED = "OFFER_EVENT_ENROLLED"
    OFFER_EVENT_ENROLLMENT_STATUS_UPDATED = "OFFER_EVENT_ENROLLMENT_STATUS_UPDATED"
    OFFER_EVENT_UNENROLLED = "OFFER_EVENT_UNENROLLED"
    USER_CREATED = "USER_CREATED"
    USER_UPDATED = "USER_UPDATED"
    USER_ARCHIVED = "USER_ARCHIVED"
    CONTENT_ITEM_CREATED = "CONTENT_ITEM_CREATED"
    CONTENT_ITEM_UPDATED = "CONTENT_ITEM_UPDATED"
    CONTENT_ITEM_ARCHIVED = "CONTENT_ITEM_ARCHIVED"


USER_EVENT_TYPES = frozenset(t for t in EventType if t.startswith("USER_"))


class OutboxEvent(Base):
    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_tx_seq", "tx", "seq"),
        Index("ix_outbox_events_occurred_at", "occurred_at"),
        # AUTOINCREMENT: SQLite must never hand out a seq again once the rows holding the
        # highest ones are pruned, or a reader's cursor would skip the new rows.
        {"sqlite_autoincrement": True},
    )

    # Order of writing within a transaction (and, on SQLite, commit order: one writer).
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    # PostgreSQL: the writing transaction's id (pg_current_xact_id(), the column's default,
    # migration 0010); the change feed hands out a row only once every transaction that could
    # still commit below it has ended (outbox/service.py). SQLite: always 0.
    tx: Mapped[int] = mapped_column(BigInteger, server_default=FetchedValue())
    # The event id: the envelope's ``id`` and the ``webhook-id`` header, stable across retries.
    id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4)
    type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # The facts of the change (docs/webhooks.md); the envelope's ``data`` is built from them.
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
