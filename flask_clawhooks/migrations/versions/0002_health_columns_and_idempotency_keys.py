"""0.2.0: webhook health columns, attempt.webhook_id, idempotency keys

- ``clawhooks_webhook``: ``consecutive_failures`` is dropped (0.1.0 made it NOT NULL
  with no default, so code that no longer writes it could not create a webhook);
  ``enabled_at``, ``warned_failing_since``, ``disabled_reason`` and ``custom_headers``
  are added, all nullable. On SQLite the table is rebuilt (Alembic's batch mode), from
  the frozen 0.1.0 definition so the copy needs no reflection and works with ``--sql``.
- ``clawhooks_attempt.webhook_id``, nullable; revision 0003 fills it in.
- ``clawhooks_idempotency_key``, new and empty, so its index is built here.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from flask_clawhooks.migrations.frozen import schema_0_1

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    webhook_0_1 = schema_0_1().tables["clawhooks_webhook"]
    with op.batch_alter_table("clawhooks_webhook", copy_from=webhook_0_1) as batch:
        batch.drop_column("consecutive_failures")
        batch.add_column(sa.Column("enabled_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("warned_failing_since", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("disabled_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("custom_headers", sa.JSON(), nullable=True))
    # SQLite's rebuilt table has lost its index (the copy carries none); elsewhere the
    # table was altered in place and this does nothing.
    op.create_index("ix_clawhooks_webhook_owner", "clawhooks_webhook", ["owner"],
                    if_not_exists=True)
    op.add_column("clawhooks_attempt", sa.Column("webhook_id", sa.String(40), nullable=True))
    op.create_table(
        "clawhooks_idempotency_key",
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("owner", "key", name="pk_clawhooks_idempotency_key"),
    )
    op.create_index("ix_clawhooks_idempotency_key_expires", "clawhooks_idempotency_key",
                    ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_clawhooks_idempotency_key_expires", "clawhooks_idempotency_key")
    op.drop_table("clawhooks_idempotency_key")
    with op.batch_alter_table("clawhooks_attempt") as batch:
        batch.drop_column("webhook_id")
    with op.batch_alter_table("clawhooks_webhook") as batch:
        for name in ("custom_headers", "disabled_reason", "warned_failing_since",
                     "enabled_at"):
            batch.drop_column(name)
        batch.add_column(sa.Column("consecutive_failures", sa.Integer(), nullable=False,
                                   server_default="0"))
