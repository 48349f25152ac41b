"""``flask clawhooks …`` commands."""

from __future__ import annotations

import dataclasses
import json

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from .errors import UnknownEventType
from .extension import EXTENSION_KEY, State
from .models import Delivery

cli = AppGroup("clawhooks", help="Manage ClawBook webhooks: workers, events, deliveries.")


def _state() -> State:
    return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


@cli.command("init-db")
def init_db() -> None:
    """Create the webhook tables in the app's database (existing tables are kept)."""
    state = _state()
    try:
        state.extension.create_all()
    except SQLAlchemyError as exc:
        raise click.ClickException(f"Could not create the tables: {exc}") from exc
    click.echo(f"Webhook tables ready in {state.db.engine.url.render_as_string()}.")


@cli.command("worker")
@click.option("--burst", is_flag=True, help="Quit once the queue is empty.")
@click.option("--concurrency", type=click.IntRange(1, 1024), default=None,
              help="Deliveries in flight at once (default: CLAWHOOKS_CONCURRENCY).")
@click.option("--name", default=None, help="Worker name shown by RQ (default: random).")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="INFO logs every job; WARNING only trouble.")
def worker(burst: bool, concurrency: int | None, name: str | None, log_level: str) -> None:
    """Deliver webhooks: an RQ worker with its scheduler, sweeping periodically."""
    from .worker import run_worker

    state = _state()
    if concurrency is not None:
        state.settings = dataclasses.replace(state.settings, concurrency=concurrency)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    click.echo(f"Working queue {state.settings.queue!r} on {_redis_label(state)}"
               f"{' (burst)' if burst else ''}; Ctrl-C stops after the POSTs in flight.")
    run_worker(app, burst=burst, name=name, logging_level=log_level.upper())


@cli.command("sweep")
@click.option("--grace", type=click.FloatRange(0), default=None,
              help="Only deliveries due at least this many seconds ago "
                   "(default: CLAWHOOKS_SWEEP_GRACE).")
def sweep(grace: float | None) -> None:
    """Queue again every delivery that is due but not in flight (after losing Redis)."""
    count = _state().extension.sweep(grace=grace)
    click.echo(f"Queued {count} due deliveries.")


@cli.command("prune")
@click.option("--older-than", "older_than", required=True, metavar="AGE",
              help="Delete events older than this: 30d, 12h, 90m, 2w.")
def prune_command(older_than: str) -> None:
    """Delete old events with their deliveries and attempts (pending ones are kept)."""
    from .pruning import parse_age, prune

    try:
        age = parse_age(older_than)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from exc
    deleted = prune(_state().db.session,  # type: ignore[arg-type]
                    age, progress=lambda n: click.echo(f"  {n} events deleted…", err=True))
    click.echo(f"Deleted {deleted} events older than {older_than}.")


@cli.command("emit")
@click.argument("event_type")
@click.argument("data_json")
@click.option("--owner", required=True, help="Whose webhooks receive the event.")
def emit(event_type: str, data_json: str, owner: str) -> None:
    """Emit EVENT_TYPE with DATA_JSON as its data, e.g.
    flask clawhooks emit system.health '{"status": "ok"}' --owner acme"""
    try:
        data = json.loads(data_json)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="DATA_JSON") from exc
    state = _state()
    try:
        event = state.extension.emit(event_type, data, owner=owner)
    except UnknownEventType as exc:
        raise click.BadParameter(str(exc), param_hint="EVENT_TYPE") from exc
    state.db.session.commit()
    deliveries = state.db.session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.event_id == event.id)
    )
    click.echo(f"{event.id} emitted to {deliveries} webhook(s).")


@cli.command("events")
def events() -> None:
    """List the event types webhooks can subscribe to."""
    for event_type in _state().extension.event_types.values():
        click.echo(f"{event_type.name:28} {event_type.group:12} {event_type.description}")


def _redis_label(state: State) -> str:
    kwargs = state.redis.connection_pool.connection_kwargs
    return f"redis://{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
