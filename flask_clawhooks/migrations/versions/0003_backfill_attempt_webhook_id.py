"""0.2.0: attempt.webhook_id backfilled from the deliveries

Attempts made before 0.2.0 have no ``webhook_id``; per-webhook statistics and the health
card read attempts by it, so without this they would ignore all earlier history. Filled
in batches of :data:`BATCH` attempts in id order, each committed on its own (outside the
revision's transaction), so no lock is held for long on a large table and an interrupted
run picks up where it stopped. Attempts whose delivery is gone keep NULL, as before.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: Attempts per UPDATE.
BATCH = 5000

attempt = sa.table("clawhooks_attempt", sa.column("id", sa.String),
                   sa.column("delivery_id", sa.String), sa.column("webhook_id", sa.String))
delivery = sa.table("clawhooks_delivery", sa.column("id", sa.String),
                    sa.column("webhook_id", sa.String))
webhook_of_delivery = (sa.select(delivery.c.webhook_id)
                       .where(delivery.c.id == attempt.c.delivery_id).scalar_subquery())


def upgrade() -> None:
    fill = sa.update(attempt).values(webhook_id=webhook_of_delivery).where(
        attempt.c.webhook_id.is_(None))
    if context.is_offline_mode():  # --sql: no reading as it goes, so one statement
        op.execute(fill)
        return
    with op.get_context().autocommit_block():
        conn = op.get_bind()
        after = ""
        while True:
            ids = conn.scalars(
                sa.select(attempt.c.id)
                .where(attempt.c.webhook_id.is_(None), attempt.c.id > after)
                .order_by(attempt.c.id).limit(BATCH)).all()
            if not ids:
                break
            conn.execute(fill.where(attempt.c.id >= ids[0], attempt.c.id <= ids[-1]))
            after = ids[-1]


def downgrade() -> None:
    pass  # 0002's downgrade drops the column
