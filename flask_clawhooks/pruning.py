"""Retention: deleting old events with their deliveries and attempts, and expiring
payloads sooner (``flask clawhooks prune``, ``CLAWHOOKS_RETENTION``).

Ids sort by the time they were made (:mod:`flask_clawhooks.ids`), so "events older than
the cutoff" is an id range on the primary key: no index on ``created_at`` is needed, and
nothing is scanned twice. The range is walked in batches of :data:`PRUNE_BATCH` events,
oldest first, and each batch is its own short transaction (its attempts, then its
deliveries, then the events), so workers recording at the same time never wait long on
a lock, and an interrupted prune has kept everything it did. An event is kept while any
of its deliveries is still pending, however old it is.

On PostgreSQL the attempts may be partitioned by time (:mod:`flask_clawhooks.partitions`):
prune then drops the partitions older than the cutoff whole, before the batches.

Rows are deleted explicitly, attempts first, rather than through ``ON DELETE CASCADE``:
SQLite enforces foreign keys only when asked to, and hosts rarely ask.

Roll-ups (:mod:`flask_clawhooks.rollups`) are not touched by deleting attempts: the
statistics of pruned hours stay. They are deleted on their own once older than
:data:`flask_clawhooks.rollups.KEEP` or the retention, whichever is longer.

Expiring payloads (``--payloads-older-than``, ``CLAWHOOKS_PAYLOAD_RETENTION``) keeps the
rows, for the log, its search and the statistics, and sets the event bodies and the
receivers' response excerpts to NULL. It walks back from the cutoff, newest first, and
stops at the first batch with no body left: what is older was expired by an earlier run.

The worker runs :func:`run_due_prune` from its sweeper thread, so installs need no cron.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import Engine, column, delete, func, select, table, update
from sqlalchemy.exc import SQLAlchemyError

from .ids import first_id_at, id_seconds
from .models import (
    AnySession,
    DeliveryStatus,
    attempt_table,
    delivery_table,
    event_table,
    rollup_table,
)
from .partitions import Partition, drop_older, is_partitioned, partitions
from .rollups import KEEP
from .timeutil import utcnow
from .turns import Turns

log = logging.getLogger("flask_clawhooks")

#: Events deleted (or whose payloads are expired) per transaction.
PRUNE_BATCH = 1000
#: Seconds the periodic prune may take from a worker's sweeper thread per turn; with more
#: to do, it gives its turn back, so the next sweep (of any worker) goes on with it.
PRUNE_BUDGET = 20.0

_events, _deliveries, _attempts = event_table, delivery_table, attempt_table
#: One worker's prune per ``CLAWHOOKS_PRUNE_INTERVAL``.
_TURNS = Turns("prune")


def _rest(worked_since: float, share: float) -> None:
    """Sleep so that the batch begun at ``worked_since`` (:func:`time.monotonic`) took
    ``share`` of the time: a batch of 40 ms at 0.25 is followed by 120 ms of rest, on any
    machine. Workers delivering meanwhile keep the cores, the disk and (on SQLite) the
    one write lock for the rest of the time."""
    if share < 1:
        time.sleep((time.monotonic() - worked_since) * (1 - share) / share)


def count_older(session: AnySession, older_than: dt.timedelta,
                now: dt.datetime | None = None) -> int:
    """How many events are older than ``older_than`` (pending or not): the length of
    a progress bar. One count over a range of the primary key."""
    bound = first_id_at("evt", (now or utcnow()) - older_than)
    return int(session.scalar(select(func.count()).select_from(_events)
                              .where(_events.c.id < bound)) or 0)


def _settled(session: AnySession, ids: list[str]) -> list[str]:
    """Those of ``ids`` whose deliveries have all ended."""
    pending = set(session.scalars(
        select(_deliveries.c.event_id).where(_deliveries.c.event_id.in_(ids),
                                             _deliveries.c.status == DeliveryStatus.PENDING)))
    return [event_id for event_id in ids if event_id not in pending]


#: Clock difference allowed between the process that made an event and the worker that
#: made its attempts, when their ids bound each other.
CLOCK_SLACK = dt.timedelta(hours=1)


def _holding(session: AnySession, ids: list[str], held: list[Partition]) -> list[str]:
    """The partitions that can hold the attempts of events ``ids`` (oldest first, all
    settled): from the first event's time to when their deliveries were last written
    (every claim writes ``updated_at`` as it makes its attempt), with
    :data:`CLOCK_SLACK` either side.

    Each batch then deletes from those (one or two) by the delivery index, instead of
    looking into every partition; none when the partitions holding them were dropped.
    They must be all: partitioned attempts have no foreign key to cascade from their
    delivery (:data:`flask_clawhooks.partitions.FOREIGN_KEY`).
    """
    last = session.scalar(select(func.max(_deliveries.c.updated_at))
                          .where(_deliveries.c.event_id.in_(ids)))
    first = dt.datetime.fromtimestamp(id_seconds(ids[0]), dt.UTC).replace(tzinfo=None)
    low = first - CLOCK_SLACK
    high = None if last is None else last + CLOCK_SLACK
    return [p.name for p in held if p.end > low and (
        high is None or p.start is None or p.start < high)]


def prune(
    session: AnySession,
    older_than: dt.timedelta,
    progress: Callable[[int], None] | None = None,
    *,
    now: dt.datetime | None = None,
    batch: int | None = None,
    share: float = 1.0,
    deadline: float | None = None,
    on_dropped: Callable[[list[str]], None] | None = None,
) -> int:
    """Delete events made more than ``older_than`` before ``now`` whose deliveries all
    ended, with their deliveries and attempts; then the roll-ups older than the longer
    of ``older_than`` and :data:`~flask_clawhooks.rollups.KEEP`.

    When the attempts are partitioned (:mod:`flask_clawhooks.partitions`), the
    partitions of attempts made before the cutoff are dropped first, whole, and
    ``on_dropped`` is called with their names; the rows left are deleted as above.

    Commits every ``batch`` events (default :data:`PRUNE_BATCH`) and calls
    ``progress(events_looked_at)`` after each (pending ones included, so a progress bar
    of :func:`count_older` ends full).

    :param share: of the time the prune runs, the share spent working; after each batch
        it rests the remainder (``CLAWHOOKS_PRUNE_SHARE``; 1 never rests).
    :param deadline: a :func:`time.monotonic` time after which no batch is started (the
        rest is left for the next run).
    :returns: how many events were deleted.
    """
    now = now or utcnow()
    batch = batch or PRUNE_BATCH
    bound = first_id_at("evt", now - older_than)
    session.commit()  # DETACH … CONCURRENTLY waits for transactions open before it
    bind = session.get_bind()
    try:
        dropped = drop_older(bind if isinstance(bind, Engine) else bind.engine,
                             now - older_than)
    except SQLAlchemyError as exc:  # a lock not had in time: rows are deleted below
        log.warning("Could not drop the attempt partitions older than the cutoff now "
                    "(%s); the next prune finishes it", str(exc).splitlines()[0])
        dropped = []
    if dropped:
        log.info("Dropped the attempt partitions %s", ", ".join(dropped))
        if on_dropped is not None:
            on_dropped(dropped)
    conn = session.connection()
    held = partitions(conn) if is_partitioned(conn) else []  # what is left
    deleted = 0
    after = ""
    while True:
        worked_since = time.monotonic()
        found = list(session.scalars(
            select(_events.c.id).where(_events.c.id > after, _events.c.id < bound)
            .order_by(_events.c.id).limit(batch)))
        if not found:
            break
        after = found[-1]
        ids = _settled(session, found)
        if ids:
            deliveries = select(_deliveries.c.id).where(_deliveries.c.event_id.in_(ids))
            for name in _holding(session, ids, held) if held else [_attempts.name]:
                part = table(name, column("delivery_id"))
                session.execute(delete(part).where(part.c.delivery_id.in_(deliveries)))
            session.execute(delete(_deliveries).where(_deliveries.c.event_id.in_(ids)))
            session.execute(delete(_events).where(_events.c.id.in_(ids)))
        session.commit()
        deleted += len(ids)
        if progress is not None:
            progress(len(found))
        if deadline is not None and time.monotonic() >= deadline:
            break
        _rest(worked_since, share)
    session.execute(delete(rollup_table).where(
        rollup_table.c.hour < now - max(older_than, KEEP)))
    session.commit()
    return deleted


def expire_payloads(
    session: AnySession,
    older_than: dt.timedelta,
    progress: Callable[[int], None] | None = None,
    *,
    now: dt.datetime | None = None,
    batch: int | None = None,
    share: float = 1.0,
    deadline: float | None = None,
) -> int:
    """Set to NULL the bodies of events made more than ``older_than`` before ``now``
    whose deliveries all ended, and the response excerpts of their attempts; keep rows.

    Newest first from the cutoff, one transaction per ``batch`` events, until a batch
    holds no body any more, or until ``deadline``; resting as ``share`` says (as
    :func:`prune`).
    :returns: how many events lost their body.
    """
    bound = first_id_at("evt", (now or utcnow()) - older_than)
    batch = batch or PRUNE_BATCH
    expired = 0
    before = bound
    while True:
        worked_since = time.monotonic()
        rows = session.execute(
            select(_events.c.id, _events.c.body.is_(None)).where(_events.c.id < before)
            .order_by(_events.c.id.desc()).limit(batch)).all()
        with_body = [event_id for event_id, gone in rows if not gone]
        if not with_body:
            session.rollback()
            return expired
        before = rows[-1][0]
        ids = _settled(session, with_body)
        if ids:
            deliveries = select(_deliveries.c.id).where(_deliveries.c.event_id.in_(ids))
            session.execute(update(_attempts).where(
                _attempts.c.delivery_id.in_(deliveries),
                _attempts.c.response_excerpt.is_not(None)).values(response_excerpt=None))
            session.execute(update(_events).where(_events.c.id.in_(ids)).values(body=None))
        session.commit()
        expired += len(ids)
        if progress is not None:
            progress(len(ids))
        if deadline is not None and time.monotonic() >= deadline:
            return expired
        _rest(worked_since, share)


@dataclass
class PruneReport:
    deleted: int = 0
    expired: int = 0
    #: The turn's budget ran out first; the next sweep goes on.
    unfinished: bool = False


def run_due_prune(app: Flask) -> PruneReport | None:
    """Apply ``CLAWHOOKS_RETENTION`` and ``CLAWHOOKS_PAYLOAD_RETENTION`` if no worker
    has within ``CLAWHOOKS_PRUNE_INTERVAL``.

    Called by every worker's sweeper thread after each sweep; a Redis key with that
    lifetime lets one of them through per interval (each by its own clock if Redis
    cannot be reached: two prunes at once only find less to do). A turn takes at most
    :data:`PRUNE_BUDGET` seconds, so sweeps stay on time; a backlog is worked through
    over the following sweeps. Never raises.
    """
    from .idempotency import prune_expired
    from .state import get_state

    state = get_state(app)
    settings = state.settings
    if settings.retention is None and settings.payload_retention is None:
        return None
    interval = settings.prune_interval
    if not _TURNS.take(app, state, interval):
        return None
    now = utcnow()
    report = PruneReport()
    deadline = time.monotonic() + PRUNE_BUDGET
    try:
        with app.app_context():
            session = state.db.session
            if settings.payload_retention is not None:
                report.expired = expire_payloads(
                    session, dt.timedelta(seconds=settings.payload_retention), now=now,
                    share=settings.prune_share, deadline=deadline)
            if settings.retention is not None:
                report.deleted = prune(session, dt.timedelta(seconds=settings.retention),
                                       now=now, share=settings.prune_share, deadline=deadline)
                prune_expired(session, now)
    except Exception:
        log.exception("The periodic prune failed; trying again in %.0f s", interval)
        return None
    if time.monotonic() >= deadline:  # more to do: the next sweep goes on with it
        report.unfinished = True
        _TURNS.give_back(app, state)
    if report.deleted or report.expired:
        log.info("Pruned %d events; expired the payloads of %d", report.deleted,
                 report.expired)
    return report
