"""Nothing is lost: rolled-back emits send nothing; lost Redis jobs and killed workers are
recovered by the sweeper."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from flask import abort

from flask_clawhooks.enqueue import ready_key
from flask_clawhooks.models import Delivery, DeliveryStatus, Event
from flask_clawhooks.state import get_state

from ..fixtures import WITH_PARTITIONED, Reply
from ..processes import worker_args, worker_env


def queued_jobs(host) -> int:
    return get_state(host.app).queue.count


def ready_ids(host) -> int:
    state = get_state(host.app)
    return state.redis.llen(ready_key(state.queue))


def test_a_rolled_back_emit_sends_nothing(host, receiver):
    host.add_webhook(receiver.url)
    with host.app.app_context():
        host.clawhooks.emit("message.received", {"n": 1}, owner="acme")
        host.db.session.rollback()
        assert host.db.session.query(Event).count() == 0
    host.flush()
    assert (ready_ids(host), queued_jobs(host)) == (0, 0)

    host.work()
    assert receiver.requests == []


def test_an_emit_in_a_failed_request_sends_nothing_and_a_committed_one_is_queued(host, receiver):
    host.add_webhook(receiver.url)

    @host.app.post("/messages/<int:n>")
    def receive(n):
        host.clawhooks.emit("message.received", {"n": n}, owner="acme")
        if n == 1:
            abort(400)
        host.db.session.commit()
        return "ok"

    client = host.app.test_client()
    assert client.post("/messages/1").status_code == 400
    host.flush()
    assert (ready_ids(host), queued_jobs(host)) == (0, 0)
    assert client.post("/messages/2").status_code == 200
    host.flush()
    assert (ready_ids(host), queued_jobs(host)) == (1, 1)

    host.work_until_settled()
    assert [r.body.count(b'"n":2') for r in receiver.requests] == [1]


@pytest.mark.parametrize("database_url", WITH_PARTITIONED, indirect=True)
def test_redis_flushall_after_emit_is_recovered_by_the_sweep_command(host, receiver, redis_conn):
    host.add_webhook(receiver.url)
    for n in range(20):
        host.emit("message.received", {"n": n})
    host.flush()
    assert (ready_ids(host), queued_jobs(host)) == (20, 1)  # one drain job for all 20
    redis_conn.flushall()
    assert (ready_ids(host), queued_jobs(host)) == (0, 0)

    result = host.app.test_cli_runner().invoke(args=["clawhooks", "sweep", "--grace", "0"])
    assert result.exit_code == 0, result.output
    assert "Queued 20 due deliveries" in result.output
    deliveries = host.work_until_settled()

    assert {d.status for d in deliveries} == {DeliveryStatus.SUCCESS}
    bodies = [r.body for r in receiver.requests]
    assert len(bodies) == 20 and len(set(bodies)) == 20


def test_emit_still_commits_when_redis_is_down_and_the_sweeper_sends_later(
    host, receiver, redis_conn
):
    host.add_webhook(receiver.url)
    state = get_state(host.app)
    good_url = state.settings.redis_url
    host.configure(redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    state.reset_redis()
    event_id = host.emit("message.received", {"n": 1})  # must not raise
    host.configure(redis_url=good_url)
    state.reset_redis()
    with host.app.app_context():
        assert host.db.session.get(Event, event_id) is not None

    [delivery] = host.work_until_settled()
    assert delivery.status == DeliveryStatus.SUCCESS


@pytest.mark.clawhooks_config(CLAWHOOKS_LEASE_SECONDS=3.0, CLAWHOOKS_TIMEOUT=2.0)
def test_a_worker_killed_mid_post_is_recovered_by_the_sweeper(
    host, receiver, database_url, redis_url, tmp_path, spawn
):
    receiver.replies = [Reply(200, delay=1.5)]
    host.add_webhook(receiver.url)
    host.emit("message.received", {"n": 1})

    env = worker_env(database_url, redis_url, CLAWHOOKS_LEASE_SECONDS=3.0,
                     CLAWHOOKS_TIMEOUT=2.0)
    worker = spawn(worker_args(), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not receiver.requests:
        assert worker.poll() is None, worker.stderr.read().decode()
        assert time.monotonic() < deadline, "the worker never posted"
        time.sleep(0.02)
    os.kill(worker.pid, signal.SIGKILL)  # in the middle of the 1.5 s POST
    worker.wait()

    [delivery] = host.deliveries()
    assert delivery.status == DeliveryStatus.PENDING
    assert [a.outcome for a in delivery.attempts] == ["sending"]

    time.sleep(3.2)  # the lease runs out
    [delivery] = host.work_until_settled()

    assert delivery.status == DeliveryStatus.SUCCESS
    assert [a.outcome for a in delivery.attempts] == ["interrupted", "success"]
    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body
    with host.app.app_context():
        assert host.db.session.query(Delivery).count() == 1
