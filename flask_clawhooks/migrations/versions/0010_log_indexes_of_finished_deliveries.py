"""0.3.0: deliveries indexed by webhook as pending and finished, by due time when pending

``emit()`` inserts pending deliveries; every index that holds them is written by the
emitting commit, and an index keyed by webhook is a page per webhook on SQLite. The full
``(webhook_id, id)`` and ``(webhook_id, event_type, id)`` indexes become partial ones of
finished deliveries (``…_webhook_finished``, ``…_webhook_finished_type``); a webhook's
pending deliveries are already in ``ix_clawhooks_delivery_webhook_pending`` (0007), and
:func:`flask_clawhooks.search.page_ids` reads the two in turn. ``emit()`` to ten webhooks
then writes one index keyed by webhook instead of three.

``ix_clawhooks_delivery_due`` (``status, next_attempt_at``, every delivery) becomes
``…_pending_due`` (``next_attempt_at``, pending deliveries only): what the sweeper, the
lease expiry and the queue gauges read, the size of the backlog rather than of the log,
and one entry fewer to write when an outcome is recorded.

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


def _where(condition: str) -> dict[str, Any]:
    return {"sqlite_where": sa.text(condition), "postgresql_where": sa.text(condition)}


FINISHED = _where("status <> 'pending'")
PENDING = _where("status = 'pending'")

#: (old index, its columns, new index, its columns, its condition)
REPLACED: list[tuple[str, list[str], str, list[str], dict[str, Any]]] = [
    ("ix_clawhooks_delivery_webhook_id", ["webhook_id", "id"],
     "ix_clawhooks_delivery_webhook_finished", ["webhook_id", "id"], FINISHED),
    ("ix_clawhooks_delivery_webhook_type", ["webhook_id", "event_type", "id"],
     "ix_clawhooks_delivery_webhook_finished_type", ["webhook_id", "event_type", "id"],
     FINISHED),
    ("ix_clawhooks_delivery_due", ["status", "next_attempt_at"],
     "ix_clawhooks_delivery_pending_due", ["next_attempt_at"], PENDING),
]


def upgrade() -> None:
    with op.get_context().autocommit_block():
        for _old, _old_columns, new, columns, where in REPLACED:
            create_index(new, TABLE, columns, **where)
        for old, *_rest in REPLACED:
            op.drop_index(old, table_name=TABLE, postgresql_concurrently=True, if_exists=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for old, columns, *_rest in REPLACED:
            create_index(old, TABLE, columns)
        for _old, _old_columns, new, *_rest in REPLACED:
            op.drop_index(new, table_name=TABLE, postgresql_concurrently=True, if_exists=True)
