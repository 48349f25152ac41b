"""0.3.0: webhook secrets encrypted at rest

- ``clawhooks_webhook.secret`` and ``previous_secret`` become ``TEXT``: an encrypted value
  (``clawhooks:v1:`` and a Fernet token) is longer than 255 characters. PostgreSQL
  changes ``varchar`` to ``text`` in place without rewriting the table; SQLite rebuilds it
  (batch mode, from the frozen 0.2.0 definition, so ``--sql`` works too).
- Every webhook's signing secret, previous secret and secret custom header values are
  encrypted with the first of ``CLAWHOOKS_ENCRYPTION_KEYS``,
  :data:`flask_clawhooks.encryption.BATCH` webhooks at a time, each batch committed on its own
  (:func:`flask_clawhooks.encryption.reseal_rows`), so an interrupted run leaves every
  row readable (a plain value and a token are both read) and the next run finishes it.
  Without keys, or with ``--sql``, the values stay as they are: ``flask clawhooks
  rotate-encryption-key`` encrypts them once keys are set.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from flask_clawhooks import encryption
from flask_clawhooks.migrations.frozen import schema_0_2

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    webhook_0_2 = schema_0_2().tables["clawhooks_webhook"]
    with op.batch_alter_table("clawhooks_webhook", copy_from=webhook_0_2) as batch:
        batch.alter_column("secret", type_=sa.Text(), existing_type=sa.String(255),
                           existing_nullable=False)
        batch.alter_column("previous_secret", type_=sa.Text(),
                           existing_type=sa.String(255), existing_nullable=True)
    # SQLite's rebuilt table has lost its index (the copy carries none); elsewhere the
    # table was altered in place and this does nothing.
    op.create_index("ix_clawhooks_webhook_owner", "clawhooks_webhook", ["owner"],
                    if_not_exists=True)
    cipher = _cipher()
    if cipher is None or context.is_offline_mode():
        return
    with op.get_context().autocommit_block():  # each batch's UPDATE commits on its own
        encryption.reseal_rows(op.get_bind(), cipher)


def _cipher() -> encryption.Cipher | None:
    """The keys of the app running ``flask clawhooks db upgrade``, if it has any."""
    from flask import has_app_context

    if not has_app_context():
        return None
    try:
        cipher = encryption.current()
    except Exception:  # an app without ClawHooks registered
        return None
    return cipher if cipher.enabled else None


def downgrade() -> None:
    # Encrypted values do not fit varchar(255): decrypt first (unset the keys after
    # running `flask clawhooks rotate-encryption-key` is not enough: it encrypts).
    raise NotImplementedError("0005 cannot be downgraded: encrypted secrets do not fit "
                              "the 0.2.0 columns.")
