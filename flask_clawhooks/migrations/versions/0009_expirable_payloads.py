"""0.3.0: event bodies may be NULL, once their payload expired

``flask clawhooks prune --payloads-older-than`` and ``CLAWHOOKS_PAYLOAD_RETENTION`` keep
old events for the log and set their bodies to NULL. On PostgreSQL dropping NOT NULL
changes only the catalog (instant, whatever the table's size); SQLite cannot alter a
column, so batch mode copies the events table into a new one (time and disk in
proportion to the events kept), from the frozen 0.2.0 definition so the copy needs no
reflection and works with ``--sql``.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from flask_clawhooks.migrations.frozen import schema_0_2

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _alter(nullable=True)


def _alter(nullable: bool) -> None:
    event_0_2 = schema_0_2().tables["clawhooks_event"]
    with op.batch_alter_table("clawhooks_event", copy_from=event_0_2) as batch:
        batch.alter_column("body", existing_type=sa.LargeBinary(), nullable=nullable)
    # SQLite's rebuilt table has lost its index (the copy carries none); elsewhere the
    # column was altered in place and this does nothing.
    op.create_index("ix_clawhooks_event_owner_id", "clawhooks_event", ["owner", "id"],
                    if_not_exists=True)


def downgrade() -> None:
    if not context.is_offline_mode():
        expired = op.get_bind().scalar(sa.text(
            "SELECT count(*) FROM clawhooks_event WHERE body IS NULL"))
        if expired:
            raise RuntimeError(
                f"{expired} events have expired payloads, which the older schema cannot "
                "hold: delete them first (flask clawhooks prune --older-than AGE).")
    _alter(nullable=False)
