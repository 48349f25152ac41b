"""0.3.0: the pending deliveries of each webhook, in id order (delivery control)

A partial index of pending deliveries only: the head of a FIFO webhook's queue is its
first entry for the webhook, and the count of deliveries waiting behind it a short
range scan, however long the webhook's history. Finished deliveries leave the index,
so it stays the size of the backlog. Built with ``CREATE INDEX CONCURRENTLY`` on
PostgreSQL, in a revision of its own run in autocommit (as revision 0004 explains).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NAME = "ix_clawhooks_delivery_webhook_pending"
PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    postgresql = op.get_context().dialect.name == "postgresql"
    with op.get_context().autocommit_block():
        if postgresql and not context.is_offline_mode() and _invalid():
            op.drop_index(NAME, table_name="clawhooks_delivery", postgresql_concurrently=True)
        op.create_index(NAME, "clawhooks_delivery", ["webhook_id", "id"],
                        postgresql_concurrently=True, if_not_exists=True,
                        sqlite_where=PENDING, postgresql_where=PENDING)


def _invalid() -> bool:
    """Whether the index exists but is INVALID (a concurrent build that failed)."""
    return bool(op.get_bind().scalar(sa.text(
        "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = :name AND pg_table_is_visible(c.oid)"), {"name": NAME}))


def downgrade() -> None:
    op.drop_index(NAME, table_name="clawhooks_delivery")
