"""A worker stops promptly: nothing in its teardown waits on RQ's command listener."""

from __future__ import annotations

import subprocess
import time

import pytest
from rq import Worker

from flask_clawhooks.state import get_state
from flask_clawhooks.worker import PUBSUB_POLL_SECONDS, ClawHooksWorker

from ..fixtures import Reply
from ..processes import group_members, wait_for, worker_args, worker_env
from .test_worker_processes import (
    all_delivered,
    attempt_outcomes,
    bodies,
    emit_many,
    registered,
)


def test_the_command_listener_reads_in_short_slices_so_stopping_never_waits_on_it(
    host, redis_conn
):
    state = get_state(host.app)
    worker = ClawHooksWorker([state.queue], connection=state.redis, flask_app=host.app)
    worker.subscribe()
    try:
        assert worker.pubsub_thread is not None
        assert worker.pubsub_thread.sleep_time == PUBSUB_POLL_SECONDS <= 1
        # The read is in progress now; RQ 3.0's own subscribe() would block it 60 s,
        # and redis-py 8.2's stop() waits for it.
        time.sleep(0.3)
        started = time.monotonic()
        worker.unsubscribe()
        # Generous for a loaded machine, far below the 60 s of the bug.
        assert time.monotonic() - started < 15
        assert not worker.pubsub_thread.is_alive()
    finally:
        if worker.pubsub is not None:
            worker.pubsub.close()


def test_a_burst_worker_with_nothing_to_do_returns_in_seconds_not_a_minute(host, redis_conn):
    started = time.monotonic()
    host.work()
    host.work()
    # Each teardown waited up to 60 s on the listener's read with RQ 3.0 and redis-py 8.2.
    assert time.monotonic() - started < 30


#: Settings of the worker processes below (and of their host).
SETTINGS = {"CLAWHOOKS_TIMEOUT": 2.0, "CLAWHOOKS_LEASE_SECONDS": 20.0,
            "CLAWHOOKS_SWEEP_INTERVAL": 0.5, "CLAWHOOKS_SWEEP_GRACE": 0.0,
            "CLAWHOOKS_CONCURRENCY": 8}
#: What a warm stop may take, POSTs in flight included (the receiver answers in 0.5 s).
STOP_WITHIN = 5.0


def stop_and_time(spawn, process) -> tuple[int | None, float]:
    started = time.monotonic()
    code = spawn.stop(process, timeout=30)
    return code, time.monotonic() - started


@pytest.mark.parametrize("processes", [1, 2])
@pytest.mark.parametrize("moment", ["idle", "delivering"])
@pytest.mark.clawhooks_config(**SETTINGS)
def test_a_sigtermed_worker_exits_within_5_s_and_loses_nothing(
    host, receiver, database_url, redis_url, redis_conn, spawn, moment, processes
):
    receiver.default = Reply(200, delay=0.5)
    host.add_webhook(receiver.url)
    args = ["--log-level", "WARNING"] + (["--processes", str(processes)] if processes > 1 else [])
    worker = spawn(worker_args(*args), env=worker_env(database_url, redis_url, **SETTINGS))
    wait_for(lambda: len(registered(redis_conn)) == processes, 60,
             f"{processes} worker(s) registered")
    if moment == "delivering":
        emit_many(host, 60)
        wait_for(lambda: len(receiver.requests) >= 4, 30, "POSTs in flight")

    code, took = stop_and_time(spawn, worker)
    assert code == 0, f"exit status {code} after SIGTERM ({moment}, {processes} process(es))"
    assert took < STOP_WITHIN, f"stopping took {took:.1f} s"
    assert not group_members(worker.pid), "a process of the worker outlived the stop"
    print(f"\nSIGTERM while {moment}, {processes} process(es): exited in {took:.2f} s")

    # Every POST made has its outcome; the rest is still due and a later worker sends it.
    outcomes = attempt_outcomes(host)
    assert outcomes.get("sending", 0) == 0, outcomes
    if moment == "delivering":
        receiver.default = Reply(200)
        host.work_until_settled()
        assert all_delivered(host, 60)
        assert len(bodies(receiver)) == 60


@pytest.mark.parametrize("moment", ["register_birth", "subscribe", "_start_scheduler",
                                    "_install_signal_handlers"])
@pytest.mark.clawhooks_config(**SETTINGS)
def test_a_worker_sigtermed_while_rq_starts_it_exits_and_unregisters(
    host, database_url, redis_url, redis_conn, spawn, moment
):
    # RQ does these before the loop whose finally tears a worker down; SIGTERM after
    # _start_scheduler left the scheduler process running and the worker never exited.
    env = worker_env(database_url, redis_url, **SETTINGS) | {"TEST_SIGTERM_AFTER": moment}
    worker = spawn(worker_args("--log-level", "WARNING"), env=env)
    try:
        code = worker.wait(60)
    except subprocess.TimeoutExpired:
        code = None
    assert code == 0, f"exit status {code} after SIGTERM at {moment} (None: still running)"
    assert not group_members(worker.pid), "a process of the worker outlived it"
    assert Worker.all(connection=redis_conn) == []
