"""0.3.0: delivery control settings on webhooks (FIFO ordering, rate and in-flight limits)

``clawhooks_webhook`` gains ``ordering`` (NOT NULL, server default ``none``, so existing
rows and older code that does not write it keep working), ``max_per_second`` and
``max_in_flight`` (nullable: no limit). Added in place on both databases: SQLite's
``ALTER TABLE … ADD COLUMN`` takes a constant default, and PostgreSQL (11 and later)
adds a column with a constant default without rewriting the table. The index the
ordering reads comes in revision 0007, built concurrently.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("clawhooks_webhook", sa.Column(
        "ordering", sa.String(length=8), server_default="none", nullable=False))
    op.add_column("clawhooks_webhook", sa.Column("max_per_second", sa.Float(), nullable=True))
    op.add_column("clawhooks_webhook", sa.Column("max_in_flight", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clawhooks_webhook") as batch:
        batch.drop_column("max_in_flight")
        batch.drop_column("max_per_second")
        batch.drop_column("ordering")
