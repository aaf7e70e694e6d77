"""outbox and webhooks

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 01:30:00

The transactional outbox, webhook subscriptions and deliveries (issue 12).

On PostgreSQL each outbox row takes its transaction's id as ``tx`` (the change feed's order,
outbox/service.py), and a trigger on ``enrollment_status_changes`` writes the enrollment
events: the enrollment functions of 0007 write that history row for every status change, so
the event row is written in the same statement and the same round trip, without a second
copy of those functions. On SQLite, migration 0010's trigger does the same.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import offerdesk.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The event type of an enrollment status change: the same rule as SQLite's trigger (migration
# 0010), held to it by the same tests.
ENROLLMENT_EVENT_FUNCTION = """
CREATE FUNCTION offerdesk_enrollment_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox_events (id, type, object_id, data, occurred_at)
    SELECT gen_random_uuid(),
           CASE WHEN NEW.to_status = 'CANCELLED' THEN 'OFFER_EVENT_UNENROLLED'
                WHEN NEW.from_status IS NULL OR NEW.from_status IN ('CANCELLED', 'DECLINED')
                     THEN 'OFFER_EVENT_ENROLLED'
                ELSE 'OFFER_EVENT_ENROLLMENT_STATUS_UPDATED' END,
           e.id,
           json_build_object(
               'id', e.id, 'status', NEW.to_status, 'previousStatus', NEW.from_status,
               'cause', NEW.cause, 'userId', e.user_id, 'offerEventId', e.offer_event_id),
           NEW.at
      FROM enrollments e WHERE e.id = NEW.enrollment_id;
    RETURN NULL;
END $$
"""

ENROLLMENT_EVENT_TRIGGER = """
CREATE TRIGGER offerdesk_enrollment_event AFTER INSERT ON enrollment_status_changes
FOR EACH ROW EXECUTE FUNCTION offerdesk_enrollment_event()
"""


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "outbox_events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "tx",
            sa.BigInteger(),
            server_default=sa.text("(pg_current_xact_id()::text::bigint)" if postgres else "0"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.Uuid(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("occurred_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint("id", name=op.f("uq_outbox_events_id")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_outbox_events_tx_seq", "outbox_events", ["tx", "seq"])
    op.create_index("ix_outbox_events_occurred_at", "outbox_events", ["occurred_at"])
    op.create_table(
        "webhook_subscriptions",
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=200), nullable=True),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("previous_secret", sa.String(length=100), nullable=True),
        sa.Column("previous_secret_until", offerdesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
    )
    op.create_index(
        "ix_webhook_subscriptions_keyset", "webhook_subscriptions", ["created_at", "id"]
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "PENDING",
                "SUCCEEDED",
                "FAILED",
                name="delivery_status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", offerdesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("response_excerpt", sa.String(length=1024), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name=op.f("fk_webhook_deliveries_subscription_id_webhook_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_sub_event"),
    )
    op.create_index(
        "ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"]
    )
    op.create_index("ix_webhook_deliveries_keyset", "webhook_deliveries", ["created_at", "id"])
    op.create_table(
        "webhook_fanout_position",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tx", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_fanout_position")),
    )
    # Fan-out starts at the beginning of the outbox (which is empty now).
    op.execute("INSERT INTO webhook_fanout_position (id, tx, seq) VALUES (1, -1, -1)")
    if postgres:
        op.execute(ENROLLMENT_EVENT_FUNCTION)
        op.execute(ENROLLMENT_EVENT_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER offerdesk_enrollment_event ON enrollment_status_changes")
        op.execute("DROP FUNCTION offerdesk_enrollment_event()")
    op.drop_table("webhook_fanout_position")
    op.drop_index("ix_webhook_deliveries_keyset", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_webhook_subscriptions_keyset", table_name="webhook_subscriptions")
    op.drop_table("webhook_subscriptions")
    op.drop_index("ix_outbox_events_occurred_at", table_name="outbox_events")
    op.drop_index("ix_outbox_events_tx_seq", table_name="outbox_events")
    op.drop_table("outbox_events")
