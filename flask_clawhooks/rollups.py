"""Roll-ups: per webhook and clock hour, what its finished attempts came to.

Statistics (:mod:`flask_clawhooks.stats`), the health card and the health check
(:mod:`flask_clawhooks.health`) read these rows instead of the attempts: a week of one
webhook is at most 168 rows whatever its traffic, and the figures outlive the attempts
when ``flask clawhooks prune`` keeps fewer days than the statistics show.

One row per ``(webhook_id, hour)`` holds the finished attempts (``success``, ``retry``,
``failed``; those still ``sending`` or ``interrupted`` are neither a success nor a
failure), the successes, the attempts that ended their delivery ``failed``, the first
and last failure and the last success, and a histogram of the response times of
answered attempts in fixed buckets (:data:`LATENCY_BOUNDS`, milliseconds, with the
largest time seen for the last, open bucket). Percentiles read from the buckets are the
bucket's upper bound, capped by that largest time: never below the true value, and at
most one bucket step above it.

:func:`add` is called by :func:`flask_clawhooks.ledger.record` with each recorded
batch: the batch is summed per row here, and one ``INSERT … ON CONFLICT DO UPDATE``
adds it, in the recording transaction, so roll-ups and attempts commit together. Rows
are written in key order, so two workers adding to the same rows never deadlock.

.. versionadded:: 0.3.0
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, DateTime, TextClause, bindparam, text

from . import jsontext
from .models import LATENCY_BOUNDS, AttemptOutcome, latency_column

#: Roll-ups older than this are deleted by ``flask clawhooks prune`` (whatever its age):
#: the health check looks back this far for a webhook's last success.
KEEP = dt.timedelta(days=35)

FINISHED = frozenset(AttemptOutcome.finished())
FAILURES = frozenset(AttemptOutcome.failures())
#: The histogram's columns, the open bucket last.
BUCKETS = [latency_column(bound) for bound in LATENCY_BOUNDS] + [latency_column(None)]
_COUNTS = ["attempts", "successes", "failed", *BUCKETS]
_LATEST = ["last_success_at", "last_failure_at", "max_ms"]
_EARLIEST = ["first_failure_at"]
_COLUMNS = ["webhook_id", "hour", *_COUNTS, *_LATEST, *_EARLIEST]
_TYPES = {"webhook_id": "text", "hour": "timestamp", "last_success_at": "timestamp",
          "last_failure_at": "timestamp", "first_failure_at": "timestamp"}


def hour_of(moment: dt.datetime) -> dt.datetime:
    """The clock hour holding ``moment``: the key of its roll-up row."""
    return moment.replace(minute=0, second=0, microsecond=0)


def bucket_of(ms: int) -> str:
    """The histogram column counting a response time of ``ms`` milliseconds."""
    return BUCKETS[bisect.bisect_left(LATENCY_BOUNDS, ms)]


def _stamp(moment: dt.datetime) -> str:
    # As SQLAlchemy stores a DateTime in SQLite (compared there as text).
    return moment.isoformat(" ", "microseconds")


def _rows_sql(postgres: bool, rows: str) -> str:
    if postgres:
        types = ", ".join(f"{c} {_TYPES.get(c, 'int')}" for c in _COLUMNS)
        return f"json_to_recordset(CAST({rows} AS json)) AS r({types})"
    picks = ", ".join(f"json_extract(value, '$.{c}') AS {c}" for c in _COLUMNS)
    return f"(SELECT {picks} FROM json_each({rows})) AS r"


def _merge(column: str, keep: str) -> str:
    """Keep the later (``>``) or earlier (``<``) of the stored and the added time."""
    old, new = f"clawhooks_rollup.{column}", f"excluded.{column}"
    return (f"{column} = CASE WHEN {old} IS NULL OR {new} {keep} {old} "
            f"THEN {new} ELSE {old} END")


def upsert_sql(postgres: bool, rows: str) -> str:
    """The ``INSERT … ON CONFLICT DO UPDATE`` adding the roll-up rows of
    :func:`summarise`, bound as JSON text to the parameter ``rows`` (``:name``,
    ``%(name)s``). On PostgreSQL :func:`flask_clawhooks.ledger.record` runs it inside its
    one statement."""
    names = ", ".join(_COLUMNS)
    sets = [f"{c} = clawhooks_rollup.{c} + excluded.{c}" for c in _COUNTS]
    sets += [_merge(c, ">") for c in _LATEST] + [_merge(c, "<") for c in _EARLIEST]
    # "WHERE true": without it SQLite would read ON CONFLICT as a join's ON.
    return f"""
INSERT INTO clawhooks_rollup ({names})
SELECT {names} FROM {_rows_sql(postgres, rows)} WHERE true ORDER BY webhook_id, hour
ON CONFLICT (webhook_id, hour) DO UPDATE SET {", ".join(sets)}"""


# In each driver's parameter style: add() runs it with exec_driver_sql.
_UPSERT = {True: upsert_sql(True, "%(rows)s"), False: upsert_sql(False, ":rows")}

_HOUR = dt.timedelta(hours=1)
_NEVER = dt.datetime.min

#: One finished attempt: webhook id, when it started, outcome, HTTP status or None,
#: response time in milliseconds.
Attempt = tuple[str, dt.datetime, str, int | None, int]


def summarise(attempts: Iterable[Attempt]) -> list[dict[str, Any]]:
    """The roll-up rows that ``attempts`` add up to, in key order (times as stored)."""
    rows: dict[tuple[str, dt.datetime], dict[str, Any]] = {}
    # A batch's attempts mostly share a webhook and an hour: the row of the last one is
    # kept with the hour it covers, and looked up again only when that changes.
    row: dict[str, Any] = {}
    current, start, end = "", _NEVER, _NEVER
    for webhook_id, started_at, outcome, code, ms in attempts:
        if outcome not in FINISHED:
            continue
        if webhook_id != current or not start <= started_at < end:
            current, start = webhook_id, hour_of(started_at)
            end = start + _HOUR
            key = (webhook_id, start)
            found = rows.get(key)
            if found is None:
                found = rows[key] = dict.fromkeys(_COUNTS, 0) | dict.fromkeys(
                    [*_LATEST, *_EARLIEST])
                found["webhook_id"], found["hour"] = key
            row = found
        row["attempts"] += 1
        if outcome == AttemptOutcome.SUCCESS:
            row["successes"] += 1
            latest = row["last_success_at"]
            if latest is None or started_at > latest:
                row["last_success_at"] = started_at
        else:
            row["failed"] += outcome == AttemptOutcome.FAILED
            latest = row["last_failure_at"]
            if latest is None or started_at > latest:
                row["last_failure_at"] = started_at
            first = row["first_failure_at"]
            if first is None or started_at < first:
                row["first_failure_at"] = started_at
        if code is not None:
            row[bucket_of(ms)] += 1
            most = row["max_ms"]
            if most is None or ms > most:
                row["max_ms"] = ms
    return [{name: _stamp(value) if isinstance(value, dt.datetime) else value
             for name, value in rows[key].items()} for key in sorted(rows)]


def add(conn: Connection, attempts: Iterable[Attempt]) -> None:
    """Add finished ``attempts`` to their roll-ups: one statement, in ``conn``'s
    transaction (which the caller commits with the attempts themselves)."""
    rows = summarise(attempts)
    if rows:
        conn.exec_driver_sql(_UPSERT[conn.dialect.name == "postgresql"],
                             {"rows": jsontext.dumps(rows)})


def hour_sql(postgres: bool, column: str = "created_at") -> str:
    """SQL for the clock hour of a timestamp ``column``, as roll-up rows store it."""
    if postgres:
        return f"date_trunc('hour', {column})"
    return f"strftime('%Y-%m-%d %H:00:00.000000', {column})"


def recount_sql(postgres: bool, where: str = "") -> str:
    """An ``INSERT … SELECT`` that rolls up the attempts matching ``where`` (SQL on the
    attempts' columns, bound parameters allowed) from scratch. Used after filling the
    log in SQL (``bench.scale``) and by :func:`rebuild`."""
    ok = "outcome = 'success'"
    failure = "outcome IN ('retry', 'failed')"
    answered = "response_code IS NOT NULL"
    bounds = [f"SUM(CASE WHEN {answered} AND response_time_ms <= {bound}"
              + (f" AND response_time_ms > {low}" if low is not None else "")
              + " THEN 1 ELSE 0 END)"
              for low, bound in zip([None, *LATENCY_BOUNDS[:-1]], LATENCY_BOUNDS, strict=True)]
    bounds.append(f"SUM(CASE WHEN {answered} AND response_time_ms > {LATENCY_BOUNDS[-1]} "
                  "THEN 1 ELSE 0 END)")
    values = [
        "webhook_id", hour_sql(postgres), "COUNT(*)",
        f"SUM(CASE WHEN {ok} THEN 1 ELSE 0 END)",
        "SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END)", *bounds,
        f"MAX(CASE WHEN {ok} THEN created_at END)",
        f"MAX(CASE WHEN {failure} THEN created_at END)",
        f"MAX(CASE WHEN {answered} THEN response_time_ms END)",
        f"MIN(CASE WHEN {failure} THEN created_at END)",
    ]
    condition = "outcome IN ('success', 'retry', 'failed') AND webhook_id IS NOT NULL"
    if where:
        condition += f" AND ({where})"
    return (f"INSERT INTO clawhooks_rollup ({', '.join(_COLUMNS)})\n"
            f"SELECT {', '.join(values)}\nFROM clawhooks_attempt WHERE {condition}\n"
            f"GROUP BY webhook_id, {hour_sql(postgres)}")


def rebuild(conn: Connection, since: dt.datetime | None = None) -> None:
    """Roll up the attempts again from scratch, for the hours from ``since`` (all if
    None). For attempts written other than through :func:`flask_clawhooks.ledger.record`
    (made in SQL, restored from a dump); does not commit.

    Hours whose attempts were pruned lose their roll-ups too: rebuild only hours whose
    attempts are all still there.
    """
    postgres = conn.dialect.name == "postgresql"
    params: dict[str, Any] = {}
    if since is None:
        conn.execute(text("DELETE FROM clawhooks_rollup"))
        insert = text(recount_sql(postgres))
    else:
        params["since"] = hour_of(since)
        conn.execute(_typed("DELETE FROM clawhooks_rollup WHERE hour >= :since"), params)
        insert = _typed(recount_sql(postgres, "created_at >= :since"))
    conn.execute(insert, params)


def _typed(sql: str) -> TextClause:
    return text(sql).bindparams(bindparam("since", type_=DateTime))
