"""the 0.1.0 schema: webhooks, events, deliveries, attempts, API keys

The tables exactly as ``init-db`` of flask-clawhooks 0.1.0 made them, from the frozen
copy in :mod:`flask_clawhooks.migrations.frozen` (which is also what an un-versioned
0.1.0 database is recognised by).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op
from alembic.operations import ops

from flask_clawhooks.migrations.frozen import schema_0_1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in schema_0_1().sorted_tables:
        op.invoke(ops.CreateTableOp.from_table(table))
        for index in sorted(table.indexes, key=lambda index: str(index.name)):
            op.invoke(ops.CreateIndexOp.from_index(index))


def downgrade() -> None:
    for table in reversed(schema_0_1().sorted_tables):
        op.drop_table(table.name)
