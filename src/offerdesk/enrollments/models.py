import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from offerdesk.db import Base, Entity, UTCDateTime, utcnow


class EnrollmentStatus(StrEnum):
    ENROLLED = "ENROLLED"
    WAITLISTED = "WAITLISTED"
    CANCELLED = "CANCELLED"
    DECLINED = "DECLINED"


class ChangeCause(StrEnum):
    """Why a status changed: kept with every change, so the history explains itself."""

    ENROLL = "ENROLL"
    WAITLIST = "WAITLIST"
    PROMOTION = "PROMOTION"
    UNENROLL = "UNENROLL"
    DECLINE = "DECLINE"


ACTIVE_STATUSES = (EnrollmentStatus.ENROLLED, EnrollmentStatus.WAITLISTED)

STATUS_COLUMN = Enum(EnrollmentStatus, native_enum=False, length=16, name="enrollment_status")


class Enrollment(Entity, Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        # One enrollment per (user, event), whatever the code does (SPEC §3.2).
        UniqueConstraint("offer_event_id", "user_id", name="uq_enrollments_event_user"),
        Index("ix_enrollments_user_id", "user_id"),
        Index("ix_enrollments_event_status_seq", "offer_event_id", "status", "waitlist_seq"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    offer_event_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("offer_events.id"))
    status: Mapped[EnrollmentStatus] = mapped_column(STATUS_COLUMN)
    # When the current registration began: the first request, or the latest re-activation.
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The place in the event's queue, from a per-event counter: strictly first come, first
    # served, with no ties even when requests arrive in the same microsecond.
    waitlist_seq: Mapped[int | None] = mapped_column(Integer)


class EnrollmentStatusChange(Base):
    __tablename__ = "enrollment_status_changes"
    __table_args__ = (Index("ix_enrollment_status_changes_enrollment", "enrollment_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    enrollment_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("enrollments.id", ondelete="CASCADE")
    )
    from_status: Mapped[EnrollmentStatus | None] = mapped_column(STATUS_COLUMN)
    to_status: Mapped[EnrollmentStatus] = mapped_column(STATUS_COLUMN)
    cause: Mapped[ChangeCause] = mapped_column(
        Enum(ChangeCause, native_enum=False, length=16, name="change_cause")
    )
    # Offerdesk sends no e-mail; the flag is kept for the platform that does (SPEC §2.3).
    send_mail: Mapped[bool | None] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
