"""``flask clawhooks db …``: the webhook tables' schema, upgraded, checked, recorded.

Registered on the ``clawhooks`` group by :mod:`flask_clawhooks.cli`.
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..state import get_state
from . import schema

db = AppGroup("db", help="The webhook tables' schema: upgrade it, check it, see or record "
                         "its revision. Our own version table; the host's is left alone.")


def _engine() -> Engine:
    return get_state().db.engine


@db.command("upgrade")
@click.argument("revision", default="head")
@click.option("--sql", is_flag=True,
              help="Print the SQL instead of running it, for a DBA to review and run.")
def upgrade(revision: str, sql: bool) -> None:
    """Bring the webhook tables to REVISION (default: head, what this version needs).

    Tables made by 0.1.0 or 0.2.0, which had no version table, are recognised and
    upgraded from there; tables that match no release are left alone. On PostgreSQL one
    upgrade runs at a time, and indexes are built concurrently.
    """
    engine = _engine()
    try:
        if sql:
            schema.upgrade_sql(engine, revision, sys.stdout)
            return
        start, now = schema.upgrade(engine, revision, say=click.echo)
    except (schema.SchemaError, SQLAlchemyError) as exc:
        raise click.ClickException(str(exc)) from exc
    where = engine.url.render_as_string(hide_password=True)
    if start == now:
        click.echo(f"The webhook tables in {where} are up to date (schema revision {now}).")
    else:
        click.echo(f"Upgraded the webhook tables in {where} from schema revision "
                   f"{start or '(none)'} to {now}.")


@db.command("current")
def current() -> None:
    """Print the schema revision of the webhook tables, and whether it is what this
    version of flask-clawhooks needs."""
    found = _status()
    click.echo(f"{found.revision or '(none)'} ({found.state}; this version needs "
               f"{found.head})")


@db.command("check")
def check() -> None:
    """Exit non-zero, saying what to run, unless the webhook tables are at the revision
    this version needs (for deploy scripts and readiness probes)."""
    found = _status()
    if found.state is not schema.SchemaState.CURRENT:
        raise click.ClickException(found.message)
    click.echo(found.message)


@db.command("stamp")
@click.argument("revision")
def stamp(revision: str) -> None:
    """Record REVISION as the webhook tables' schema revision without changing them.

    For tables you have brought to that revision yourself (for example with the SQL of
    ``db upgrade --sql``). Nothing checks that they match it.
    """
    try:
        recorded = schema.stamp(_engine(), revision)
    except (schema.SchemaError, SQLAlchemyError) as exc:
        raise click.ClickException(str(exc)) from exc
    except Exception as exc:  # Alembic's error for a revision it does not know
        raise click.ClickException(f"No revision {revision!r}: {exc}") from exc
    click.echo(f"Recorded schema revision {recorded}.")


def _status() -> schema.SchemaStatus:
    try:
        return schema.status(_engine())
    except SQLAlchemyError as exc:
        raise click.ClickException(f"Could not read the database: {exc}") from exc
