"""``flask clawhooks partition …``: the attempt log partitioned by time on PostgreSQL
(:mod:`flask_clawhooks.partitions`). Retention is ``flask clawhooks prune``'s, which drops
the partitions older than its cutoff.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask.cli import AppGroup
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from . import partitions
from .state import get_state
from .timeutil import utcnow

partition = AppGroup(
    "partition",
    help="Partition the attempt log by day or week (PostgreSQL), so that retention drops "
         "whole partitions instead of deleting rows.")


def _engine() -> Engine:
    engine = get_state().db.engine
    try:
        partitions.require_postgresql(engine)
    except partitions.PartitionError as exc:
        raise click.ClickException(str(exc)) from None
    return engine


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except partitions.PartitionError as exc:
        raise click.ClickException(str(exc)) from None
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"The database refused: {str(exc.orig if hasattr(exc, 'orig') else exc).strip()}"
            " (nothing of that step was changed; run the command again).") from None


def _when(moment: dt.datetime | None) -> str:
    return "(oldest)" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


def _show(found: list[partitions.Partition]) -> None:
    width = max(len(p.name) for p in found)
    for p in found:
        rows = "not analysed" if p.rows is None else f"~{p.rows} rows"
        note = "  (detach unfinished: the next prune finishes it)" if p.detaching else ""
        click.echo(f"  {p.name:<{width}}  {_when(p.start):>16} .. {_when(p.end)}  "
                   f"{rows}{note}")


def _interval_name(step: dt.timedelta) -> str:
    return next((name for name, s in partitions.INTERVALS.items() if s == step), str(step))


@partition.command("enable")
@click.option("--interval", type=click.Choice(sorted(partitions.INTERVALS)), default="day",
              show_default=True, help="How much time one partition holds.")
def enable(interval: str) -> None:
    """Partition clawhooks_attempt by INTERVAL, keeping every row and id.

    The table is not copied: a scan checks its ids while workers go on writing, then an
    exclusive lock is held for catalog changes only, and the table becomes the partition
    of everything before the next interval. Partitions are made 14 days ahead.
    """
    engine = _engine()
    with _errors():
        found = partitions.enable(engine, interval, say=click.echo)
    click.echo(f"Partitioned {partitions.ATTEMPTS} by {interval}: {len(found)} partitions, "
               f"ahead until {_when(found[-1].end)} UTC.")
    _show(found)


@partition.command("status")
def status() -> None:
    """List the attempt partitions, their ranges (UTC) and estimated rows."""
    engine = _engine()
    with _errors(), engine.connect() as conn:
        found = partitions.partitions(conn)
    if not found:
        click.echo(f"{partitions.ATTEMPTS} is not partitioned; `flask clawhooks partition "
                   "enable` partitions it.")
        return
    ahead = found[-1].end - utcnow()
    click.echo(f"{partitions.ATTEMPTS} is partitioned by "
               f"{_interval_name(partitions.interval_of(found))}: {len(found)} partitions, "
               f"ahead until {_when(found[-1].end)} UTC ({ahead.days} days from now).")
    _show(found)


@partition.command("create-ahead")
def create_ahead() -> None:
    """Create the partitions missing until 14 days from now (the workers do this when
    they start and every hour)."""
    engine = _engine()
    with _errors():
        created = partitions.create_ahead(engine)
    click.echo(f"Created {len(created)} partitions"
               + (f": {', '.join(created)}." if created else "; none was missing."))
