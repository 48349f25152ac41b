"""What ``flask clawhooks worker`` says and how it ends: one line per attempt that did
not succeed, with its webhook and reason, RQ's per-job lines below INFO, and ``--burst``
exiting promptly with status 1 when a job failed."""

from __future__ import annotations

import time

import pytest
from rq import Queue

from flask_clawhooks.state import get_state

from ..fixtures import Reply
from ..processes import run, worker_args, worker_env

SETTINGS = {"CLAWHOOKS_TIMEOUT": 2.0, "CLAWHOOKS_SWEEP_GRACE": 0.0}

#: Far below the ~61 s a failing burst took to exit, far above a start on a busy machine.
EXIT_WITHIN = 30.0


@pytest.mark.clawhooks_config(**SETTINGS)
def test_burst_exits_promptly_with_status_1_after_a_failing_job(
        host, database_url, redis_url, redis_conn):
    settings = get_state(host.app).settings
    # A job that raises inside the worker: deliver() of something that is no list of ids.
    Queue(settings.queue, connection=redis_conn).enqueue("flask_clawhooks.jobs.deliver", None)
    started = time.monotonic()
    done = run(worker_args("--burst"), env=worker_env(database_url, redis_url, **SETTINGS),
               timeout=120, capture_output=True, text=True)
    took = time.monotonic() - started
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "1 job failed" in done.stderr
    assert took < EXIT_WITHIN, f"took {took:.1f} s to exit"


@pytest.mark.clawhooks_config(**SETTINGS, CLAWHOOKS_RETRY_DELAYS=[60])
def test_refused_and_failed_attempts_are_logged_with_their_reason_and_rq_job_lines_are_not(
        host, receiver, database_url, redis_url):
    def burst(allow_private: bool) -> str:
        env = worker_env(database_url, redis_url, **SETTINGS, CLAWHOOKS_RETRY_DELAYS=[60],
                         CLAWHOOKS_ALLOW_PRIVATE_DESTINATIONS=allow_private)
        done = run(worker_args("--burst"), env=env, timeout=120, capture_output=True,
                   text=True)
        log = done.stdout + done.stderr
        assert done.returncode == 0, log
        assert "Successfully completed" not in log and "Job OK" not in log, log
        return log

    # the destination guard refuses loopback in this worker: nothing is sent
    refused = host.add_webhook("http://127.0.0.1:9/refused", events=["message.received"])
    host.emit("message.received", {"message_id": "msg_1"})
    [line] = [line for line in burst(False).splitlines() if refused.id in line]
    assert "message.received" in line and "attempt 1: refused, not sent:" in line, line
    assert "127.0.0.1" in line and line.endswith("; not retried"), line

    failing = host.add_webhook(receiver.url, events=["message.sent"])
    receiver.default = Reply(500, b"upstream exploded")
    host.emit("message.sent", {"message_id": "msg_2"})
    out = burst(True)
    [line] = [line for line in out.splitlines() if failing.id in line]
    assert "attempt 1: failed: HTTP 500; retry scheduled for 20" in line, line
