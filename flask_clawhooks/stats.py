"""Per-webhook health for its owner: success rate, response times, the last day by hour.

Everything is computed from the attempts, on the ``(webhook_id, created_at, outcome,
response_code, response_time_ms)`` index, which covers every column read: a webhook's
statistics cost what its own attempts in the window cost, however many rows the table
holds, and nothing is counted on the delivery path. ``python -m bench.dashboard`` times
them at 10⁴, 10⁵ and 10⁶ attempts.

Only finished attempts count (``success``, ``retry``, ``failed``); one still being sent,
or ``interrupted`` by a dying worker, is neither a success nor a failure. Response
times are those of attempts that got an HTTP answer: a timeout is a failure, not a
30-second response. Percentiles are exact (nearest rank, as PostgreSQL's
``percentile_disc``): each window's times are grouped by millisecond in the database,
which needs no sort of the rows and returns at most a few thousand groups, and the ranks
are found in Python, the same way on every database.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import DateTime, Integer, case, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from .models import AnySession, AttemptOutcome, attempt_table
from .timeutil import utcnow

FINISHED = AttemptOutcome.finished()
FAILURES = AttemptOutcome.failures()
#: The windows reported, by name.
WINDOWS = {"24h": dt.timedelta(hours=24), "7d": dt.timedelta(days=7)}
#: Hours in the chart of the last day.
CHART_HOURS = 24


@dataclass
class WindowStats:
    attempts: int
    successes: int
    p50_ms: int | None
    p95_ms: int | None

    @property
    def failures(self) -> int:
        return self.attempts - self.successes

    @property
    def success_rate(self) -> float | None:
        """Successes per finished attempt, 0 to 1; None without attempts."""
        return self.successes / self.attempts if self.attempts else None


@dataclass
class Hour:
    """One bar of the chart: ``[start, start + 1 h)``."""

    start: dt.datetime
    successes: int
    failures: int


@dataclass
class WebhookStats:
    webhook_id: str
    generated_at: dt.datetime
    windows: dict[str, WindowStats]
    last_success_at: dt.datetime | None
    last_failure_at: dt.datetime | None
    #: Failed attempts since the last successful one.
    consecutive_failures: int
    #: The first of those, if any: the webhook has been failing since then.
    failing_since: dt.datetime | None
    hours: list[Hour]


class hours_since(FunctionElement[int]):  # noqa: N801 - used like a SQL function
    """Whole hours from ``start`` to a timestamp column, as an integer, on each database."""

    type = Integer()
    inherit_cache = True


@compiles(hours_since, "sqlite")
def _hours_sqlite(element: hours_since, compiler: SQLCompiler, **kw: Any) -> str:
    column, start = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST((julianday({column}) - julianday({start})) * 24 AS INTEGER)"


@compiles(hours_since, "mysql")
@compiles(hours_since, "mariadb")
def _hours_mysql(element: hours_since, compiler: SQLCompiler, **kw: Any) -> str:
    column, start = (compiler.process(c, **kw) for c in element.clauses)
    return f"TIMESTAMPDIFF(HOUR, {start}, {column})"


@compiles(hours_since)
def _hours_default(element: hours_since, compiler: SQLCompiler, **kw: Any) -> str:
    column, start = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(floor(extract(epoch from ({column} - {start})) / 3600) AS INTEGER)"


def percentile(histogram: list[tuple[int, int]], total: int, fraction: float) -> int | None:
    """The nearest-rank percentile of a sorted ``[(value, count)]`` holding ``total``."""
    if total <= 0:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for value, count in histogram:
        seen += count
        if seen >= rank:
            return value
    return histogram[-1][0]


def _window(session: AnySession, webhook_id: str, since: dt.datetime) -> WindowStats:
    """One pass over the window: finished attempts grouped by response time (``-1`` for
    those without an answer), with their successes."""
    a = attempt_table
    key = case((a.c.response_code.is_(None), -1), else_=a.c.response_time_ms)
    rows = session.execute(
        select(key, func.count(),
               func.sum(case((a.c.outcome == AttemptOutcome.SUCCESS, 1), else_=0)))
        .where(a.c.webhook_id == webhook_id, a.c.created_at >= since,
               a.c.outcome.in_(FINISHED))
        .group_by(key)
    ).all()
    attempts = sum(int(count) for _, count, _ in rows)
    successes = sum(int(ok or 0) for _, _, ok in rows)
    answered = sorted((int(ms), int(count)) for ms, count, _ in rows if ms is not None
                      and ms >= 0)
    total = sum(count for _, count in answered)
    return WindowStats(attempts, successes, percentile(answered, total, 0.50),
                       percentile(answered, total, 0.95))


def _hours(session: AnySession, webhook_id: str, now: dt.datetime) -> list[Hour]:
    a = attempt_table
    start = now - dt.timedelta(hours=CHART_HOURS)
    hour = hours_since(a.c.created_at, literal(start, DateTime()))
    ok = case((a.c.outcome == AttemptOutcome.SUCCESS, 1), else_=0)
    bars = [Hour(start + dt.timedelta(hours=n), 0, 0) for n in range(CHART_HOURS)]
    for index, success, count in session.execute(
        select(hour, ok, func.count())
        .where(a.c.webhook_id == webhook_id, a.c.created_at >= start,
               a.c.outcome.in_(FINISHED))
        .group_by(hour, ok)
    ):
        bar = bars[min(max(int(index or 0), 0), CHART_HOURS - 1)]
        if success:
            bar.successes += int(count)
        else:
            bar.failures += int(count)
    return bars


def _newest(session: AnySession, webhook_id: str, outcomes: tuple[str, ...]) -> Any:
    a = attempt_table
    return session.scalar(
        select(a.c.created_at).where(a.c.webhook_id == webhook_id, a.c.outcome.in_(outcomes))
        .order_by(a.c.created_at.desc()).limit(1)
    )


def webhook_stats(session: AnySession, webhook_id: str,
                  now: dt.datetime | None = None) -> WebhookStats:
    """The health of one webhook over the last 24 hours and 7 days, as of ``now``."""
    now = now or utcnow()
    a = attempt_table
    windows = {name: _window(session, webhook_id, now - span) for name, span in WINDOWS.items()}
    last_success = _newest(session, webhook_id, (AttemptOutcome.SUCCESS,))
    last_failure = _newest(session, webhook_id, FAILURES)
    run = select(func.count(), func.min(a.c.created_at)).where(
        a.c.webhook_id == webhook_id, a.c.outcome.in_(FAILURES))
    if last_success is not None:
        run = run.where(a.c.created_at > last_success)
    failures, failing_since = session.execute(run).one()
    return WebhookStats(
        webhook_id=webhook_id, generated_at=now, windows=windows,
        last_success_at=last_success, last_failure_at=last_failure,
        consecutive_failures=int(failures), failing_since=failing_since,
        hours=_hours(session, webhook_id, now),
    )
