"""user email canonical

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 01:40:00

An e-mail address's identity is its canonical form (``users.service.email_address``; issue
14), computed in Python and stored in ``users.email_canonical`` under a plain unique
constraint. It replaces the unique index on ``lower(email)``, whose ``lower`` folded letters
differently on the two engines and was, on SQLite, a function stock SQLite does not have (so
``REINDEX`` and ``PRAGMA integrity_check`` broke it).

The column is filled with the service's own function, so rows written before and after this
migration agree. Existing rows that become one address, or whose address no longer reads as
one, stop the upgrade before anything changes, naming them (ids and addresses): correct or
merge them, then migrate again. The downgrade likewise refuses addresses that the old index
would find equal.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from alembic import op

from offerdesk.errors import DomainError
from offerdesk.preflight import DatabaseProblem
from offerdesk.users.service import email_address

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The migration's own view of the table: the models change later, this step must not.
USERS = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("email_canonical", sa.String()),
)
CANONICAL = sa.String(length=500)


def _refuse(what: str, groups: Iterable[tuple[str, Sequence[tuple[object, str]]]]) -> None:
    """Stop the migration (nothing is changed) when ``groups`` (a key and the ``(id,
    address)`` of its rows) is not empty, naming every row."""
    lines = [
        f"  {key}: " + ", ".join(f"user {id_} <{email}>" for id_, email in rows)
        for key, rows in groups
    ]
    if lines:
        raise DatabaseProblem(
            f"Migration {revision} cannot continue: {what}\n" + "\n".join(lines) + "\n"
            "Change or merge these users (each address once), then migrate again."
        )


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(USERS.c.id, USERS.c.email).order_by(USERS.c.id)).all()
    canonical: dict[object, str] = {}
    by_canonical: dict[str, list[tuple[object, str]]] = defaultdict(list)
    invalid: list[tuple[str, Sequence[tuple[object, str]]]] = []
    for id_, email in rows:
        try:
            canonical[id_] = email_address(email, "email").canonical
        except DomainError as exc:
            invalid.append((exc.message, [(id_, email)]))
            continue
        by_canonical[canonical[id_]].append((id_, email))
    _refuse("these addresses are not valid e-mail addresses:", invalid)
    _refuse(
        "these users' addresses are one address (the same canonical form, docs/api.md):",
        ((key, group) for key, group in by_canonical.items() if len(group) > 1),
    )

    op.drop_index("uq_users_email_lower", table_name="users")
    op.add_column("users", sa.Column("email_canonical", CANONICAL, nullable=True))
    if canonical:
        connection.execute(
            USERS.update()
            .where(USERS.c.id == sa.bindparam("user_id"))
            .values(email_canonical=sa.bindparam("canonical")),
            [{"user_id": id_, "canonical": value} for id_, value in canonical.items()],
        )
    # Batch mode: SQLite rebuilds the table to make a column NOT NULL and add a constraint.
    with op.batch_alter_table("users") as batch:
        batch.alter_column("email_canonical", existing_type=CANONICAL, nullable=False)
        batch.create_unique_constraint(op.f("uq_users_email_canonical"), ["email_canonical"])


def downgrade() -> None:
    # lower() is each engine's own here, as the old index used it (on SQLite: db.py's).
    lowered = sa.func.lower(USERS.c.email)
    clashing = sa.select(lowered).group_by(lowered).having(sa.func.count() > 1)
    rows = op.get_bind().execute(
        sa.select(lowered, USERS.c.id, USERS.c.email)
        .where(lowered.in_(clashing))
        .order_by(lowered, USERS.c.id)
    )
    groups: dict[str, list[tuple[object, str]]] = defaultdict(list)
    for key, id_, email in rows:
        groups[key].append((id_, email))
    _refuse("the old index on lower(email) would find these addresses equal:", groups.items())

    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("uq_users_email_canonical"), type_="unique")
        batch.drop_column("email_canonical")
    op.create_index("uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True)
