"""Delivery control settings in the API, and what an owner sees of a FIFO queue; the
rate limit's database fallback when Redis cannot be reached."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from flask_clawhooks import ledger
from flask_clawhooks.control import Screen
from flask_clawhooks.models import Attempt, Delivery, DeliveryStatus
from flask_clawhooks.redisclient import CircuitBreaker, connect
from flask_clawhooks.state import get_state
from flask_clawhooks.throttle import RedisSchedule
from flask_clawhooks.timeutil import utcnow

from ..fixtures import Reply

FAST = {"CLAWHOOKS_RETRY_DELAYS": [0.2, 0.2, 0.2], "CLAWHOOKS_SWEEP_GRACE": 0.0}


def test_the_settings_are_saved_shown_and_changed(acme):
    created = acme.create_webhook("https://example.com/hook", ordering="fifo",
                                  max_per_second=2.5, max_in_flight=3)
    assert (created["ordering"], created["max_per_second"], created["max_in_flight"]) == \
        ("fifo", 2.5, 3)
    plain = acme.create_webhook("https://example.com/other")
    assert (plain["ordering"], plain["max_per_second"], plain["max_in_flight"]) == \
        ("none", None, None)

    changed = acme.patch(f"/webhooks/{created['id']}",
                         json={"ordering": "none", "max_per_second": None})
    assert changed.status_code == 200
    shown = acme.get(f"/webhooks/{created['id']}").json
    assert (shown["ordering"], shown["max_per_second"], shown["max_in_flight"]) == \
        ("none", None, 3)
    assert shown["queue"] is None


@pytest.mark.parametrize(("field", "value", "message"), [
    ("ordering", "lifo", "must be \"fifo\" or \"none\", got 'lifo'."),
    ("ordering", None, "must be \"fifo\" or \"none\", got null."),
    ("max_per_second", 0, "must be from 0.01 to 10000 requests a second, or null for no "
                          "limit; got 0."),
    ("max_per_second", "20", "must be a number or null, got a string."),
    ("max_per_second", True, "must be a number or null, got a boolean."),
    ("max_in_flight", 0, "must be from 1 to 1000 requests, or null for no limit; got 0."),
    ("max_in_flight", 2.5, "must be a whole number or null, got a number."),
])
def test_bad_settings_are_422_naming_the_field_and_what_is_allowed(acme, field, value,
                                                                   message):
    response = acme.post("/webhooks", json={"url": "https://example.com/hook",
                                            "events": ["message.received"], field: value})
    assert response.status_code == 422
    assert response.json["error"]["message"] == f"{field}: {message}"


@pytest.mark.clawhooks_config(**FAST)
def test_a_fifo_queue_waits_behind_a_failing_head_without_attempts(host, acme, receiver):
    receiver.replies = [Reply(503)]
    hook = acme.create_webhook(receiver.url, ordering="fifo")
    events = [host.emit("message.received", {"n": n}) for n in range(3)]
    host.work()

    first, second, third = host.deliveries()
    assert (first.status, first.attempt_count) == (DeliveryStatus.PENDING, 1)
    for waiting in (second, third):
        assert waiting.attempt_count == 0 and waiting.attempts == []
        assert waiting.next_attempt_at > utcnow() + dt.timedelta(seconds=20)  # parked
    listed = acme.get(f"/webhooks/{hook['id']}/deliveries").json["data"]
    assert {d["id"]: d["waiting_behind"] for d in listed} == {
        first.id: None, second.id: first.id, third.id: first.id}
    assert acme.get(f"/webhooks/{hook['id']}").json["queue"] == {"head": first.id,
                                                                  "waiting": 2}

    host.work_until_settled(30)  # the head's retry succeeds, the others follow at once
    sent = [json.loads(r.body)["id"] for r in receiver.requests]
    assert sent == [events[0], events[0], events[1], events[2]]
    assert [d.attempt_count for d in host.deliveries()] == [2, 1, 1]
    assert acme.get(f"/webhooks/{hook['id']}").json["queue"] == {"head": None, "waiting": 0}


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[60, 60])
def test_switching_fifo_off_makes_the_waiting_deliveries_due_at_once(host, acme, receiver):
    receiver.replies = [Reply(503)]
    hook = acme.create_webhook(receiver.url, ordering="fifo")
    for n in range(3):
        host.emit("message.received", {"n": n})
    host.work()
    head, *waiting = host.deliveries()
    assert all(d.next_attempt_at > utcnow() + dt.timedelta(seconds=20) for d in waiting)

    acme.patch(f"/webhooks/{hook['id']}", json={"ordering": "none"})

    head_after, *waiting = host.deliveries()
    assert head_after.next_attempt_at == head.next_attempt_at  # its retry time is kept
    assert all(d.next_attempt_at <= utcnow() and d.attempt_count == 0 for d in waiting)


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[60, 60], CLAWHOOKS_SWEEP_GRACE=0.0)
def test_a_failed_delivery_retried_by_hand_goes_before_the_queue_it_was_emitted_ahead_of(
        host, acme, receiver):
    receiver.replies = [Reply(400), Reply(503)]  # the first fails for good, the second later
    hook = acme.create_webhook(receiver.url, ordering="fifo")
    for n in range(3):
        host.emit("message.received", {"n": n})
    host.work()
    host.work()
    first, second, third = host.deliveries()
    assert (first.status, second.status, second.attempt_count) == ("failed", "pending", 1)
    retry_at = second.next_attempt_at

    answer = acme.post(f"/webhooks/{hook['id']}/deliveries/{first.id}/retry")
    assert answer.status_code == 202
    assert answer.json["waiting_behind"] is None  # it is the head again
    host.work()

    first, second, third = host.deliveries()
    assert first.status == DeliveryStatus.SUCCESS
    # The failing head behind it keeps its retry time; the last one still waits.
    assert (second.status, second.attempt_count, second.next_attempt_at) == \
        (DeliveryStatus.PENDING, 1, retry_at)
    assert third.attempt_count == 0 and third.attempts == []
    assert len(receiver.requests) == 3


def claim_all(host, screen: Screen) -> list[str]:
    with host.app.app_context():
        state = get_state(host.app)
        ids = [d.id for d in host.deliveries()]
        works, _deferred = ledger.claim(state.db.session, ids, state.settings, None, screen)
        return [w.delivery_id for w in works]


def test_without_redis_the_rate_limit_is_counted_in_the_database(host):
    hook = host.add_webhook("http://127.0.0.1:9/hook", max_per_second=2)
    with host.app.app_context():
        for n in range(5):
            host.clawhooks.emit("message.received", {"n": n}, owner="acme")
        host.db.session.commit()
    # A Redis nobody listens on (port 9, discard): the schedule cannot be reached.
    breaker = CircuitBreaker(30.0)
    unreachable = RedisSchedule(connect("redis://127.0.0.1:9/0", timeout=0.5,
                                        connect_timeout=0.5, retries=False),
                                "clawhooks:test", breaker.call)

    first = claim_all(host, Screen(unreachable))
    assert len(first) == 2 and breaker.is_open
    assert claim_all(host, Screen(unreachable)) == []  # the second's window is full

    with host.app.app_context():
        rows = host.db.session.execute(sa.select(
            Delivery.id, Delivery.attempt_count, Delivery.next_attempt_at)
            .where(Delivery.webhook_id == hook.id)).all()
        attempts = host.db.session.scalar(sa.select(sa.func.count()).select_from(Attempt))
    held = [row for row in rows if row.id not in first]
    assert attempts == 2  # throttling wrote none
    assert all(row.attempt_count == 0 for row in held)
    # Due again at the next free slot, within the window; not a whole window per delivery.
    assert all(row.next_attempt_at <= utcnow() + dt.timedelta(seconds=3) for row in held)
