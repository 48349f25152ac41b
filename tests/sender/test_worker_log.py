"""What ``flask clawhooks worker`` says and how it ends: one line per attempt that did
not succeed, with its webhook and reason, RQ's per-job lines below INFO, and ``--burst``
exiting promptly with status 1 when a job failed."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from rq import Queue

from flask_clawhooks.state import get_state

from ..fixtures import Reply
from ..processes import run, worker_args, worker_env

SETTINGS = {"CLAWHOOKS_TIMEOUT": 2.0, "CLAWHOOKS_SWEEP_GRACE": 0.0}

#: Seconds from the failing job's end to the worker's exit (it took ~61 s).
EXIT_WITHIN = 5.0


@pytest.mark.clawhooks_config(**SETTINGS)
def test_burst_exits_promptly_with_status_1_after_a_failing_job(
        host, database_url, redis_url, redis_conn):
    settings = get_state(host.app).settings
    # A job that raises inside the worker: deliver() of something that is no list of ids.
    job = Queue(settings.queue, connection=redis_conn).enqueue(
        "flask_clawhooks.jobs.deliver", None)
    done = run(worker_args("--burst"), env=worker_env(database_url, redis_url, **SETTINGS),
               timeout=120, capture_output=True, text=True)
    exited = time.time()
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "1 job failed" in done.stderr
    # Timed from the job's failure (RQ's record of when it ended), not from the start of
    # the process, whose imports a busy machine may slow down.
    job.refresh()
    assert job.is_failed and job.ended_at is not None
    after_failure = exited - job.ended_at.replace(tzinfo=dt.UTC).timestamp()
    assert 0 <= after_failure < EXIT_WITHIN, f"exited {after_failure:.1f} s after the job failed"


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
