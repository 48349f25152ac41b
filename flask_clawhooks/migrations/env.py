"""Alembic's environment for the flask-clawhooks revisions (not the host's).

Run by :mod:`flask_clawhooks.migrations.schema` through Alembic's ``command`` API with
the host's connection in ``config.attributes["connection"]`` (online), or with none to
write SQL (``db upgrade --sql``). The version table is ``clawhooks_alembic_version``;
each revision runs in its own transaction, so a failure keeps the revisions before it.
"""

from __future__ import annotations

from typing import Any

from alembic import context

from flask_clawhooks import apikeys  # noqa: F401 - registers clawhooks_api_key
from flask_clawhooks.migrations.schema import TABLE_PREFIX, VERSION_TABLE
from flask_clawhooks.models import Base

config = context.config
connection = config.attributes.get("connection")
on_step = config.attributes.get("on_step")


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Only our tables, should anyone run autogenerate here."""
    return type_ != "table" or bool(name and name.startswith(TABLE_PREFIX))


def report(ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
    if on_step is not None and step.up_revision is not None:
        on_step(step.up_revision_id, step.up_revision.doc)


options: dict[str, Any] = {
    "target_metadata": Base.metadata,
    "version_table": VERSION_TABLE,
    "transaction_per_migration": True,
    "render_as_batch": True,
    "include_name": include_name,
    "on_version_apply": report,
}

if connection is None:
    context.configure(dialect_name=config.get_main_option("dialect_name") or None,
                      literal_binds=True, **options)
else:
    context.configure(connection=connection, **options)

with context.begin_transaction():
    context.run_migrations()
