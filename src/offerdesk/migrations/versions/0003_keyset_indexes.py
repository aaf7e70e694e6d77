"""keyset indexes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 02:05:00

The paginated tables get an index in page order (created_at, id), so a page is an index
range scan instead of a scan and sort of the whole table.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYSET_TABLES = ("offers", "users", "content_items")


def upgrade() -> None:
    for table in KEYSET_TABLES:
        op.create_index(f"ix_{table}_keyset", table, ["created_at", "id"])


def downgrade() -> None:
    for table in KEYSET_TABLES:
        op.drop_index(f"ix_{table}_keyset", table_name=table)
