import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from offerdesk.db import Base, Entity, UTCDateTime


class ApiClient(Entity, Base):
    __tablename__ = "api_clients"

    name: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    # SHA-256 of the secret: secrets are 256-bit random strings, so a fast hash is safe and
    # keeps authentication cheap; the plain secret is shown once and never stored.
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(500))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class ApiToken(Entity, Base):
    __tablename__ = "api_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("api_clients.id"))
    scopes: Mapped[str] = mapped_column(String(500))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The token's first characters, to name it in lists and revoke it (too few to use it);
    # None for tokens issued before migration 0004.
    prefix: Mapped[str | None] = mapped_column(String(16), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
