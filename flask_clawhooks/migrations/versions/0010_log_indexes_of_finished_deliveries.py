"""0.3.0: a webhook's log indexed as its pending and its finished deliveries

``emit()`` inserts pending deliveries; every index that holds them is written by the
emitting commit, and an index keyed by webhook is a page per webhook on SQLite. The full
``(webhook_id, id)`` and ``(webhook_id, event_type, id)`` indexes become partial ones of
finished deliveries (``…_webhook_finished``, ``…_webhook_finished_type``); a webhook's
pending deliveries are already in ``ix_clawhooks_delivery_webhook_pending`` (0007), and
:func:`flask_clawhooks.search.page_ids` reads the two in turn. ``emit()`` to ten webhooks
then writes one index keyed by webhook instead of three.

The new indexes are built before the old ones are dropped, with ``CREATE INDEX
CONCURRENTLY`` and ``DROP INDEX CONCURRENTLY`` on PostgreSQL (hence autocommit, as
revision 0004 explains), so deliveries keep being written and listed meanwhile.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from flask_clawhooks.migrations.ops import create_index

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLE = "clawhooks_delivery"
NOT_PENDING = sa.text("status <> 'pending'")
FINISHED = {"sqlite_where": NOT_PENDING, "postgresql_where": NOT_PENDING}

#: (old full index, new partial index, their columns)
REPLACED: list[tuple[str, str, list[Any]]] = [
    ("ix_clawhooks_delivery_webhook_id", "ix_clawhooks_delivery_webhook_finished",
     ["webhook_id", "id"]),
    ("ix_clawhooks_delivery_webhook_type", "ix_clawhooks_delivery_webhook_finished_type",
     ["webhook_id", "event_type", "id"]),
]


def upgrade() -> None:
    with op.get_context().autocommit_block():
        for _old, new, columns in REPLACED:
            create_index(new, TABLE, columns, **FINISHED)
        for old, _new, _columns in REPLACED:
            op.drop_index(old, table_name=TABLE, postgresql_concurrently=True, if_exists=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for old, _new, columns in REPLACED:
            create_index(old, TABLE, columns)
        for _old, new, _columns in REPLACED:
            op.drop_index(new, table_name=TABLE, postgresql_concurrently=True, if_exists=True)
