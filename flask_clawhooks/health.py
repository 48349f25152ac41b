"""The health check: warn the owner of a webhook that keeps failing, then switch it off.

A webhook is *failing* when an attempt failed after its last successful attempt (and
after the owner last switched it on); it has been failing since the first such failure.
The check reads the roll-ups (:mod:`flask_clawhooks.rollups`), which the delivery path
keeps, and the attempts of the hour of the last success, every
``CLAWHOOKS_HEALTH_CHECK_INTERVAL`` seconds in one of the workers (their sweeper threads
take turns through a Redis key), and whenever ``flask clawhooks check-health`` runs. A
run of failures longer than the attempts are kept (``CLAWHOOKS_RETENTION``) is still
seen whole: its hours are in the roll-ups.

* Failing for ``CLAWHOOKS_WARN_AFTER_FAILING_FOR`` (a day): the owner is warned once
  per run of failures (``warned_failing_since`` remembers which run) and
  ``webhook_failing`` is sent.
* Failing for ``CLAWHOOKS_DISABLE_AFTER_FAILING_FOR`` (five days), or
  ``CLAWHOOKS_DISABLE_AFTER_FAILURES`` deliveries in a row ended failed: the webhook is
  switched off, ``disabled_reason`` says why, ``webhook_disabled`` is sent and the owner
  e-mailed.

A success ends the run: the next failure starts a new one, with a new warning. Both
steps are single conditional ``UPDATE`` statements, so checks running at once in several
processes send each e-mail once.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy import DateTime, case, func, literal, or_, select, update

from . import metrics, notify, signals
from .models import AnySession, AttemptOutcome, attempt_table, rollup_table, webhook_table
from .state import State, get_state
from .stats import failures_after
from .timeutil import isoformat, utcnow
from .turns import Turns

log = logging.getLogger("flask_clawhooks")

#: Attempt outcomes that count as failures (``interrupted`` ones count as neither).
FAILURES = AttemptOutcome.failures()
_EPOCH = dt.datetime(1970, 1, 1)
#: One worker's health check per ``CLAWHOOKS_HEALTH_CHECK_INTERVAL``.
_TURNS = Turns("health-check")


@dataclass
class Failing:
    """A webhook whose attempts have failed since ``failing_since``."""

    webhook_id: str
    owner: str
    url: str
    warned_failing_since: dt.datetime | None
    failing_since: dt.datetime
    #: Failures before this are forgiven: the last success, or switching it on.
    start: dt.datetime


@dataclass
class HealthNotice:
    """What the warning and disabled e-mails tell an owner."""

    webhook_id: str
    owner: str
    url: str
    failing_since: dt.datetime
    now: dt.datetime
    failed_attempts: int
    last_error: str | None
    reason: str | None = None
    disable_at: dt.datetime | None = None

    @property
    def failing_for(self) -> float:
        return (self.now - self.failing_since).total_seconds()


@dataclass
class HealthReport:
    failing: list[str] = field(default_factory=list)
    warned: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)


def failing_webhooks(session: AnySession) -> list[Failing]:
    """Enabled webhooks with a failed attempt after their last success (or switch-on).

    One statement: per enabled webhook, a few index seeks (the newest roll-up with a
    success; the first failure after the start in the attempts and in the roll-ups), so
    the cost follows the number of webhooks, not attempts. The earlier of the two first
    failures is the run's start: the attempts are exact within the hour of the start, the
    roll-ups hold what was pruned.
    """
    a, r, w = attempt_table, rollup_table, webhook_table
    last_success = (
        select(r.c.last_success_at)
        .where(r.c.webhook_id == w.c.id, r.c.last_success_at.is_not(None))
        .order_by(r.c.hour.desc()).limit(1)
        .correlate(w).scalar_subquery()
    )
    hooks = select(
        w.c.id, w.c.owner, w.c.url, w.c.warned_failing_since, w.c.enabled_at,
        last_success.label("last_success"),
    ).where(w.c.enabled.is_(True)).subquery("hooks")
    epoch = literal(_EPOCH, DateTime())
    succeeded = func.coalesce(hooks.c.last_success, epoch)
    switched_on = func.coalesce(hooks.c.enabled_at, epoch)
    start = case((succeeded > switched_on, succeeded), else_=switched_on)
    first_failure = (
        select(a.c.created_at)
        .where(a.c.webhook_id == hooks.c.id, a.c.outcome.in_(FAILURES), a.c.created_at > start)
        .order_by(a.c.created_at).limit(1)
        .correlate(hooks).scalar_subquery()
    )
    # Roll-up hours start on the hour, so "hour > start" is "an hour after start's".
    first_failed_hour = (
        select(r.c.first_failure_at)
        .where(r.c.webhook_id == hooks.c.id, r.c.hour > start,
               r.c.first_failure_at.is_not(None))
        .order_by(r.c.hour).limit(1)
        .correlate(hooks).scalar_subquery()
    )
    rows = session.execute(select(
        hooks.c.id, hooks.c.owner, hooks.c.url, hooks.c.warned_failing_since, hooks.c.enabled_at,
        hooks.c.last_success, first_failure.label("first_failure"),
        first_failed_hour.label("first_failed_hour"),
    )).all()
    found = []
    for row in rows:
        starts = [t for t in (row.first_failure, row.first_failed_hour) if t is not None]
        if starts:
            found.append(Failing(
                webhook_id=row.id, owner=row.owner, url=row.url,
                warned_failing_since=row.warned_failing_since, failing_since=min(starts),
                start=max(row.last_success or _EPOCH, row.enabled_at or _EPOCH)))
    return found


def _failures_since(session: AnySession, failing: Failing) -> tuple[int, int, str | None]:
    """Failed attempts and failed deliveries since the run started, and the last error
    (None if its attempt was pruned).

    A delivery that ends failed has exactly one attempt whose outcome is ``failed``.
    """
    a = attempt_table
    run = failures_after(session, failing.webhook_id, failing.start)
    last_error = session.scalar(
        select(a.c.error).where(a.c.webhook_id == failing.webhook_id,
                                a.c.created_at > failing.start, a.c.outcome.in_(FAILURES))
        .order_by(a.c.created_at.desc()).limit(1)
    )
    return run.attempts, run.failed, last_error


def check(app: Flask, now: dt.datetime | None = None) -> HealthReport:
    """Warn about and switch off failing webhooks of ``app``, as the settings say.

    Must run inside an app context; commits.
    """
    state = get_state(app)
    settings = state.settings
    report = HealthReport()
    warn_after = settings.warn_after_failing_for
    disable_after = settings.disable_after_failing_for
    most_failures = settings.disable_after_failures
    if warn_after is None and disable_after is None and most_failures is None:
        return report
    now = now or utcnow()
    session = state.db.session
    try:
        candidates = failing_webhooks(session)
        session.rollback()
        for failing in candidates:
            report.failing.append(failing.webhook_id)
            failing_for = (now - failing.failing_since).total_seconds()
            due = [limit for limit in (warn_after, disable_after) if limit is not None]
            if most_failures is None and not (due and failing_for >= min(due)):
                continue  # nothing can be due yet: spare the counting
            attempts, deliveries, last_error = _failures_since(session, failing)
            notice = HealthNotice(
                webhook_id=failing.webhook_id, owner=failing.owner, url=failing.url,
                failing_since=failing.failing_since, now=now, failed_attempts=attempts,
                last_error=last_error,
                disable_at=(failing.failing_since + dt.timedelta(seconds=disable_after)
                            if disable_after is not None else None),
            )
            if disable_after is not None and failing_for >= disable_after:
                notice.reason = (f"every attempt has failed for {notify._duration(failing_for)}, "
                                 f"since {isoformat(failing.failing_since)}")
            elif most_failures is not None and deliveries >= most_failures:
                notice.reason = f"{deliveries} deliveries in a row failed"
            if notice.reason is not None:
                if _disable(app, state, notice):
                    report.disabled.append(failing.webhook_id)
            elif (warn_after is not None and failing_for >= warn_after
                  and (failing.warned_failing_since is None
                       or failing.warned_failing_since < failing.failing_since)):
                if _warn(app, state, notice, failing.warned_failing_since):
                    report.warned.append(failing.webhook_id)
    finally:
        session.rollback()
    return report


def _disable(app: Flask, state: State, notice: HealthNotice) -> bool:
    session = state.db.session
    w = webhook_table
    result: Any = session.execute(
        update(w).where(w.c.id == notice.webhook_id, w.c.enabled.is_(True))
        .values(enabled=False, disabled_reason=notice.reason, updated_at=notice.now)
    )
    session.commit()
    if result.rowcount != 1:
        return False  # switched off meanwhile, by the owner or another check
    log.warning("Webhook %s disabled: %s", notice.webhook_id, notice.reason)
    metrics.auto_disabled(1)
    signals.webhook_disabled.send(app, webhook_id=notice.webhook_id, owner=notice.owner,
                                  reason=notice.reason)
    try:
        notify.send_disabled_email(state, notice)
    except Exception:
        log.exception("Could not e-mail the owner of %s that it was disabled",
                      notice.webhook_id)
    return True


def _warn(app: Flask, state: State, notice: HealthNotice,
          previous: dt.datetime | None) -> bool:
    session = state.db.session
    w = webhook_table
    result: Any = session.execute(
        update(w).where(w.c.id == notice.webhook_id, w.c.enabled.is_(True),
                        or_(w.c.warned_failing_since.is_(None),
                            w.c.warned_failing_since < notice.failing_since))
        .values(warned_failing_since=notice.failing_since)
    )
    session.commit()
    if result.rowcount != 1:
        return False  # another check warned first
    signals.webhook_failing.send(app, webhook_id=notice.webhook_id, owner=notice.owner,
                                 failing_since=notice.failing_since)
    try:
        notify.send_warning_email(state, notice)
    except Exception:
        # Give the warning back, so that the next check tries the e-mail again.
        log.exception("Could not e-mail the owner of %s that it is failing; will retry",
                      notice.webhook_id)
        session.execute(update(w).where(w.c.id == notice.webhook_id,
                                        w.c.warned_failing_since == notice.failing_since)
                        .values(warned_failing_since=previous))
        session.commit()
        return False
    return True


def run_due_check(app: Flask) -> HealthReport | None:
    """Run :func:`check` if no worker has within ``CLAWHOOKS_HEALTH_CHECK_INTERVAL``.

    Called by every worker's sweeper thread after each sweep; a Redis key with that
    lifetime lets one of them through per interval. If Redis cannot be reached, each
    worker goes by its own clock (the check is safe to run twice). Never raises.
    """
    state = get_state(app)
    interval = state.settings.health_check_interval
    if not _TURNS.take(app, state, interval):
        return None
    now = utcnow()
    try:
        with app.app_context():
            report = check(app, now)
    except Exception:
        log.exception("The webhook health check failed; trying again in %.0f s", interval)
        return None
    if report.warned or report.disabled:
        log.info("Health check: %d failing, warned %s, disabled %s", len(report.failing),
                 report.warned, report.disabled)
    return report
