"""enrollment events on SQLite

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 11:00:00

SQLite only: a trigger on ``enrollment_status_changes`` writes each status change's outbox
event, as 0009's trigger does on PostgreSQL, so that SQLite's enrollment statements
(enrollments/sqlite_functions.py) send one statement for the history row and its event. The
rule is 0009's: withdrawing is OFFER_EVENT_UNENROLLED; becoming active from nothing, CANCELLED
or DECLINED is OFFER_EVENT_ENROLLED; anything else is OFFER_EVENT_ENROLLMENT_STATUS_UPDATED.
The event's data carries ids in their text form (8-4-4-4-12), and the event id is a random
(version 4) UUID, as on PostgreSQL; SQLite stores UUIDs as 32 hex digits (SQLAlchemy's Uuid).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(hex_uuid: str) -> str:
    """SQL for the 8-4-4-4-12 text of a UUID stored as 32 hex digits."""
    parts = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
    return " || '-' || ".join(f"substr({hex_uuid}, {start}, {length})" for start, length in parts)


# A version 4 UUID as 32 hex digits: random, with the version nibble 4 and the variant 10xx.
_RANDOM_UUID = (
    "substr(h, 1, 12) || '4' || substr(h, 14, 3)"
    " || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(h, 18, 15)"
)

ENROLLMENT_EVENT_TRIGGER = f"""
CREATE TRIGGER offerdesk_enrollment_event AFTER INSERT ON enrollment_status_changes
BEGIN
    INSERT INTO outbox_events (id, type, object_id, data, occurred_at)
    SELECT (SELECT {_RANDOM_UUID} FROM (SELECT lower(hex(randomblob(16))) AS h)),
           CASE WHEN NEW.to_status = 'CANCELLED' THEN 'OFFER_EVENT_UNENROLLED'
                WHEN NEW.from_status IS NULL OR NEW.from_status IN ('CANCELLED', 'DECLINED')
                     THEN 'OFFER_EVENT_ENROLLED'
                ELSE 'OFFER_EVENT_ENROLLMENT_STATUS_UPDATED' END,
           e.id,
           json_object(
               'id', {_text("e.id")}, 'status', NEW.to_status,
               'previousStatus', NEW.from_status, 'cause', NEW.cause,
               'userId', {_text("e.user_id")}, 'offerEventId', {_text("e.offer_event_id")}),
           NEW.at
      FROM enrollments e WHERE e.id = NEW.enrollment_id;
END
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(ENROLLMENT_EVENT_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER offerdesk_enrollment_event")
