"""``POST /webhooks/{id}/recover``: a time range of failed deliveries sent again, with real
receivers and workers, on SQLite and PostgreSQL; and two recoveries at once."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from flask_clawhooks import recovery
from flask_clawhooks.enqueue import ready_key
from flask_clawhooks.models import Delivery
from flask_clawhooks.state import get_state
from flask_clawhooks.timeutil import isoformat, utcnow

from ..fixtures import Reply

pytestmark = pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[])  # fail at once


def boundary() -> str:
    """A moment strictly between the deliveries made before and after it (ids have
    millisecond resolution), as RFC 3339 with milliseconds."""
    time.sleep(0.005)
    moment = utcnow()
    time.sleep(0.005)
    return moment.isoformat(timespec="microseconds") + "Z"


def by_event(host) -> dict[str, Delivery]:
    return {d.event_id: d for d in host.deliveries()}


def data_sent(receiver) -> list[bytes]:
    """The ``data`` part of each body the receiver got."""
    return [r.body.split(b'"data":')[1] for r in receiver.requests]


@pytest.fixture
def outage(host, acme, receiver):
    """One acme webhook and five events: e0 failed before the range, e1 and e2 failed in
    it, e3 delivered in it, e4 failed after it."""
    hook = acme.create_webhook(receiver.url)["id"]
    events = {}
    receiver.default = Reply(500, b"down")
    events["e0"] = host.emit("message.received", {"n": 0})
    since = boundary()
    events["e1"] = host.emit("message.received", {"n": 1})
    events["e2"] = host.emit("message.received", {"n": 2})
    host.work_until_settled()
    receiver.default = Reply(200)
    events["e3"] = host.emit("message.received", {"n": 3})
    host.work_until_settled()
    until = boundary()
    receiver.default = Reply(500, b"down again")
    events["e4"] = host.emit("message.received", {"n": 4})
    host.work_until_settled()
    receiver.default = Reply(200, b"back")
    receiver.requests.clear()
    return hook, since, until, events


def test_recover_resends_exactly_the_failed_deliveries_in_the_range_oldest_first(
        host, acme, receiver, redis_conn, outage):
    hook, since, until, events = outage
    before = by_event(host)
    assert [before[events[e]].status for e in ("e0", "e1", "e2", "e3", "e4")] == [
        "failed", "failed", "failed", "success", "failed"]

    response = acme.post(f"/webhooks/{hook}/recover", json={"since": since, "until": until})
    assert response.status_code == 202, response.json
    assert response.json == {"webhook_id": hook, "since": isoformat(
        recovery.parse_moment(since)), "until": isoformat(recovery.parse_moment(until)),
        "deliveries": "failed", "requeued": 2}
    # queued oldest first, nothing else
    host.flush()
    state = get_state(host.app)
    queued = [i.decode() for i in redis_conn.lrange(ready_key(state.queue), 0, -1)]
    assert queued == [before[events["e1"]].id, before[events["e2"]].id]

    host.work_until_settled()
    after = by_event(host)
    assert sorted(data_sent(receiver)) == [b'{"n":1}}', b'{"n":2}}']
    for name in ("e1", "e2"):  # a new attempt: numbers go on
        delivery = after[events[name]]
        assert (delivery.status, delivery.attempt_count) == ("success", 2)
        assert [a.outcome for a in delivery.attempts] == ["failed", "success"]
    for name in ("e0", "e4"):  # outside the range: untouched
        assert (after[events[name]].status, after[events[name]].attempt_count) == (
            "failed", 1)
    assert after[events["e3"]].attempt_count == 1


def test_recover_all_takes_successful_deliveries_too_and_until_defaults_to_now(
        host, acme, receiver, outage):
    hook, since, _, events = outage
    response = acme.post(f"/webhooks/{hook}/recover",
                         json={"since": since, "deliveries": "all"})
    assert response.status_code == 202
    assert response.json["requeued"] == 4 and response.json["until"] is None
    host.work_until_settled()
    assert len(receiver.requests) == 4
    assert by_event(host)[events["e0"]].attempt_count == 1  # before since


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[], CLAWHOOKS_RECOVER_LIMIT=2)
def test_a_range_over_the_limit_is_refused_with_422_and_changes_nothing(
        host, acme, receiver, outage):
    hook, _, _, _ = outage
    before = {d.id: d.status for d in host.deliveries()}
    response = acme.post(f"/webhooks/{hook}/recover", json={"since": "2000-01-01T00:00:00Z"})
    assert response.status_code == 422
    assert response.json["error"]["code"] == "range_too_large"
    message = response.json["error"]["message"]
    assert "4 failed deliveries" in message and "at most 2" in message
    assert "CLAWHOOKS_RECOVER_LIMIT" in message and "flask clawhooks recover" in message
    assert {d.id: d.status for d in host.deliveries()} == before
    host.work()
    assert receiver.requests == []


def test_recover_refuses_bad_requests_clearly(host, acme, globex, receiver):
    hook = acme.create_webhook(receiver.url)["id"]
    cases = [
        ({}, 422, "since: is required"),
        ({"since": "yesterday"}, 422, "since: must be a date-time"),
        ({"since": "2026-01-30T14:30:00"}, 422, "since: must be a date-time with its offset"),
        ({"since": "2026-02-30T14:30:00Z"}, 422, "is not a valid date-time"),
        ({"since": "2026-01-30T14:30:00Z", "until": "2026-01-30T14:00:00Z"}, 422,
         "until: must be later than since"),
        ({"since": "2026-01-30T14:30:00Z", "deliveries": "some"}, 422,
         "deliveries: must be 'failed'"),
        ({"since": "2026-01-30T14:30:00Z", "status": "failed"}, 422, "unknown field"),
    ]
    for body, status, message in cases:
        response = acme.post(f"/webhooks/{hook}/recover", json=body)
        assert response.status_code == status, (body, response.json)
        assert message in response.json["error"]["message"], (body, response.json)
    assert acme.post(f"/webhooks/{hook}/recover", data="{}").status_code == 415
    other = globex.post(f"/webhooks/{hook}/recover", json={"since": "2026-01-30T14:30:00Z"})
    assert other.status_code == 404
    acme.patch(f"/webhooks/{hook}", json={"enabled": False})
    disabled = acme.post(f"/webhooks/{hook}/recover", json={"since": "2026-01-30T14:30:00Z"})
    assert disabled.status_code == 409 and "enable it" in disabled.json["error"]["message"]


def engine_of(host):
    with host.app.app_context():
        return host.db.engine


def wait_until_blocked(host, holder: Session, thread: threading.Thread) -> None:
    """Wait until ``thread`` waits for the locks of ``holder``'s open transaction: on
    PostgreSQL until a backend is blocked by ``holder``'s; on SQLite (which has no such
    view) that it has not finished after half a second, as it would have without the
    lock."""
    engine = engine_of(host)
    if engine.dialect.name == "postgresql":
        pid = holder.execute(text("SELECT pg_backend_pid()")).scalar()
        deadline = time.monotonic() + 10
        with engine.connect() as conn:
            while not conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE :pid = ANY(pg_blocking_pids(pid))"), {"pid": pid}).scalar():
                assert time.monotonic() < deadline, "the racer never waited for the holder"
                assert thread.is_alive(), "the racer finished without waiting"
                conn.rollback()  # pg_stat_activity is read once per transaction
                time.sleep(0.02)
    else:
        thread.join(0.5)
    assert thread.is_alive(), "the racer did not wait for the holder's rows"


def test_a_concurrent_second_recover_sends_nothing_twice(host, acme, receiver, outage):
    """The first recovery has re-queued the range but not committed; a second one over
    the same range, through the API, waits for it, then finds nothing to do. The first
    one's ids queued twice are still sent once each (the claim's lease)."""
    hook, since, until, events = outage
    job = recovery.Recovery(hook, recovery.parse_moment(since), recovery.parse_moment(until))
    second: dict[str, object] = {}

    def recover_again() -> None:
        response = acme.post(f"/webhooks/{hook}/recover", json={"since": since, "until": until})
        second["status"], second["body"] = response.status_code, response.json

    with Session(engine_of(host)) as first:
        taken, _ = recovery.requeue_batch(first, job, None)
        assert len(taken) == 2
        racer = threading.Thread(target=recover_again)
        racer.start()
        try:
            wait_until_blocked(host, first, racer)
        finally:
            first.commit()
            racer.join(30)
    assert second == {"status": 202, "body": {
        "webhook_id": hook, "since": isoformat(job.since), "until": isoformat(job.until),
        "deliveries": "failed", "requeued": 0}}

    state = get_state(host.app)
    with host.app.app_context():
        state.enqueue(taken)
        state.enqueue(taken)  # a duplicate job: the lease lets one worker claim each once
    host.work_until_settled()
    assert sorted(data_sent(receiver)) == [b'{"n":1}}', b'{"n":2}}']
    after = by_event(host)
    assert [after[events[e]].attempt_count for e in ("e1", "e2")] == [2, 2]


def test_two_recoveries_racing_on_threads_send_each_delivery_once(host, acme, receiver,
                                                                  outage):
    hook, since, until, _ = outage
    results: list[int] = []
    start = threading.Barrier(2)

    def recover() -> None:
        start.wait()
        response = acme.post(f"/webhooks/{hook}/recover", json={"since": since, "until": until})
        assert response.status_code == 202, response.json
        results.append(response.json["requeued"])

    threads = [threading.Thread(target=recover) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [0, 2]
    host.work_until_settled()
    assert len(receiver.requests) == 2
    with host.app.app_context():
        counts = host.db.session.scalars(select(Delivery.attempt_count)
                                         .where(Delivery.webhook_id == hook)).all()
    assert sorted(counts) == [1, 1, 1, 2, 2]
