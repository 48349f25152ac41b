"""0.2.0: indexes for the log search, recovery and per-webhook health

Built with ``CREATE INDEX CONCURRENTLY`` on PostgreSQL, which cannot run in a
transaction: hence a revision of its own, run in autocommit, so that deliveries and
attempts keep being written while the indexes build. A concurrent build that was
interrupted leaves an INVALID index behind; it is dropped and built again here
(:func:`flask_clawhooks.migrations.ops.create_index`, which also builds the index of a
partitioned attempt table partition by partition).

The status and class indexes on deliveries are partial (finished or answered
deliveries only); keep their conditions as ``flask_clawhooks.models`` writes them.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from flask_clawhooks.migrations.ops import create_index

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

NOT_PENDING = sa.text("status <> 'pending'")
ANSWERED = sa.text("response_code IS NOT NULL")

INDEXES: list[tuple[str, str, list[Any], dict[str, Any]]] = [
    ("ix_clawhooks_delivery_webhook_status", "clawhooks_delivery",
     ["webhook_id", "status", "id"],
     {"sqlite_where": NOT_PENDING, "postgresql_where": NOT_PENDING}),
    ("ix_clawhooks_delivery_webhook_type", "clawhooks_delivery",
     ["webhook_id", "event_type", "id"], {}),
    ("ix_clawhooks_delivery_webhook_class", "clawhooks_delivery",
     ["webhook_id", sa.text("(response_code / 100)"), "id"],
     {"sqlite_where": ANSWERED, "postgresql_where": ANSWERED}),
    ("ix_clawhooks_attempt_webhook_time", "clawhooks_attempt",
     ["webhook_id", "created_at", "outcome", "response_code", "response_time_ms"], {}),
]


def upgrade() -> None:
    with op.get_context().autocommit_block():
        for name, table, columns, where in INDEXES:
            # On attempts partitioned by `flask clawhooks partition enable` too.
            create_index(name, table, columns, **where)


def downgrade() -> None:
    for name, table, _columns, _where in reversed(INDEXES):
        op.drop_index(name, table_name=table)
