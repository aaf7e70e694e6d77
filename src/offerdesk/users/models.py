from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from offerdesk.db import Base, Entity
from offerdesk.pagination import keyset_index

# An address is at most 254 bytes of UTF-8 (email-validator checks it, RFC 5321 §4.5.3.1.3);
# case folding turns a 2-byte letter into at most 3 characters (U+0390), so a canonical form
# has at most 381 characters.
CANONICAL_EMAIL_LENGTH = 500


class User(Entity, Base):
    __tablename__ = "users"

    ref: Mapped[str | None] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(500))
    # The address as the user typed it (email-validator's normalised spelling), for display.
    email: Mapped[str] = mapped_column(String(320))
    # Its identity (users.service.email_address): computed in Python, so the plain unique
    # constraint compares bytes and needs no function of the database's (SPEC §2.4).
    email_canonical: Mapped[str] = mapped_column(String(CANONICAL_EMAIL_LENGTH), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


keyset_index(User)
