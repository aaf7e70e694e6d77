"""enrollments

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 23:18:56.302060
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import offerdesk.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "enrollments",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("offer_event_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "ENROLLED",
                "WAITLISTED",
                "CANCELLED",
                "DECLINED",
                name="enrollment_status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("enrolled_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("waitlist_seq", sa.Integer(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["offer_event_id"],
            ["offer_events.id"],
            name=op.f("fk_enrollments_offer_event_id_offer_events"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_enrollments_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollments")),
        sa.UniqueConstraint("offer_event_id", "user_id", name="uq_enrollments_event_user"),
    )
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_enrollments_event_status_seq",
            ["offer_event_id", "status", "waitlist_seq"],
            unique=False,
        )
        batch_op.create_index("ix_enrollments_user_id", ["user_id"], unique=False)

    op.create_table(
        "enrollment_status_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("enrollment_id", sa.Uuid(), nullable=False),
        sa.Column(
            "from_status",
            sa.Enum(
                "ENROLLED",
                "WAITLISTED",
                "CANCELLED",
                "DECLINED",
                name="enrollment_status",
                native_enum=False,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column(
            "to_status",
            sa.Enum(
                "ENROLLED",
                "WAITLISTED",
                "CANCELLED",
                "DECLINED",
                name="enrollment_status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "cause",
            sa.Enum(
                "ENROLL",
                "WAITLIST",
                "PROMOTION",
                "UNENROLL",
                "DECLINE",
                name="change_cause",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("send_mail", sa.Boolean(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("at", offerdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["enrollments.id"],
            name=op.f("fk_enrollment_status_changes_enrollment_id_enrollments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment_status_changes")),
    )
    with op.batch_alter_table("enrollment_status_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_enrollment_status_changes_enrollment", ["enrollment_id", "id"], unique=False
        )

    with op.batch_alter_table("offer_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("waitlist_seq", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("offer_events", schema=None) as batch_op:
        batch_op.drop_column("waitlist_seq")

    with op.batch_alter_table("enrollment_status_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_enrollment_status_changes_enrollment")

    op.drop_table("enrollment_status_changes")
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_index("ix_enrollments_user_id")
        batch_op.drop_index("ix_enrollments_event_status_seq")

    op.drop_table("enrollments")
