"""Per-webhook health for its owner: success rate, response times, the last day by hour.

Everything is read from the roll-ups (:mod:`flask_clawhooks.rollups`): one row per
webhook and clock hour, so a webhook's statistics read at most 168 rows however many
attempts it made, and they outlive attempts pruned sooner than 7 days. The windows are
whole clock hours: "24 h" is the current hour and the 23 before it, "7 days" the
current hour and the 167 before it; the chart has one bar per clock hour, newest last.

Only finished attempts count (``success``, ``retry``, ``failed``); one still being sent,
or ``interrupted`` by a dying worker, is neither a success nor a failure. Response
times are those of attempts that got an HTTP answer: a timeout is a failure, not a
30-second response. Percentiles are nearest rank over the roll-ups' response-time
buckets: the upper bound of the bucket holding the rank, capped by the slowest answer
in the window, so never below the exact value and at most one bucket step above it.

The run of failures (``consecutive_failures``, ``failing_since``) is counted from the
roll-ups for the whole hours after the last success and from the attempts for the rest
of that success's own hour (an index range of at most an hour of one webhook).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select

from .models import AnySession, AttemptOutcome, attempt_table, rollup_table
from .rollups import BUCKETS, hour_of
from .timeutil import utcnow

FINISHED = AttemptOutcome.finished()
FAILURES = AttemptOutcome.failures()
#: The windows reported, by name, in clock hours (the current one included).
WINDOWS = {"24h": 24, "7d": 7 * 24}
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
    """One bar of the chart: the clock hour ``[start, start + 1 h)``."""

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


_HOUR = dt.timedelta(hours=1)
_BOUNDS = [int(name.removeprefix("ms_le_")) for name in BUCKETS[:-1]]


#: The roll-up columns :func:`webhook_stats` reads, in this order (the buckets last).
_READ = ("hour", "attempts", "successes", "max_ms", "failed", "last_success_at",
         "last_failure_at", "first_failure_at")
_FIRST_BUCKET = len(_READ)


def _window(rows: list[Any]) -> WindowStats:
    """Sum roll-up ``rows`` (columns :data:`_READ`, then the buckets) into one window;
    percentiles from their buckets."""
    if not rows:
        return WindowStats(0, 0, None, None)
    attempts, successes, *buckets = (sum(column) for column in zip(
        *(row[1:3] + row[_FIRST_BUCKET:] for row in rows), strict=True))
    slowest = max((row[3] for row in rows if row[3] is not None), default=None)
    if slowest is None:
        return WindowStats(attempts, successes, None, None)
    # The open bucket's bound is the slowest answer; every bound is capped by it.
    histogram = [(min(bound, slowest), count)
                 for bound, count in zip([*_BOUNDS, slowest], buckets, strict=True)]
    total = sum(buckets)
    return WindowStats(attempts, successes, percentile(histogram, total, 0.50),
                       percentile(histogram, total, 0.95))


def _newest(session: AnySession, webhook_id: str, column: str) -> dt.datetime | None:
    """The newest ``last_success_at`` or ``last_failure_at`` in the kept roll-ups: the
    hours are walked back from now to the first that has one."""
    r = rollup_table
    return session.scalar(
        select(r.c[column]).where(r.c.webhook_id == webhook_id, r.c[column].is_not(None))
        .order_by(r.c.hour.desc()).limit(1))


@dataclass
class Run:
    """Failures after some moment: attempts, those that ended their delivery, the first."""

    attempts: int
    failed: int
    since: dt.datetime | None


def failures_after(session: AnySession, webhook_id: str, start: dt.datetime | None,
                   hours: Run | None = None) -> Run:
    """Failed attempts of ``webhook_id`` made after ``start`` (None: all kept).

    Whole hours after ``start``'s come from the roll-ups (or ``hours``, their sums when
    the caller has them already); the rest of ``start``'s own hour from the attempts
    (what is left of it if they were pruned).
    """
    r, a = rollup_table, attempt_table
    if hours is None:
        query = select(func.coalesce(func.sum(r.c.attempts - r.c.successes), 0),
                       func.coalesce(func.sum(r.c.failed), 0), func.min(r.c.first_failure_at)
                       ).where(r.c.webhook_id == webhook_id)
        if start is not None:
            query = query.where(r.c.hour > hour_of(start))
        attempts, failed, since = session.execute(query).one()
        hours = Run(int(attempts), int(failed), since)
    run = Run(hours.attempts, hours.failed, hours.since)
    if start is not None:
        raw_attempts, raw_failed, raw_since = session.execute(
            select(func.count(),
                   func.coalesce(func.sum(case((a.c.outcome == AttemptOutcome.FAILED, 1),
                                               else_=0)), 0),
                   func.min(a.c.created_at))
            .where(a.c.webhook_id == webhook_id, a.c.created_at > start,
                   a.c.created_at < hour_of(start) + _HOUR, a.c.outcome.in_(FAILURES))
        ).one()
        run.attempts += int(raw_attempts)
        run.failed += int(raw_failed)
        if raw_since is not None:
            run.since = raw_since  # earlier than any in a later hour
    return run


def webhook_stats(session: AnySession, webhook_id: str,
                  now: dt.datetime | None = None) -> WebhookStats:
    """The health of one webhook over the last 24 hours and 7 days, as of ``now``."""
    now = now or utcnow()
    current = hour_of(now)
    r = rollup_table
    first = current - (max(WINDOWS.values()) - 1) * _HOUR
    rows = [tuple(row) for row in session.execute(
        select(*(r.c[name] for name in _READ), *(r.c[b] for b in BUCKETS))
        .where(r.c.webhook_id == webhook_id, r.c.hour >= first, r.c.hour <= current)
    )]
    windows = {name: _window([row for row in rows if row[0] > current - hours * _HOUR])
               for name, hours in WINDOWS.items()}
    start = current - (CHART_HOURS - 1) * _HOUR
    bars = {start + n * _HOUR: Hour(start + n * _HOUR, 0, 0) for n in range(CHART_HOURS)}
    for hour, attempts, successes, *_ in rows:
        bar = bars.get(hour)
        if bar is not None:
            bar.successes += successes
            bar.failures += attempts - successes
    # The newest success and failure are in the week's rows unless older: then the
    # hours before it are walked back.
    last_success = max((row[5] for row in rows if row[5] is not None), default=None)
    last_failure = max((row[6] for row in rows if row[6] is not None), default=None)
    after: Run | None = None
    if last_success is None:
        last_success = _newest(session, webhook_id, "last_success_at")
    else:  # the hours after it are all in the week's rows
        later = [row for row in rows if row[0] > hour_of(last_success)]
        after = Run(sum(row[1] - row[2] for row in later), sum(row[4] for row in later),
                    min((row[7] for row in later if row[7] is not None), default=None))
    if last_failure is None:
        last_failure = _newest(session, webhook_id, "last_failure_at")
    run = failures_after(session, webhook_id, last_success, after)
    return WebhookStats(
        webhook_id=webhook_id, generated_at=now, windows=windows,
        last_success_at=last_success, last_failure_at=last_failure,
        consecutive_failures=run.attempts, failing_since=run.since,
        hours=list(bars.values()),
    )
