"""Drain jobs: one RQ job delivers a backlog of many batches, and hands the rest on
when it stops early."""

from __future__ import annotations

from flask_clawhooks import jobs
from flask_clawhooks.enqueue import DRAIN_BATCH, ready_key
from flask_clawhooks.state import get_state


def _emit(host, count: int) -> None:
    """``count`` events in one commit: one push of ``count`` ids, one drain job."""
    with host.app.app_context():
        for n in range(count):
            host.clawhooks.emit("message.received", {"n": n}, owner="acme")
        host.db.session.commit()
    host.flush()


def _ready_and_queued(host) -> tuple[int, int]:
    state = get_state(host.app)
    return state.redis.llen(ready_key(state.queue)), state.queue.count


def test_one_drain_job_delivers_a_backlog_of_several_batches(host, receiver, monkeypatch):
    host.add_webhook(receiver.url)
    monkeypatch.setattr(jobs, "DRAIN_SECONDS", 600.0)  # a busy machine is no reason here
    count = 2 * DRAIN_BATCH + 30
    _emit(host, count)
    assert _ready_and_queued(host) == (count, 1)

    with host.app.app_context():
        jobs.drain()  # as the job the push queued runs it

    # All taken, and no further job queued: the one still waiting will find the list
    # empty (a job per batch would have queued two more). Deliveries to a host held
    # back by fairness wait on RQ's scheduler, not in the queue.
    assert _ready_and_queued(host) == (0, 1)
    host.work_until_settled()
    assert len({r.body for r in receiver.requests}) == count


def test_a_drain_job_out_of_time_queues_the_next_for_the_rest(host, receiver, monkeypatch):
    host.add_webhook(receiver.url)
    _emit(host, DRAIN_BATCH + 10)
    assert _ready_and_queued(host) == (DRAIN_BATCH + 10, 1)
    monkeypatch.setattr(jobs, "DRAIN_SECONDS", 0.0)  # out of time after one batch

    with host.app.app_context():
        jobs.drain()

    # A job was waiting when the batch was taken, so none was queued then; the one
    # that stopped queued the next for the rest.
    assert _ready_and_queued(host) == (10, 2)
    host.work_until_settled()
    assert len({r.body for r in receiver.requests}) == DRAIN_BATCH + 10
