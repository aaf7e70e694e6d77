from enum import StrEnum

from sqlalchemy import Boolean, Enum, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from offerdesk.db import Base, Entity
from offerdesk.pagination import keyset_index


class ContentType(StrEnum):
    TRAINING = "TRAINING"
    COURSE = "COURSE"
    EXTERNAL_CONTENT = "EXTERNAL_CONTENT"
    SCORM = "SCORM"
    VIDEO = "VIDEO"


# Stored as plain strings (no native enum type): adding a content type is then a code change,
# not an ALTER TYPE on PostgreSQL.
CONTENT_TYPE_COLUMN = Enum(ContentType, native_enum=False, length=32, name="content_type")


class ContentItem(Entity, Base):
    __tablename__ = "content_items"

    ref: Mapped[str | None] = mapped_column(String(255), unique=True)
    type: Mapped[ContentType] = mapped_column(CONTENT_TYPE_COLUMN)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2048))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


keyset_index(ContentItem)
