"""Partitioning the attempt log by time, on PostgreSQL (opt-in:
``flask clawhooks partition enable``).

Attempts are the log's largest table (several per delivery, each with its request and
response headers). Partitioned, retention drops whole days (or weeks) of them with
``DETACH PARTITION … CONCURRENTLY`` and ``DROP TABLE``, instead of deleting row by row.

**On the id, not on** ``created_at``. Ids sort by the time they were made
(:mod:`flask_clawhooks.ids`), so the partitions are ranges of the primary key between
the first ids of two instants (:func:`~flask_clawhooks.ids.first_id_at`). The primary key
stays ``id`` and every query and model stays what it is; a key on ``created_at`` would
have to join the primary key, and with it every lookup by id. The one thing given up is
the attempts' foreign key to deliveries (:data:`FOREIGN_KEY`).

**Only attempts.** Events and deliveries are written by the host's own requests
(``emit()``), attempts only by claims (:func:`flask_clawhooks.ledger.claim`): in workers,
and in the web process for a test send. Every worker creates the partitions ahead
(:data:`AHEAD`) when it starts, before it claims anything, and one worker an hour after
that (:func:`run_due_maintenance`); a claim that finds no partition for its attempts
anyway (a test send after no worker ran for longer than the window) makes them and claims
again. An attempt can therefore never lack a partition, and there is no DEFAULT
partition (one would block ``DETACH … CONCURRENTLY`` and, holding rows, the creation of
later partitions). Partitioned events or deliveries would make the host's ``emit()``
depend on a worker having run lately; they keep being pruned in batches
(:mod:`flask_clawhooks.pruning`), with their attempts already gone.

**Enabling keeps the table.** :func:`enable` does not copy rows: the existing table
becomes the partition of everything before the next interval's start (``…_history``),
after a ``CHECK`` constraint proved its range while writes went on; the exclusive lock is
then held only for catalog changes. That partition is dropped whole once all of it is
older than the retention; until then prune deletes its old rows in batches, as before.

.. versionadded:: 0.3.0
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from .errors import ClawHooksError
from .ids import first_id_at, id_seconds
from .timeutil import utcnow
from .turns import Turns

log = logging.getLogger("flask_clawhooks")

#: The partitioned table.
ATTEMPTS = "clawhooks_attempt"
#: What the table held when partitioning was enabled, as one partition.
HISTORY = "clawhooks_attempt_history"
#: The attempts' foreign key to their delivery, which a partitioned table does not
#: have. PostgreSQL gives every partition its own copy, each with its triggers on the
#: deliveries, so deleting a delivery would look into every partition for its attempts
#: (prune's deletes of deliveries took three times as long with 20 partitions). The code
#: never relies on it: attempts are deleted before their deliveries everywhere, as
#: SQLite, which does not enforce foreign keys unless asked, needs anyway.
FOREIGN_KEY = "fk_clawhooks_attempt_delivery_id_clawhooks_delivery"
#: The lengths a partition may have (``enable --interval``); a week starts on Monday,
#: a day at midnight, UTC.
INTERVALS = {"day": dt.timedelta(days=1), "week": dt.timedelta(days=7)}
#: How far ahead of now partitions exist (at least).
AHEAD = dt.timedelta(days=14)
#: Seconds between two runs of :func:`run_due_maintenance` (one worker's turn).
MAINTENANCE_INTERVAL = 3600.0
#: How long a partition's creation or detachment waits for a lock before it gives up
#: until the next turn (it must never queue the workers' writes behind it for long).
LOCK_TIMEOUT = "1s"
#: How long ``enable`` waits for the exclusive lock on the table at a time (workers'
#: writes queue behind a lock being waited for), and how often it tries.
ENABLE_LOCK_TIMEOUT = "2s"
ENABLE_TRIES = 15

_BOUND = re.compile(r"FOR VALUES FROM \((MINVALUE|'[^']*')\) TO \((MAXVALUE|'[^']*')\)")
_TURNS = Turns("partitions")


class PartitionError(ClawHooksError):
    """Partitioning cannot be done as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Partition:
    """One partition of the attempts: the ids made from ``start`` (None: any earlier
    id) up to ``end``."""

    name: str
    start: dt.datetime | None
    end: dt.datetime
    #: PostgreSQL's estimate (``reltuples``): None before the partition was analysed.
    rows: int | None
    #: Left half-detached by an interrupted ``DETACH … CONCURRENTLY``.
    detaching: bool = False


def require_postgresql(conn: Connection | Engine) -> None:
    if conn.dialect.name != "postgresql":
        raise PartitionError(f"Partitions need PostgreSQL; this database is "
                             f"{conn.dialect.name}.")


def is_partitioned(conn: Connection) -> bool:
    """Whether the attempts are partitioned (False on every database but PostgreSQL)."""
    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.scalar(text(
        "SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(:table)"),
        {"table": ATTEMPTS}))


def _moment(bound: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(id_seconds(bound), dt.UTC).replace(tzinfo=None)


def _bound(moment: dt.datetime) -> str:
    return first_id_at("att", moment)


def partitions(conn: Connection) -> list[Partition]:
    """The attempts' partitions, oldest first (none when the table is not partitioned)."""
    rows = conn.execute(text("""
SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), c.reltuples, i.inhdetachpending
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = to_regclass(:table)"""), {"table": ATTEMPTS}).all()
    found = []
    for name, bound, tuples, detaching in rows:
        match = _BOUND.fullmatch(bound or "")
        if match is None or match[2] == "MAXVALUE":
            raise PartitionError(
                f"The partition {name} of {ATTEMPTS} is {bound}, not a range of ids made "
                "by flask-clawhooks: detach it (ALTER TABLE clawhooks_attempt DETACH "
                f"PARTITION {name}) and move its rows into the table.")
        start = None if match[1] == "MINVALUE" else _moment(match[1].strip("'"))
        found.append(Partition(name, start, _moment(match[2].strip("'")),
                               None if tuples < 0 else int(tuples), bool(detaching)))
    return sorted(found, key=lambda p: p.end)


def lacks_partition(error: DBAPIError) -> bool:
    """Whether ``error`` is PostgreSQL refusing an attempt no partition covers."""
    return (getattr(error.orig, "sqlstate", None) == "23514"
            and f'no partition of relation "{ATTEMPTS}"' in str(error.orig))


def interval_of(found: list[Partition]) -> dt.timedelta:
    """The length of the partitions after the history one (a day if there are none)."""
    for partition in reversed(found):
        if partition.start is not None:
            return partition.end - partition.start
    return INTERVALS["day"]


def interval_start(moment: dt.datetime, step: dt.timedelta) -> dt.datetime:
    """The start of the day or week (Monday) holding ``moment``."""
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if step == INTERVALS["week"]:
        day -= dt.timedelta(days=day.weekday())
    return day


def _name(start: dt.datetime) -> str:
    return f"{ATTEMPTS}_p{start:%Y%m%d}"


def _lock_timeout(conn: Connection, timeout: str) -> None:
    conn.execute(text(f"SET LOCAL lock_timeout = '{timeout}'"))


def _add(conn: Connection, start: dt.datetime, end: dt.datetime) -> str:
    """Make the partition ``[start, end)``: an empty table attached to the attempts
    (``ATTACH`` takes a lock that lets the workers' reads and writes go on; ``CREATE TABLE
    … PARTITION OF`` would take one that stops them)."""
    name = _name(start)
    # Storage settings (autovacuum's) can only be set on partitions: the newest's are
    # copied, so settings made on it (or on the history partition) carry forward.
    options = conn.scalar(text("""
SELECT array_to_string(c.reloptions, ', ') FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:table)
ORDER BY pg_get_expr(c.relpartbound, c.oid) LIKE '%MINVALUE%',
         pg_get_expr(c.relpartbound, c.oid) DESC LIMIT 1"""), {"table": ATTEMPTS})
    with_ = f" WITH ({options})" if options else ""
    # IF NOT EXISTS: a partition of this range detached by hand is attached back.
    conn.execute(text(f"CREATE TABLE IF NOT EXISTS {name} (LIKE {ATTEMPTS} "
                      f"INCLUDING DEFAULTS){with_}"))
    conn.execute(text(f"ALTER TABLE {ATTEMPTS} ATTACH PARTITION {name} FOR VALUES FROM "
                      f"('{_bound(start)}') TO ('{_bound(end)}')"))
    return name


def create_ahead(engine: Engine, now: dt.datetime | None = None,
                 ahead: dt.timedelta = AHEAD) -> list[str]:
    """Create the partitions missing from now until ``ahead`` after ``now`` (after the
    newest one, and in any gap a partition detached by hand left), each in a
    transaction of its own; return their names.

    A partition that cannot get its lock within :data:`LOCK_TIMEOUT` is left, with the
    rest, for the next call; the error is raised.
    """
    now = now or utcnow()
    created = []
    with engine.connect() as conn:
        require_postgresql(conn)
        found = partitions(conn)
        conn.rollback()
        if not found:
            raise PartitionError(f"{ATTEMPTS} is not partitioned: run `flask clawhooks "
                                 "partition enable` first.")
        step = interval_of(found)
        # From the interval holding now: those that overlap a partition (the history
        # one included) are skipped below, and where a partition was dropped by hand,
        # the first one found is not the history one and its end is no lower bound.
        start = interval_start(now, step)
        while start < now + ahead:
            if not any((p.start is None or p.start < start + step) and start < p.end
                       for p in found if not p.detaching):
                with conn.begin():
                    _lock_timeout(conn, LOCK_TIMEOUT)
                    created.append(_add(conn, start, start + step))
            start += step
    return created


def enable(engine: Engine, interval: str = "day", *, now: dt.datetime | None = None,
           ahead: dt.timedelta = AHEAD,
           say: Callable[[str], None] = lambda _: None) -> list[Partition]:
    """Partition the attempts by ``interval`` (``day`` or ``week``), keeping every row.

    1. A ``CHECK`` that every id is below the start of the next interval (at least an
       hour away) is added ``NOT VALID`` and validated: a scan of the table that lets
       reads and writes go on.
    2. Under an exclusive lock (waited for :data:`ENABLE_LOCK_TIMEOUT` at a time, up to
       :data:`ENABLE_TRIES` times: workers' writes queue behind it meanwhile), catalog
       changes only: the table and its indexes are renamed ``…_history``, an empty
       partitioned table with the same columns, primary key and indexes (no foreign key:
       :data:`FOREIGN_KEY`) takes its name, the old table is attached as its partition
       up to that start (its indexes become the new ones' partitions: nothing is built
       or checked again; its foreign key is dropped), and the partitions ahead are
       created.
    3. ``ANALYZE``.

    If step 2 fails, the check is dropped again (or, if the process was killed, by the
    next worker that starts: :func:`maintain`).

    :returns: the partitions.
    """
    if interval not in INTERVALS:
        raise PartitionError(f"Partition by what? --interval is {' or '.join(INTERVALS)}, "
                             f"not {interval!r}.")
    step = INTERVALS[interval]
    now = now or utcnow()
    bound_at = interval_start(now + dt.timedelta(hours=1), step) + step
    bound = _bound(bound_at)
    check = f"{HISTORY}_bound"
    with engine.connect() as conn:
        require_postgresql(conn)
        kind = conn.scalar(text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"),
                           {"t": ATTEMPTS})
        if kind is None:
            raise PartitionError(f"There is no table {ATTEMPTS} to partition: run "
                                 "`flask clawhooks init-db` (or `db upgrade`) first.")
        if kind == "p":
            raise PartitionError(f"{ATTEMPTS} is partitioned already; `flask clawhooks "
                                 "partition status` lists its partitions.")
        conn.rollback()
        started = time.monotonic()

        def add_check() -> None:
            conn.execute(text(f"ALTER TABLE {ATTEMPTS} DROP CONSTRAINT IF EXISTS {check}"))
            conn.execute(text(f"ALTER TABLE {ATTEMPTS} ADD CONSTRAINT {check} "
                              f"CHECK (id IS NOT NULL AND id < '{bound}') NOT VALID"))

        def convert() -> None:
            conn.execute(text(f"LOCK TABLE {ATTEMPTS} IN ACCESS EXCLUSIVE MODE"))
            _convert(conn, bound, check)
            # At least the one after the history partition, whatever ``ahead``: the
            # partitions' length is how later calls know the interval (interval_of).
            end = bound_at
            while end == bound_at or end < now + ahead:
                _add(conn, end, end + step)
                end += step

        _briefly(conn, add_check)
        try:
            with conn.begin():
                conn.execute(text(f"ALTER TABLE {ATTEMPTS} VALIDATE CONSTRAINT {check}"))
            say(f"Checked the ids of {ATTEMPTS} (writes went on) in "
                f"{time.monotonic() - started:.2f} s.")
            started = time.monotonic()
            _briefly(conn, convert)
        except BaseException:
            # Left on the plain table, the check would refuse attempts after its bound.
            conn.rollback()
            _briefly(conn, lambda: _drop_check(conn))
            raise
        say(f"Held the exclusive lock on {ATTEMPTS} for {time.monotonic() - started:.2f} s.")
        conn.execute(text(f"ANALYZE {ATTEMPTS}"))
        conn.commit()
        return partitions(conn)


def _briefly(conn: Connection, work: Callable[[], None]) -> None:
    """Run ``work`` in a transaction that waits at most :data:`ENABLE_LOCK_TIMEOUT` for
    each lock; tried :data:`ENABLE_TRIES` times, a second apart, before giving up."""
    for tried in range(1, ENABLE_TRIES + 1):
        try:
            with conn.begin():
                _lock_timeout(conn, ENABLE_LOCK_TIMEOUT)
                work()
            return
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != "55P03" or tried == ENABLE_TRIES:
                raise
            time.sleep(1.0)


def _drop_check(conn: Connection) -> None:
    conn.execute(text(f"ALTER TABLE {ATTEMPTS} DROP CONSTRAINT IF EXISTS {HISTORY}_bound"))


def _convert(conn: Connection, bound: str, check: str) -> None:
    """Step 2 of :func:`enable`, in the caller's transaction holding the lock."""
    table = {"table": ATTEMPTS}
    constraints = conn.execute(text(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = to_regclass(:table) AND conname <> :check ORDER BY contype DESC"),
        table | {"check": check}).all()
    indexes = conn.execute(text("""
SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = to_regclass(:table)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"""),
        table).all()
    conn.execute(text(f"ALTER TABLE {ATTEMPTS} RENAME TO {HISTORY}"))
    for name, kind, _ in constraints:
        if kind in ("p", "u"):  # their index is named as they are
            conn.execute(text(f"ALTER TABLE {HISTORY} RENAME CONSTRAINT {name} TO "
                              f"{_history_name(name)}"))
    for name, _ in indexes:
        conn.execute(text(f"ALTER INDEX {name} RENAME TO {_history_name(name)}"))
    conn.execute(text(f"CREATE TABLE {ATTEMPTS} (LIKE {HISTORY} INCLUDING DEFAULTS) "
                      "PARTITION BY RANGE (id)"))
    for name, kind, definition in constraints:
        if kind != "f":  # no foreign key: see FOREIGN_KEY
            conn.execute(text(f"ALTER TABLE {ATTEMPTS} ADD CONSTRAINT {name} {definition}"))
    for _, definition in indexes:  # read before the rename: they name the new table
        conn.execute(text(definition))
    conn.execute(text(f"ALTER TABLE {ATTEMPTS} ATTACH PARTITION {HISTORY} "
                      f"FOR VALUES FROM (MINVALUE) TO ('{bound}')"))
    conn.execute(text(f"ALTER TABLE {HISTORY} DROP CONSTRAINT {check}"))
    for name, kind, _ in constraints:
        if kind == "f":  # dropped now, not with the table later: that takes a lock
            # on the deliveries that held a worker's record back (152 ms in bench.scale)
            conn.execute(text(f"ALTER TABLE {HISTORY} DROP CONSTRAINT {name}"))


def _history_name(name: str) -> str:
    return name.replace(ATTEMPTS, HISTORY) if ATTEMPTS in name else f"{name}_history"


def drop_older(engine: Engine, moment: dt.datetime) -> list[str]:
    """Drop the partitions of attempts made before ``moment`` (those that end by it):
    ``DETACH PARTITION … CONCURRENTLY`` (the workers' reads and writes go on), then
    ``DROP TABLE``; ``ANALYZE`` when any went. A detachment left half-done by an
    interrupted run is finished first. Returns the names dropped; nothing on a table
    that is not partitioned.

    Every attempt before ``moment`` goes, those of a delivery still pending included
    (:func:`flask_clawhooks.pruning.prune` keeps such a delivery and its event).
    """
    if engine.dialect.name != "postgresql":
        return []
    dropped = []
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if not is_partitioned(conn):
            return []
        try:
            conn.execute(text(f"SET lock_timeout = '{LOCK_TIMEOUT}'"))
            for partition in partitions(conn):
                if partition.end > moment:
                    if partition.detaching:  # not old enough: a detachment undone
                        _detach(conn, partition, "FINALIZE")
                        _attach_again(conn, partition)
                    continue
                _detach(conn, partition, "FINALIZE" if partition.detaching
                        else "CONCURRENTLY")
                conn.execute(text(f"DROP TABLE {partition.name}"))
                dropped.append(partition.name)
            dropped += _drop_detached(conn, moment)
        finally:
            conn.execute(text("RESET lock_timeout"))
        if dropped:
            conn.execute(text(f"ANALYZE {ATTEMPTS}"))
    return dropped


def _drop_detached(conn: Connection, moment: dt.datetime) -> list[str]:
    """Drop the partitions detached by an earlier run whose ``DROP TABLE`` failed (they
    are plain tables then, named as partitions are) if they hold nothing from
    ``moment`` on."""
    names = conn.scalars(text(
        "SELECT relname FROM pg_class WHERE relkind = 'r' AND NOT relispartition "
        "AND pg_table_is_visible(oid) AND (relname = :history OR relname ~ :pattern) "
        "ORDER BY relname"),
        {"history": HISTORY, "pattern": f"^{ATTEMPTS}_p[0-9]{{8}}$"}).all()
    dropped = []
    for name in names:
        newest = conn.scalar(text(f"SELECT max(id) FROM {name}"))
        if newest is None or newest < _bound(moment):
            conn.execute(text(f"DROP TABLE {name}"))
            dropped.append(name)
    return dropped


def _detach(conn: Connection, partition: Partition, how: str) -> None:
    conn.execute(text(f"ALTER TABLE {ATTEMPTS} DETACH PARTITION {partition.name} {how}"))


def _attach_again(conn: Connection, partition: Partition) -> None:
    start = "MINVALUE" if partition.start is None else f"'{_bound(partition.start)}'"
    conn.execute(text(f"ALTER TABLE {ATTEMPTS} ATTACH PARTITION {partition.name} "
                      f"FOR VALUES FROM ({start}) TO ('{_bound(partition.end)}')"))


def maintain(app: Flask, now: dt.datetime | None = None) -> list[str]:
    """Create the partitions ahead if the attempts are partitioned; never raises (logs).

    Run by every worker when it starts, before it claims, and by
    :func:`run_due_maintenance`. Warns when fewer than half of :data:`AHEAD` remain.
    """
    from .state import get_state

    state = get_state(app)
    now = now or utcnow()
    try:
        with app.app_context():
            engine = state.db.engine
        if engine.dialect.name != "postgresql":
            return []
        with engine.connect() as conn:
            if not is_partitioned(conn):
                _drop_leftover_check(conn)
                return []
        created = create_ahead(engine, now)
        with engine.connect() as conn:
            horizon = partitions(conn)[-1].end
    except Exception:
        log.exception("Could not create the attempt partitions ahead; trying again in "
                      "%.0f s", MAINTENANCE_INTERVAL)
        return []
    if created:
        log.info("Created the attempt partitions %s", ", ".join(created))
    if horizon - now < AHEAD / 2:
        log.warning("The attempt partitions end at %s: attempts after that cannot be "
                    "recorded. Run `flask clawhooks partition create-ahead`.", horizon)
    return created


def _drop_leftover_check(conn: Connection) -> None:
    """Drop the check of an ``enable`` killed before it finished: on the plain table it
    would refuse the attempts made after its bound."""
    left = conn.scalar(text("SELECT 1 FROM pg_constraint WHERE conrelid = "
                            "to_regclass(:table) AND conname = :name"),
                       {"table": ATTEMPTS, "name": f"{HISTORY}_bound"})
    conn.rollback()
    if left:
        log.warning("Dropping the check left on %s by an unfinished `flask clawhooks "
                    "partition enable`", ATTEMPTS)
        with conn.begin():
            _lock_timeout(conn, LOCK_TIMEOUT)
            _drop_check(conn)


def run_due_maintenance(app: Flask) -> list[str] | None:
    """:func:`maintain`, if no worker did within :data:`MAINTENANCE_INTERVAL`.
    Called by every worker's sweeper thread after each sweep."""
    from .state import get_state

    state = get_state(app)
    with app.app_context():
        if state.db.engine.dialect.name != "postgresql":
            return None
    if not _TURNS.take(app, state, MAINTENANCE_INTERVAL):
        return None
    return maintain(app)
