"""token revocation

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 23:10:00

A token's first characters (``prefix``, shown by ``offerdesk token list`` and given to
``token revoke``; not enough to use it) and when it was revoked. Tokens issued before this
migration have no prefix: they are revoked with their client, or expire.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import offerdesk.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("prefix", sa.String(length=16), nullable=True))
    op.add_column(
        "api_tokens",
        sa.Column("revoked_at", offerdesk.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index(op.f("ix_api_tokens_prefix"), "api_tokens", ["prefix"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_api_tokens_prefix"), table_name="api_tokens")
    # Batch mode: SQLite rebuilds the table to drop columns.
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("revoked_at")
        batch.drop_column("prefix")
