import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Uuid,
    case,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from offerdesk.content.models import CONTENT_TYPE_COLUMN, ContentType
from offerdesk.db import Base, Entity, UTCDateTime


class OfferEvent(Entity, Base):
    __tablename__ = "offer_events"
    __table_args__ = (
        # The database itself refuses overbooking (SPEC §3.1), whatever the code does.
        CheckConstraint(
            "max_participants IS NULL OR enrolled_count <= max_participants", name="capacity"
        ),
        CheckConstraint("max_participants IS NULL OR max_participants >= 1", name="max_positive"),
        CheckConstraint(
            "min_participants IS NULL OR (min_participants >= 0 AND "
            "(max_participants IS NULL OR min_participants <= max_participants))",
            name="min_within_max",
        ),
        CheckConstraint("enrolled_count >= 0 AND waitlisted_count >= 0", name="counts"),
        Index("ix_offer_events_offer_id", "offer_id"),
    )

    ref: Mapped[str | None] = mapped_column(String(255), unique=True)
    offer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("offers.id"))
    title: Mapped[str] = mapped_column(String(500))
    content_type: Mapped[ContentType | None] = mapped_column(CONTENT_TYPE_COLUMN)
    max_participants: Mapped[int | None] = mapped_column(Integer)
    min_participants: Mapped[int | None] = mapped_column(Integer)
    waiting_list: Mapped[bool] = mapped_column(Boolean, default=False)
    closing_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Kept in the same transaction as every enrollment change, so capacity is one
    # conditional UPDATE of this row (DESIGN.md, "Capacity without overbooking").
    enrolled_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    waitlisted_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The last waiting-list ticket handed out for this event (see Enrollment.waitlist_seq).
    waitlist_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    @hybrid_property
    def spots_available(self) -> int | None:
        """Free seats: None when unlimited, else maxParticipants - enrolledCount, never below 0
        (SPEC §2.1). The one definition of a free spot, in Python and (below) in SQL."""
        if self.max_participants is None:
            return None
        return max(self.max_participants - self.enrolled_count, 0)

    @spots_available.inplace.expression
    @classmethod
    def _spots_available_sql(cls) -> ColumnElement[int | None]:
        return case(
            (cls.max_participants.is_(None), None),
            (cls.enrolled_count >= cls.max_participants, 0),
            else_=cls.max_participants - cls.enrolled_count,
        )


class OfferEventContent(Base):
    """The content items an event links, in order; position 0 is the event's ``contentId``."""

    __tablename__ = "offer_event_contents"
    __table_args__ = (Index("ix_offer_event_contents_content_item_id", "content_item_id"),)

    offer_event_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("offer_events.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_item_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("content_items.id"))


class OfferEventDate(Entity, Base):
    __tablename__ = "offer_event_dates"
    __table_args__ = (
        CheckConstraint('"end" > start', name="end_after_start"),
        Index("ix_offer_event_dates_event_start", "offer_event_id", "start"),
    )

    offer_event_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("offer_events.id", ondelete="CASCADE")
    )
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    location: Mapped[str | None] = mapped_column(String(500))
