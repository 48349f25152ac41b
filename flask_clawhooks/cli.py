"""``flask clawhooks …`` commands."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Callable
from typing import Any

import click
import redis
from flask import current_app
from flask.cli import AppGroup, ScriptInfo
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from . import cli_webhooks, delivery_state
from .cli_partitions import partition as partition_commands
from .durations import Duration
from .errors import InvalidEventData, TooManyTestSends, UnknownEventType
from .migrations.commands import db as db_commands
from .migrations.gate import require_usable
from .migrations.schema import SchemaError
from .models import Delivery, DeliveryStatus
from .receiver_check import check_receiver
from .state import State, get_state
from .timeutil import utcnow
from .version import __version__


class _Commands(AppGroup):
    """The ``clawhooks`` group: a Redis that does not answer is one line and status 1,
    not a traceback, whichever command met it."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            # Outside the command's app context by now: find the app again.
            info = ctx.find_object(ScriptInfo)
            app = info.load_app() if info is not None else None
            raise click.ClickException(_redis_down(get_state(app), exc)) from None


cli = _Commands("clawhooks", help="Manage ClawBook webhooks: workers, events, deliveries.")
click.version_option(__version__, "--version", package_name="flask-clawhooks",
                     prog_name="flask-clawhooks")(cli)
cli.add_command(db_commands)
cli.add_command(check_receiver)
cli.add_command(partition_commands)



@cli.command("init-db")
def init_db() -> None:
    """Create the webhook tables in the app's database (existing tables are kept)."""
    state = get_state()
    try:
        state.extension.create_all()
    except SchemaError as exc:
        raise click.ClickException(f"{exc} Nothing was changed.") from exc
    except SQLAlchemyError as exc:
        raise click.ClickException(f"Could not create the tables: {exc}") from exc
    click.echo(f"Webhook tables ready in {state.db.engine.url.render_as_string()}.")


class ProcessCount(click.ParamType):  # type: ignore[type-arg]
    """``--processes``: a number from 1, or ``auto`` for one per core."""

    name = "N|auto"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        from .supervisor import parse_processes

        try:
            return parse_processes(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a number from 1 or 'auto'.", param, ctx)


@cli.command("worker")
@click.option("--burst", is_flag=True, help="Quit once the queue is empty.")
@click.option("--concurrency", type=click.IntRange(1, 1024), default=None,
              help="Deliveries in flight at once (default: CLAWHOOKS_CONCURRENCY).")
@click.option("--processes", type=ProcessCount(), default="1", show_default=True,
              help="Worker processes under one supervising parent; 'auto' is one per "
                   "core. The parent restarts a worker that dies and stops them all on "
                   "SIGTERM or Ctrl-C.")
@click.option("--name", default=None, help="Worker name shown by RQ (default: random).")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="INFO logs every attempt that did not succeed (refused, failed, retry "
                   "scheduled) with its webhook and reason; DEBUG adds successes and RQ's "
                   "lines per job; WARNING only trouble of the worker itself.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve Prometheus metrics over HTTP on this port (every path answers).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              help="Address the metrics port listens on; 0.0.0.0 for every interface.")
def worker(burst: bool, concurrency: int | None, processes: int, name: str | None,
           log_level: str, metrics_port: int | None, metrics_host: str) -> None:
    """Deliver webhooks: an RQ worker with its scheduler, sweeping periodically.

    With --burst it exits when the queue is empty, with status 1 if a job failed.
    """
    from .worker import rq_logging_level, run_worker, settle_heap, setup_logging

    state = get_state()
    try:
        require_usable(current_app, state.db)
    except SchemaError as exc:
        raise click.ClickException(f"{exc} The worker was not started.") from exc
    if concurrency is not None:
        state.settings = dataclasses.replace(state.settings, concurrency=concurrency)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    from .metrics import process_exited

    # Started before any worker process, so that they all write to the directory it reads.
    server = _metrics_server(app, metrics_host, metrics_port)
    how = f" with {processes} processes" if processes > 1 else ""
    click.echo(f"Working queue {state.settings.queue!r} on {_redis_label(state)}{how}"
               f"{' (burst)' if burst else ''}; Ctrl-C stops after the POSTs in flight.")
    code = 0
    try:
        if processes == 1:
            setup_logging(log_level)
            settle_heap()
            run = run_worker(app, burst=burst, name=name,
                             logging_level=rq_logging_level(log_level))
            # A burst run reports its failed jobs in its status; a worker stopped by
            # SIGTERM has done what it was asked, whatever failed on the way (a job cut
            # by a Redis restart is found again by the sweeper).
            if burst and run.failed_jobs:
                click.echo(f"{run.failed_jobs} job{'s' if run.failed_jobs != 1 else ''} "
                           "failed (see the log above; RQ keeps them in its failed job "
                           "registry).", err=True)
                code = 1
        else:
            code = _supervise(app, processes, burst, name, log_level.upper(),
                              process_exited if server is not None else None)
    finally:
        if server is not None:
            server.close()
        else:
            process_exited(os.getpid())  # when writing to another worker's directory
    if code:
        raise click.exceptions.Exit(code)


def _supervise(app: Any, processes: int, burst: bool, name: str | None, log_level: str,
               on_exit: Callable[[int], None] | None) -> int:
    """Run ``processes`` workers under a :class:`~flask_clawhooks.supervisor.Supervisor`."""
    from .supervisor import Supervisor
    from .worker import setup_logging

    setup_logging(log_level)
    return Supervisor(app, processes, burst=burst, name=name, logging_level=log_level,
                      on_exit=on_exit).run()


def _metrics_server(app: Any, host: str, port: int | None) -> Any:
    """Start the worker's metrics server (:mod:`flask_clawhooks.metrics`), or None."""
    if port is None:
        return None
    from .metrics import WorkerMetricsServer

    try:
        server = WorkerMetricsServer(app, port, host)
    except OSError as exc:
        raise click.ClickException(
            f"Could not serve metrics on {host}:{port}: {exc.strerror or exc}") from None
    except RuntimeError as exc:  # metrics already in use before the directory was set
        raise click.ClickException(str(exc)) from None
    click.echo(f"Prometheus metrics at http://{host}:{server.port}/metrics")
    return server


@cli.command("sweep")
@click.option("--grace", type=Duration(bare_seconds=True), default=None,
              help="Only deliveries due at least this long ago: 30s, 5m (a bare number "
                   "is seconds; default: CLAWHOOKS_SWEEP_GRACE).")
def sweep(grace: float | None) -> None:
    """Queue again every delivery that is due but not in flight (after losing Redis)."""
    count = get_state().extension.sweep(grace=grace)
    click.echo(f"Queued {count} due deliveries.")


@cli.command("check-health")
def check_health() -> None:
    """Warn about and switch off webhooks that keep failing, now, and name the failing
    ones (workers check every CLAWHOOKS_HEALTH_CHECK_INTERVAL seconds)."""
    from . import health

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    report = health.check(app)
    click.echo(f"{len(report.failing)} failing webhook(s); warned: "
               f"{', '.join(report.warned) or 'none'}; disabled: "
               f"{', '.join(report.disabled) or 'none'}.")
    if report.failing:
        from .models import Webhook

        hooks = get_state().db.session.scalars(
            select(Webhook).where(Webhook.id.in_(report.failing)).order_by(Webhook.id))
        for hook in hooks:
            click.echo(f"  failing: {hook.id}  {hook.owner}  {hook.url}")


@cli.command("prune")
@click.option("--older-than", "older_than", metavar="AGE",
              help="Delete events older than this, with their deliveries and attempts: "
                   "30d, 12h, 90m, 2w.")
@click.option("--payloads-older-than", "payloads_older_than", metavar="AGE",
              help="Set the bodies of events older than this, and their receivers' "
                   "response excerpts, to NULL; the rows stay for the log and statistics.")
@click.option("--share", type=click.FloatRange(0, 1, min_open=True), default=None,
              metavar="FRACTION",
              help="Of its running time, the share the prune spends working; it rests the "
                   "remainder after each batch so deliveries keep their pace. Default: "
                   "CLAWHOOKS_PRUNE_SHARE (0.25); 1 never rests.")
def prune_command(older_than: str | None, payloads_older_than: str | None,
                  share: float | None) -> None:
    """Delete old events and expire old payloads, in short batches (pending deliveries
    keep their event). CLAWHOOKS_RETENTION has the workers do this on their own."""
    from .durations import parse_age
    from .idempotency import prune_expired
    from .pruning import count_older, expire_payloads, prune

    if older_than is None and payloads_older_than is None:
        raise click.UsageError("Give --older-than AGE, --payloads-older-than AGE or both.")
    ages = {}
    for hint, text in (("--older-than", older_than),
                       ("--payloads-older-than", payloads_older_than)):
        if text is not None:
            try:
                ages[hint] = parse_age(text)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint=hint) from exc
    state = get_state()
    session = state.db.session
    share = state.settings.prune_share if share is None else share
    if "--payloads-older-than" in ages:
        expired = expire_payloads(session, ages["--payloads-older-than"], share=share)
        click.echo(f"Expired the payloads of {expired} events older than "
                   f"{payloads_older_than}.")
    if "--older-than" in ages:
        age = ages["--older-than"]
        total = count_older(session, age)
        click.echo(f"Deleting {total} events older than {older_than} (those with a "
                   "delivery still pending stay).")
        def dropped(names: list[str]) -> None:
            click.echo(f"Dropped {len(names)} attempt partitions older than "
                       f"{older_than}: {', '.join(names)}.")

        with click.progressbar(length=total, label="Pruning events", show_pos=True) as bar:
            deleted = prune(session, age, progress=bar.update, share=share,
                            on_dropped=dropped)
        click.echo(f"Deleted {deleted} events older than {older_than}.")
        keys = prune_expired(session)
        if keys:
            click.echo(f"Deleted {keys} expired idempotency keys.")


@cli.command("export")
@click.option("--since", metavar="TIME",
              help="Events made from this time: 2026-01-30T14:30:00Z, 2026-01-30 (UTC) "
                   "or an age such as 30d. Default: the oldest.")
@click.option("--until", metavar="TIME", help="Events made before this time. Default: now.")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8", lazy=True),
              default="-", help="Write to this file instead of standard output.")
def export_command(since: str | None, until: str | None, output: Any) -> None:
    """Write the delivery log as JSON lines: one event a line, with its deliveries and
    their attempts, oldest first (e.g. before `flask clawhooks prune`)."""
    from .export import export
    from .recovery import parse_moment

    moments: dict[str, Any] = {}
    for hint, text in (("--since", since), ("--until", until)):
        if text is not None:
            try:
                moments[hint] = parse_moment(text)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint=hint) from None
    start, end = moments.get("--since"), moments.get("--until")
    if start is not None and end is not None and end <= start:
        raise click.BadParameter("must be later than --since.", param_hint="--until")
    written = export(get_state().db.session, output, start, end)
    if output.name not in ("-", "<stdout>"):
        click.echo(f"Exported {written} events to {output.name}.", err=True)


@cli.command("rotate-encryption-key")
def rotate_encryption_key() -> None:
    """Encrypt every webhook's secrets afresh with the first of CLAWHOOKS_ENCRYPTION_KEYS.

    Run it after putting a new key first (then drop the old key), and once after setting
    the keys for the first time, to encrypt secrets stored before. It works in batches,
    one transaction each; running it again is harmless.
    """
    from . import encryption
    from .models import Webhook

    state = get_state()
    if not state.cipher.enabled:
        raise click.ClickException(
            "CLAWHOOKS_ENCRYPTION_KEYS is not set: nothing to encrypt with. Set it to a list "
            "of Fernet keys, the new one first (see the configuration documentation).")
    session = state.db.session
    total = session.scalar(select(func.count()).select_from(Webhook)) or 0
    session.rollback()
    bar: Any = (click.progressbar(length=total, label="Re-encrypting", show_pos=True)
                if total > encryption.BATCH else contextlib.nullcontext())
    with state.db.engine.connect() as connection, bar as shown:
        def committed(rows: int) -> None:
            connection.commit()
            if shown is not None:
                shown.update(rows)

        try:
            done = encryption.reseal_rows(connection, state.cipher, after_batch=committed)
        except encryption.SecretUnreadable as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"Re-encrypted the secrets of {done} webhooks with the first key of "
               "CLAWHOOKS_ENCRYPTION_KEYS.")


@cli.command("emit")
@click.argument("event_type")
@click.argument("data_json")
@click.option("--owner", required=True, help="Whose webhooks receive the event.")
def emit(event_type: str, data_json: str, owner: str) -> None:
    """Emit EVENT_TYPE with DATA_JSON as its data, e.g.
    flask clawhooks emit backup.completed '{"backup_id": "b1", "size_bytes": 9}' --owner acme"""
    try:
        data = json.loads(data_json)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="DATA_JSON") from exc
    state = get_state()
    down = _unreachable(state)
    try:
        event = state.extension.emit(event_type, data, owner=owner)
    except UnknownEventType as exc:
        raise click.BadParameter(str(exc), param_hint="EVENT_TYPE") from exc
    except InvalidEventData as exc:
        raise click.BadParameter(str(exc), param_hint="DATA_JSON") from exc
    state.db.session.commit()
    deliveries = state.db.session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.event_id == event.id)
    )
    if down is not None and deliveries:
        raise click.ClickException(
            f"{event.id} is stored for {deliveries} webhook(s) but not queued: {down} "
            "A worker's sweeper sends it once it reaches Redis.")
    click.echo(f"{event.id} emitted to {deliveries} webhook(s).")


@cli.command("events")
def events() -> None:
    """List the event types webhooks can subscribe to."""
    for event_type in get_state().extension.event_types.values():
        click.echo(f"{event_type.name:28} {event_type.group:12} {event_type.description}")


def _redis_label(state: State) -> str:
    from .redisclient import describe

    return describe(state.settings.redis_url)


def _redis_down(state: State, error: BaseException) -> str:
    """One line on a Redis that does not answer, and what to do."""
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return (f"Redis at {_redis_label(state)} is unreachable ({reason}). Start it, or set "
            "CLAWHOOKS_REDIS_URL (FLASK_CLAWHOOKS_REDIS_URL) to the Redis your workers use.")


def _unreachable(state: State) -> str | None:
    """Why Redis cannot be reached now (see :func:`_redis_down`), or None if it answers.

    A failure also opens the circuit breaker, so the enqueue after the commit skips
    Redis quietly and leaves the deliveries to the sweeper."""
    try:
        state.request_redis.ping()
    except (redis.RedisError, OSError) as exc:
        state.breaker.failed(exc)
        return _redis_down(state, exc)
    return None


# -- API keys, webhooks and deliveries -------------------------------------------------
# These go through flask_clawhooks.api.resources and .validation, as the JSON API does,
# but for any owner: the CLI is the operator's tool.


def _checked(check: Callable[..., Any], *args: Any, hint: str) -> Any:
    """Run a validation check, turning its error into a :class:`click.BadParameter`."""
    from .api.errors import InvalidField

    try:
        return check(*args)
    except InvalidField as exc:
        raise click.BadParameter(exc.reason, param_hint=hint) from None


def _found(lookup: Callable[..., Any], *args: Any) -> Any:
    """Run a lookup, turning "not found" and "not now" into a :class:`click.ClickException`."""
    from .api.errors import NoSuchResource, StateConflict

    try:
        return lookup(*args)
    except (NoSuchResource, StateConflict) as exc:
        raise click.ClickException(str(exc.description)) from None


def _when(moment: Any) -> str:
    from .timeutil import isoformat

    return isoformat(moment) or "-"


@cli.group("api-key")
def api_key() -> None:
    """Create, list and revoke keys of the JSON API (Authorization: Bearer …)."""


@api_key.command("create")
@click.option("--owner", required=True, help="Whose webhooks the key manages.")
@click.option("--name", default=None, help="A label to tell keys apart, e.g. 'ci'.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the key (for scripts).")
def api_key_create(owner: str, name: str | None, quiet: bool) -> None:
    """Make an API key for OWNER and print it. It is shown this once: only its hash is
    stored."""
    from . import apikeys
    from .api import validation

    owner = _checked(validation.owner, owner, hint="--owner")
    if name is not None:
        name = _checked(lambda v: validation.text("name", v, max_length=validation.NAME_MAX),
                        name, hint="--name")
    session = get_state().db.session
    key, token = apikeys.create_key(session, owner, name)
    session.commit()
    if quiet:
        click.echo(token)
        return
    click.echo(f"Created API key {key.id} for owner {owner!r}. "
               "Store it now; it cannot be shown again:")
    click.echo(token)


@api_key.command("list")
@click.option("--owner", default=None, help="Only this owner's keys.")
def api_key_list(owner: str | None) -> None:
    """List API keys (their first characters only), newest first."""
    from .apikeys import ApiKey

    query = select(ApiKey).order_by(ApiKey.id.desc())
    if owner is not None:
        query = query.where(ApiKey.owner == owner)
    keys = get_state().db.session.scalars(query).all()
    if not keys:
        click.echo("No API keys.")
    for key in keys:
        status = f"revoked {_when(key.revoked_at)}" if key.revoked else "active"
        click.echo(f"{key.id}  {key.prefix}…  owner={key.owner}  name={key.name or '-'}  "
                   f"created={_when(key.created_at)}  last_used={_when(key.last_used_at)}  "
                   f"{status}")


@api_key.command("revoke")
@click.argument("key_id")
def api_key_revoke(key_id: str) -> None:
    """Revoke KEY_ID (key_…): requests with it get 401 from now on."""
    from . import apikeys
    from .api import validation

    if not validation.is_id(key_id, "key"):
        raise click.BadParameter("an API key id looks like key_…; see `api-key list`.",
                                 param_hint="KEY_ID")
    session = get_state().db.session
    key = apikeys.revoke(session, key_id)
    if key is None:
        raise click.ClickException(f"No API key {key_id}; see `flask clawhooks api-key list`.")
    session.commit()
    click.echo(f"Revoked {key.id} ({key.prefix}…, owner {key.owner!r}).")


@cli.group("webhooks")
def webhooks() -> None:
    """List, create and delete webhooks of any owner."""


for _command in cli_webhooks.COMMANDS:  # update, disable, enable, rotate-secret
    webhooks.add_command(_command)


@webhooks.command("list")
@click.option("--owner", default=None, help="Only this owner's webhooks.")
def webhooks_list(owner: str | None) -> None:
    """List webhooks, newest first: id, owner, status, events and URL."""
    from .api import resources

    session = get_state().db.session
    after, more, shown = None, True, 0
    while more:
        rows, more = resources.list_webhooks(session, owner, 100, after)
        for hook in rows:
            click.echo(f"{hook.id}  {hook.owner}  {hook.public_status:8}  "
                       f"{','.join(hook.events)}  {hook.url}")
        shown += len(rows)
        after = rows[-1].id if rows else None
    if not shown:
        click.echo("No webhooks.")


@webhooks.command("create")
@click.option("--owner", required=True, help="Whose events the webhook receives.")
@click.option("--url", required=True, help="The endpoint, e.g. https://your-server.com/webhook.")
@click.option("--event", "events", multiple=True, required=True,
              help="An event type to subscribe to; repeat for more "
                   "(`flask clawhooks events` lists them).")
@click.option("--secret", default=None, help="Signing secret, 16-255 characters "
                                             "(default: a new whsec_… secret).")
@click.option("--description", default=None, help="A note for the owner.")
@click.option("--ordering", type=click.Choice(["none", "fifo"]), default=None,
              help="fifo: one delivery at a time, in emit order (default: none).")
@click.option("--max-per-second", type=float, default=None,
              help="Most requests a second, across all workers (default: no limit).")
@click.option("--max-in-flight", type=int, default=None,
              help="Most requests open at once, across all workers (default: no limit).")
def webhooks_create(owner: str, url: str, events: tuple[str, ...], secret: str | None,
                    description: str | None, ordering: str | None,
                    max_per_second: float | None, max_in_flight: int | None) -> None:
    """Create a webhook and print its id and secret (the secret is shown this once)."""
    from .api import resources, validation
    from .api.errors import InvalidField
    from .catalog import TEST_EVENT

    state = get_state()
    owner = _checked(validation.owner, owner, hint="--owner")
    body: dict[str, Any] = {"url": url, "events": list(events)}
    if secret is not None:
        body["secret"] = secret
    if description is not None:
        body["description"] = description
    control = {"ordering": ordering, "max_per_second": max_per_second,
               "max_in_flight": max_in_flight}
    body.update({name: value for name, value in control.items() if value is not None})
    known = set(state.extension.event_types) - {TEST_EVENT}
    try:
        fields = validation.webhook_fields(body, state.settings, known, creating=True)
    except InvalidField as exc:
        hint = {"events": "--event"}.get(exc.field, f"--{exc.field.replace('_', '-')}")
        raise click.BadParameter(exc.reason, param_hint=hint) from None
    hook = resources.create_webhook(state.db.session, owner, fields)
    click.echo(f"Created {hook.id} for owner {owner!r}: {', '.join(hook.events)} -> {hook.url}")
    if any(value is not None for value in control.values()):
        per_second = "none" if hook.max_per_second is None else f"{hook.max_per_second:g}"
        in_flight = "none" if hook.max_in_flight is None else str(hook.max_in_flight)
        click.echo(f"Delivery control: ordering {hook.ordering}, max per second "
                   f"{per_second}, max in flight {in_flight}")
    click.echo(f"Secret (shown only now): {hook.secret}")


@webhooks.command("delete")
@click.argument("webhook_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask first (for scripts).")
def webhooks_delete(webhook_id: str, yes: bool) -> None:
    """Delete WEBHOOK_ID with its delivery log, after asking (--yes skips the question)."""
    from .api import resources

    session = get_state().db.session
    hook = _found(resources.get_webhook, session, webhook_id, None)
    if not yes:
        click.confirm(f"Delete {hook.id} ({hook.url}, owner {hook.owner!r}) and its "
                      "delivery log?", abort=True)
    resources.delete_webhook(session, hook)
    click.echo(f"Deleted {webhook_id}.")


@cli.command("test")
@click.argument("webhook_id")
def test_webhook(webhook_id: str) -> None:
    """Send a webhook.test event to WEBHOOK_ID now and show the outcome; exits 1 unless
    the receiver answered 2xx."""
    from .api import resources

    state = get_state()
    session = state.db.session
    hook = _found(resources.get_webhook, session, webhook_id, None)
    _found(resources.ensure_enabled, hook, "sending a test")
    try:
        delivery = state.extension.send_test(hook)
    except TooManyTestSends as exc:
        raise click.ClickException(str(exc)) from None
    code = delivery.response_code if delivery.response_code is not None else "-"
    summary = (f"{delivery.id} to {hook.url}: {delivery.status}, HTTP {code}, "
               f"{delivery.response_time_ms if delivery.response_time_ms is not None else '-'} ms")
    if delivery.status != DeliveryStatus.SUCCESS:
        raise click.ClickException(f"{summary} ({delivery.last_error or 'no answer'})")
    click.echo(summary)


@cli.command("deliveries")
@click.argument("webhook_id")
@click.option("--status", type=click.Choice(delivery_state.STATUSES), default=None,
              help="Only deliveries in this state (the dashboard's and the API's words).")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True,
              help="How many, newest first.")
@click.option("--after", metavar="DELIVERY_ID", default=None,
              help="Continue below this delivery: the id the previous page ends with.")
def deliveries(webhook_id: str, status: str | None, limit: int, after: str | None) -> None:
    """Show the delivery log of WEBHOOK_ID, newest first, a page at a time.

    Each line ends with the delivery's state as the dashboard says it: the status word
    (pending, success, failed), then what happened and what happens next.
    """
    from .api import resources, validation
    from .dashboard.display import countdown

    if after is not None and not validation.is_id(after, "del"):
        raise click.BadParameter(f"{after!r} is not a delivery id (del_…).",
                                 param_hint="--after")
    state = get_state()
    session = state.db.session
    hook = _found(resources.get_webhook, session, webhook_id, None)
    rows, more = resources.list_deliveries(session, hook, limit, after=after, status=status)
    if not rows:
        click.echo("No deliveries.")
    now = utcnow()
    for row in rows:
        code = row.response_code if row.response_code is not None else "-"
        ms = row.response_time_ms if row.response_time_ms is not None else "-"
        said = delivery_state.delivery_state(row, state.settings.retry_delays, now)
        due = countdown(said.due, now) if said.due else ""
        click.echo(f"{row.id}  {row.event_id}  {row.event_type:24}  "
                   f"HTTP {code}  {ms} ms  attempts={row.attempt_count}  "
                   f"{_when(row.updated_at)}  {said.text(due)}")
    if more:
        options = f" --status {status}" if status else ""
        click.echo(f"More: flask clawhooks deliveries {hook.id}{options} "
                   f"--limit {limit} --after {rows[-1].id}")


@cli.command("retry")
@click.argument("delivery_id")
def retry(delivery_id: str) -> None:
    """Make DELIVERY_ID pending and due now; a worker sends it."""
    from .api import resources

    state = get_state()
    session = state.db.session
    delivery = _found(resources.get_delivery, session, delivery_id, None)
    _found(resources.ensure_enabled, delivery.webhook, "retrying its deliveries")
    _found(resources.ensure_not_in_flight, delivery)
    down = _unreachable(state)
    state.extension.retry(delivery.id)
    if down is not None:
        raise click.ClickException(f"{delivery.id} is pending again but not queued: {down} "
                                   "A worker's sweeper sends it once it reaches Redis.")
    click.echo(f"{delivery.id} is queued for another attempt; a worker will send it.")


@cli.command("recover")
@click.argument("webhook_id")
@click.option("--since", required=True, metavar="WHEN",
              help="Recover deliveries made from then on: 2026-01-30T14:30:00Z, "
                   "'2026-01-30 14:30' (UTC), or an age such as 6h or 2d.")
@click.option("--until", default=None, metavar="WHEN",
              help="... and made before then (default: now). Same forms as --since.")
@click.option("--all", "include_all", is_flag=True,
              help="Every finished delivery (successful ones too), not only failed ones.")
def recover(webhook_id: str, since: str, until: str | None, include_all: bool) -> None:
    """Send WEBHOOK_ID's failed deliveries made since WHEN again, oldest first.

    They become pending and due now, as new attempts (attempt numbers go on), and a
    worker sends them. Unlike the API and the dashboard this has no
    CLAWHOOKS_RECOVER_LIMIT: it works through any range in batches, with a progress bar.
    Running it twice at once sends nothing twice.
    """
    from . import recovery
    from .api import resources

    state = get_state()
    session = state.db.session
    hook = _found(resources.get_webhook, session, webhook_id, None)
    _found(resources.ensure_enabled, hook, "recovering its deliveries")
    moments = {}
    for hint, text in (("--since", since), ("--until", until)):
        if text is not None:
            try:
                moments[hint] = recovery.parse_moment(text)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint=hint) from None
    try:
        job = recovery.Recovery(hook.id, moments["--since"], moments.get("--until"),
                                recovery.ALL if include_all else recovery.FAILED)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--until") from None
    total = recovery.count(session, job)
    if not total:
        session.rollback()
        click.echo(f"No {recovery.describe(job)}: nothing to recover.")
        return
    click.echo(f"Re-queuing {recovery.describe(job, total)}, oldest first.")
    if total > recovery.BATCH:
        with click.progressbar(length=total, label="Re-queuing", show_pos=True) as bar:
            done = recovery.recover(session, job, state.enqueue, progress=bar.update)
    else:
        done = recovery.recover(session, job, state.enqueue)
    click.echo(f"Re-queued {done} {recovery.noun(job, done)} of {hook.id}; "
               "workers send them oldest first.")
