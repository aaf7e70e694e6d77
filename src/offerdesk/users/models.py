from sqlalchemy import Boolean, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from offerdesk.db import Base, Entity
from offerdesk.pagination import keyset_index


class User(Entity, Base):
    __tablename__ = "users"

    ref: Mapped[str | None] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(500))
    email: Mapped[str] = mapped_column(String(320))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


# E-mail addresses are unique regardless of case (SPEC §2.4); the address keeps its spelling.
Index("uq_users_email_lower", func.lower(User.email), unique=True)


keyset_index(User)
