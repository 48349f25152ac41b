"""A worker stops promptly: nothing in its teardown waits on RQ's command listener."""

from __future__ import annotations

import time

from flask_clawhooks.state import get_state
from flask_clawhooks.worker import PUBSUB_POLL_SECONDS, ClawHooksWorker


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
