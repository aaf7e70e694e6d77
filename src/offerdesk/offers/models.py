from datetime import datetime

from sqlalchemy import Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from offerdesk.db import Base, Entity, UTCDateTime
from offerdesk.pagination import keyset_index


class Offer(Entity, Base):
    __tablename__ = "offers"

    ref: Mapped[str | None] = mapped_column(String(255), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    # The organiser's on/off switch; archiving is separate (SPEC §3.6).
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


keyset_index(Offer)
