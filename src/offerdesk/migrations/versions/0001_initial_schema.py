"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 23:12:34.697781
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import offerdesk.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_clients",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=500), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_api_clients_client_id")),
    )
    op.create_table(
        "content_items",
        sa.Column("ref", sa.String(length=255), nullable=True),
        sa.Column(
            "type",
            sa.Enum(
                "TRAINING",
                "COURSE",
                "EXTERNAL_CONTENT",
                "SCORM",
                "VIDEO",
                name="content_type",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_items")),
        sa.UniqueConstraint("ref", name=op.f("uq_content_items_ref")),
    )
    op.create_table(
        "offers",
        sa.Column("ref", sa.String(length=255), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("archived_at", offerdesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
        sa.UniqueConstraint("ref", name=op.f("uq_offers_ref")),
    )
    op.create_table(
        "users",
        sa.Column("ref", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("ref", name=op.f("uq_users_ref")),
    )
    # E-mail addresses are unique regardless of case; autogenerate cannot see expression indexes.
    op.create_index("uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True)
    op.create_table(
        "api_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=True),
        sa.Column("scopes", sa.String(length=500), nullable=False),
        sa.Column("expires_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["api_clients.id"], name=op.f("fk_api_tokens_client_id_api_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "offer_events",
        sa.Column("ref", sa.String(length=255), nullable=True),
        sa.Column("offer_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column(
            "content_type",
            sa.Enum(
                "TRAINING",
                "COURSE",
                "EXTERNAL_CONTENT",
                "SCORM",
                "VIDEO",
                name="content_type",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("max_participants", sa.Integer(), nullable=True),
        sa.Column("min_participants", sa.Integer(), nullable=True),
        sa.Column("waiting_list", sa.Boolean(), nullable=False),
        sa.Column("closing_date", offerdesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("enrolled_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("waitlisted_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "enrolled_count >= 0 AND waitlisted_count >= 0", name=op.f("ck_offer_events_counts")
        ),
        sa.CheckConstraint(
            "max_participants IS NULL OR enrolled_count <= max_participants",
            name=op.f("ck_offer_events_capacity"),
        ),
        sa.CheckConstraint(
            "max_participants IS NULL OR max_participants >= 1",
            name=op.f("ck_offer_events_max_positive"),
        ),
        sa.CheckConstraint(
            "min_participants IS NULL OR (min_participants >= 0 AND (max_participants IS NULL OR min_participants <= max_participants))",
            name=op.f("ck_offer_events_min_within_max"),
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offers.id"], name=op.f("fk_offer_events_offer_id_offers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_events")),
        sa.UniqueConstraint("ref", name=op.f("uq_offer_events_ref")),
    )
    with op.batch_alter_table("offer_events", schema=None) as batch_op:
        batch_op.create_index("ix_offer_events_offer_id", ["offer_id"], unique=False)

    op.create_table(
        "offer_event_contents",
        sa.Column("offer_event_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("content_item_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["content_item_id"],
            ["content_items.id"],
            name=op.f("fk_offer_event_contents_content_item_id_content_items"),
        ),
        sa.ForeignKeyConstraint(
            ["offer_event_id"],
            ["offer_events.id"],
            name=op.f("fk_offer_event_contents_offer_event_id_offer_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("offer_event_id", "position", name=op.f("pk_offer_event_contents")),
    )
    with op.batch_alter_table("offer_event_contents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_offer_event_contents_content_item_id", ["content_item_id"], unique=False
        )

    op.create_table(
        "offer_event_dates",
        sa.Column("offer_event_id", sa.Uuid(), nullable=False),
        sa.Column("start", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("location", sa.String(length=500), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint('"end" > start', name=op.f("ck_offer_event_dates_end_after_start")),
        sa.ForeignKeyConstraint(
            ["offer_event_id"],
            ["offer_events.id"],
            name=op.f("fk_offer_event_dates_offer_event_id_offer_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_event_dates")),
    )
    with op.batch_alter_table("offer_event_dates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_offer_event_dates_event_start", ["offer_event_id", "start"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("offer_event_dates", schema=None) as batch_op:
        batch_op.drop_index("ix_offer_event_dates_event_start")

    op.drop_table("offer_event_dates")
    with op.batch_alter_table("offer_event_contents", schema=None) as batch_op:
        batch_op.drop_index("ix_offer_event_contents_content_item_id")

    op.drop_table("offer_event_contents")
    with op.batch_alter_table("offer_events", schema=None) as batch_op:
        batch_op.drop_index("ix_offer_events_offer_id")

    op.drop_table("offer_events")
    op.drop_table("api_tokens")
    op.drop_index("uq_users_email_lower", table_name="users")
    op.drop_table("users")
    op.drop_table("offers")
    op.drop_table("content_items")
    op.drop_table("api_clients")
