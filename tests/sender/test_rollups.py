"""Roll-ups (flask_clawhooks.rollups) agree with a recount of the attempts, on SQLite and
PostgreSQL, after random traffic through real workers and receivers, retries, a
recovery, an interrupted attempt and a prune; and they outlive the attempts they count.

The recount here is written in Python from the attempt rows, independently of the
roll-up code: same buckets, by the bounds in the models.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from typing import Any

import pytest
import sqlalchemy as sa

from flask_clawhooks import ledger, recovery
from flask_clawhooks.models import LATENCY_BOUNDS, attempt_table, delivery_table, rollup_table
from flask_clawhooks.pruning import prune
from flask_clawhooks.state import get_state
from flask_clawhooks.stats import webhook_stats
from flask_clawhooks.timeutil import utcnow

from ..fixtures import Reply


def recount(host) -> dict[tuple[str, dt.datetime], dict[str, Any]]:
    """The roll-up rows the attempts in the database add up to."""
    rows: dict[tuple[str, dt.datetime], dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    with host.app.app_context():
        attempts = host.db.session.execute(sa.select(attempt_table)).all()
    for a in attempts:
        if a.outcome not in ("success", "retry", "failed"):
            continue
        row = rows[(a.webhook_id, a.created_at.replace(minute=0, second=0, microsecond=0))]
        row["attempts"] += 1
        if a.outcome == "success":
            row["successes"] += 1
            row["last_success_at"] = max(row.get("last_success_at") or a.created_at,
                                         a.created_at)
        else:
            row["failed"] += a.outcome == "failed"
            row["last_failure_at"] = max(row.get("last_failure_at") or a.created_at,
                                         a.created_at)
            row["first_failure_at"] = min(row.get("first_failure_at") or a.created_at,
                                          a.created_at)
        if a.response_code is not None:
            bound = next((b for b in LATENCY_BOUNDS if a.response_time_ms <= b), None)
            row["ms_over" if bound is None else f"ms_le_{bound}"] += 1
            row["max_ms"] = max(row.get("max_ms") or 0, a.response_time_ms)
    return {key: dict(row) for key, row in rows.items()}


def rollups(host) -> dict[tuple[str, dt.datetime], dict[str, Any]]:
    """The roll-up rows, without their zero counts and NULL times (as the recount)."""
    with host.app.app_context():
        rows = host.db.session.execute(sa.select(rollup_table)).mappings().all()
    return {(row["webhook_id"], row["hour"]): {
        name: value for name, value in row.items()
        if name not in ("webhook_id", "hour") and value not in (0, None)} for row in rows}


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[0, 0], CLAWHOOKS_TIMEOUT=1.0)
def test_rollups_agree_with_a_recount_after_traffic_retries_recover_and_prune(
        host, receiver_factory):
    chance = random.Random(25)
    receivers = [receiver_factory() for _ in range(3)]
    hooks = [host.add_webhook(r.url) for r in receivers]
    for r in receivers:
        r.replies = [chance.choice([Reply(200), Reply(200, delay=0.02), Reply(500),
                                    Reply(503, delay=0.01), Reply(410 if n == 30 else 200),
                                    Reply(404)]) for n in range(40)]
    receivers[0].replies.insert(0, Reply(404))  # a failed delivery for the recovery
    for n in range(12):
        host.emit("message.received", {"n": n})
    host.work_until_settled()
    assert rollups(host) == recount(host)

    # A recovery re-sends the failed deliveries of one webhook: new attempts, counted.
    state = get_state(host.app)
    with host.app.app_context():
        again = recovery.recover(host.db.session,
                                 recovery.Recovery(hooks[0].id, utcnow() - dt.timedelta(hours=1)),
                                 state.enqueue)
    host.work_until_settled()
    assert again >= 1
    assert rollups(host) == recount(host)

    # A worker that died mid-POST: the sweeper closes its attempt as interrupted, which
    # is neither a success nor a failure; sent again, it is counted once.
    event_id = host.emit("message.received", {"n": "interrupted"})
    with host.app.app_context():
        session = host.db.session
        delivery_id = session.scalar(sa.select(delivery_table.c.id).where(
            delivery_table.c.event_id == event_id, delivery_table.c.webhook_id == hooks[1].id))
        works, _ = ledger.claim(session, [delivery_id], state.settings)
        assert len(works) == 1
        assert ledger.interrupt_expired(
            session, utcnow() + dt.timedelta(seconds=state.settings.lease_seconds + 1)
        ) == [delivery_id]
    assert rollups(host) == recount(host)
    host.work_until_settled()
    counted = recount(host)
    assert rollups(host) == counted

    # Pruning every event deletes the attempts, not the roll-ups: statistics stay.
    stats_before = [webhook_stats_of(host, hook.id) for hook in hooks]
    with host.app.app_context():
        pruned = prune(host.db.session, dt.timedelta(seconds=1),
                       now=utcnow() + dt.timedelta(minutes=1))
    assert pruned == 13 and recount(host) == {}
    assert rollups(host) == counted
    assert [webhook_stats_of(host, hook.id) for hook in hooks] == stats_before
    assert sum(s["7d"] for s in stats_before) == sum(r["attempts"] for r in counted.values())


def webhook_stats_of(host, webhook_id: str) -> dict[str, Any]:
    with host.app.app_context():
        stats = webhook_stats(host.db.session, webhook_id)
    return {"7d": stats.windows["7d"].attempts, "ok": stats.windows["7d"].successes,
            "p95": stats.windows["7d"].p95_ms, "last_success": stats.last_success_at,
            "last_failure": stats.last_failure_at, "run": stats.consecutive_failures}


def test_rollups_older_than_they_are_kept_are_pruned_and_recent_ones_stay(host, receiver):
    host.add_webhook(receiver.url)
    host.emit("message.received", {"n": 1})
    host.work_until_settled()
    assert len(rollups(host)) == 1
    with host.app.app_context():
        prune(host.db.session, dt.timedelta(days=1), now=utcnow() + dt.timedelta(days=2))
    assert len(rollups(host)) == 1  # kept 35 days, whatever the retention
    with host.app.app_context():
        prune(host.db.session, dt.timedelta(days=1), now=utcnow() + dt.timedelta(days=36))
    assert rollups(host) == {}
