"""``GET /webhooks/{id}/stats``: a webhook's health from its roll-ups, over 24 h and 7 days.

Attempts days old cannot be waited for, so most tests write attempt rows with known
times, outcomes and response times (as the worker writes them) and roll them up as the
upgrade's backfill does (:func:`flask_clawhooks.rollups.rebuild`); one test checks that
real deliveries are counted too, through the roll-ups the worker keeps.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from flask_clawhooks.ids import new_id
from flask_clawhooks.models import attempt_table, delivery_table, event_table
from flask_clawhooks.rollups import hour_of, rebuild
from flask_clawhooks.stats import percentile
from flask_clawhooks.timeutil import isoformat, utcnow

from ..fixtures import Reply


def add_attempts(host, webhook_id: str, attempts: list[tuple[dt.datetime, str, int | None, int]]
                 ) -> None:
    """Attempts ``(created_at, outcome, response_code, response_time_ms)`` of one delivery."""
    with host.app.app_context():
        session = host.db.session
        event_id, delivery_id = new_id("evt"), new_id("del")
        now = utcnow()
        session.execute(sa.insert(event_table), [{
            "id": event_id, "owner": "acme", "type": "message.received", "created_at": now,
            "body": b"{}"}])
        session.execute(sa.insert(delivery_table), [{
            "id": delivery_id, "event_id": event_id, "webhook_id": webhook_id,
            "event_type": "message.received", "status": "success", "attempt_count": 1,
            "created_at": now, "updated_at": now}])
        session.execute(sa.insert(attempt_table), [{
            "id": new_id("att"), "delivery_id": delivery_id, "webhook_id": webhook_id,
            "number": n + 1, "outcome": outcome, "response_code": code,
            "response_time_ms": ms, "request_headers": {}, "created_at": at,
            "error": None if outcome == "success" else "HTTP 500",
        } for n, (at, outcome, code, ms) in enumerate(attempts)])
        rebuild(session.connection())
        session.commit()


def test_stats_count_known_attempts_in_each_window(host, acme):
    hook = acme.create_webhook("https://your-server.com/webhook")
    other = acme.create_webhook("https://other.example/webhook")
    now = utcnow()
    # h clock hours before the current one, one minute past (the current hour's may be
    # a little ahead of now: it still counts in the current hour)
    hours = [hour_of(now) - dt.timedelta(hours=h, minutes=-1) for h in range(12)]
    add_attempts(host, hook["id"], [
        # 3 days ago: 5 successes of 1 s, and a failure
        *[(now - dt.timedelta(days=3, minutes=m), "success", 200, 1000) for m in range(5)],
        (now - dt.timedelta(days=3, minutes=10), "retry", 503, 7),
        # the last 24 h: 10, 20, ... 100 ms answered, the last 3 failures in a row
        *[(hours[11 - n], "success", 200, 10 * (n + 1)) for n in range(7)],
        (hours[4], "retry", 500, 80), (hours[3], "retry", None, 2000),  # a timeout
        (hours[2], "retry", 500, 90), (hours[1], "failed", 500, 100),
        # neither success nor failure: still sending, or the worker died
        (hours[0], "sending", None, 0), (hours[0], "interrupted", None, 0),
        # too old for either window
        (now - dt.timedelta(days=8), "failed", 500, 99999),
    ])
    add_attempts(host, other["id"], [(hours[0], "success", 200, 5)])  # not counted

    response = acme.get(f"/webhooks/{hook['id']}/stats")

    assert response.status_code == 200, response.json
    stats = response.json
    assert stats["webhook_id"] == hook["id"] and stats["status"] == "active"
    assert stats["last_24h"] == {"attempts": 11, "successes": 7, "failures": 4,
                                 "success_rate": round(7 / 11, 4), "p50_ms": 50,
                                 "p95_ms": 100}
    # 7 days: answered times 7, 10..100 (10 of them) and 1000 x5; nearest ranks 8 and 16
    assert stats["last_7d"] == {"attempts": 17, "successes": 12, "failures": 5,
                                "success_rate": round(12 / 17, 4), "p50_ms": 70,
                                "p95_ms": 1000}
    assert stats["last_success_at"] == isoformat(hours[5])
    assert stats["last_failure_at"] == isoformat(hours[1])
    assert stats["consecutive_failures"] == 4
    assert stats["failing_since"] == isoformat(hours[4])
    assert len(stats["hourly"]) == 24
    # the bars, newest last: the bar h hours before the current one holds hours[h]
    assert [(b["successes"], b["failures"]) for b in stats["hourly"][-12:]] == [
        (1, 0)] * 5 + [(1, 0), (1, 0), (0, 1), (0, 1), (0, 1), (0, 1), (0, 0)]
    assert sum(b["successes"] + b["failures"] for b in stats["hourly"]) == 11
    assert stats["disabled_reason"] is None


def test_stats_of_a_webhook_without_attempts(acme):
    hook = acme.create_webhook("https://your-server.com/webhook")
    stats = acme.get(f"/webhooks/{hook['id']}/stats").json
    assert stats["last_24h"] == {"attempts": 0, "successes": 0, "failures": 0,
                                 "success_rate": None, "p50_ms": None, "p95_ms": None}
    assert stats["last_success_at"] is None and stats["failing_since"] is None
    assert stats["consecutive_failures"] == 0
    assert all(b["successes"] == b["failures"] == 0 for b in stats["hourly"])


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[])
def test_stats_count_the_attempts_of_real_deliveries(host, acme, receiver):
    receiver.replies = [Reply(200, delay=0.05), Reply(500)]
    hook = acme.create_webhook(receiver.url)
    for n in range(2):  # a success, then a failure
        host.emit("message.received", {"n": n})
        host.work_until_settled()

    stats = acme.get(f"/webhooks/{hook['id']}/stats").json

    assert stats["last_24h"]["attempts"] == stats["last_7d"]["attempts"] == 2
    assert stats["last_24h"]["successes"] == 1 and stats["last_24h"]["success_rate"] == 0.5
    assert stats["last_24h"]["p95_ms"] >= 50  # the slower of the two answers
    assert stats["consecutive_failures"] == 1
    assert stats["last_success_at"] <= stats["failing_since"] == stats["last_failure_at"]
    assert sum(b["successes"] for b in stats["hourly"]) == 1
    with host.app.app_context():  # the worker wrote the webhook on each attempt
        owners = host.db.session.execute(sa.select(attempt_table.c.webhook_id)).scalars()
        assert set(owners) == {hook["id"]}


def test_another_owners_webhook_has_no_stats(acme, globex):
    hook = acme.create_webhook("https://your-server.com/webhook")
    response = globex.get(f"/webhooks/{hook['id']}/stats")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert acme.get("/webhooks/wh_nope/stats").status_code == 404


def test_percentiles_are_nearest_rank():
    values = [(ms, 1) for ms in range(1, 101)]
    assert percentile(values, 100, 0.50) == 50
    assert percentile(values, 100, 0.95) == 95
    assert percentile([(7, 3)], 3, 0.95) == 7
    assert percentile([(1, 1), (9, 1)], 2, 0.5) == 1
    assert percentile([], 0, 0.5) is None


def test_a_run_of_failures_older_than_the_week_is_counted_whole(host, acme):
    hook = acme.create_webhook("https://your-server.com/webhook")
    now = utcnow()
    ago = [now - dt.timedelta(days=d) for d in (10, 9, 8, 3)]
    add_attempts(host, hook["id"], [
        (ago[0], "success", 200, 20), (ago[1], "retry", 500, 30), (ago[2], "failed", 500, 40),
        (ago[3], "retry", 503, 50), (now - dt.timedelta(minutes=1), "failed", None, 1000),
    ])

    stats = acme.get(f"/webhooks/{hook['id']}/stats").json

    assert stats["last_success_at"] == isoformat(ago[0])
    assert stats["failing_since"] == isoformat(ago[1])
    assert stats["consecutive_failures"] == 4
    assert stats["last_failure_at"] == isoformat(now - dt.timedelta(minutes=1))
    assert stats["last_7d"]["attempts"] == 2 and stats["last_7d"]["p50_ms"] == 50
