"""A worker's processes: nothing it forks outlives it or keeps its database sessions, and
``--processes N`` supervises N workers (restarts, warm stop, no orphans)."""

from __future__ import annotations

import os
import signal
import time

import pytest
import sqlalchemy as sa
from rq import Worker

from flask_clawhooks.models import Attempt, Delivery, DeliveryStatus

from ..fixtures import Reply
from ..processes import group_members, parent_of, wait_for, worker_args, worker_env

#: Settings of the worker processes of these tests (and of their host).
SETTINGS = {"CLAWHOOKS_TIMEOUT": 2.0, "CLAWHOOKS_LEASE_SECONDS": 4.0,
            "CLAWHOOKS_SWEEP_INTERVAL": 0.5, "CLAWHOOKS_SWEEP_GRACE": 0.0,
            "CLAWHOOKS_CONCURRENCY": 8}


def statuses(host) -> dict[str, int]:
    with host.app.app_context():
        rows = host.db.session.execute(
            sa.select(Delivery.status, sa.func.count()).group_by(Delivery.status)).all()
    return {status: count for status, count in rows}


def attempt_outcomes(host) -> dict[str, int]:
    with host.app.app_context():
        rows = host.db.session.execute(
            sa.select(Attempt.outcome, sa.func.count()).group_by(Attempt.outcome)).all()
    return {outcome: count for outcome, count in rows}


def all_delivered(host, total: int) -> bool:
    return statuses(host).get(DeliveryStatus.SUCCESS, 0) == total


def bodies(receiver) -> set[bytes]:
    """The distinct bodies the receiver got whole (a POST cut short by a SIGKILL may
    arrive without its body)."""
    return {r.body for r in receiver.requests
            if len(r.body) == int(r.headers.get("Content-Length", -1))}


def worker_sessions(host, pid: int) -> list[tuple[str, str]]:
    """The PostgreSQL sessions of worker process ``pid`` (its ``application_name``)."""
    with host.app.app_context(), host.db.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT application_name, state FROM pg_stat_activity "
                    "WHERE application_name = :name"),
            {"name": f"clawhooks-worker-{pid}"}).all()
    return [tuple(row) for row in rows]


def emit_many(host, count: int) -> None:
    with host.app.app_context():
        for n in range(count):
            host.clawhooks.emit("message.received", {"n": n}, owner="acme")
        host.db.session.commit()


@pytest.mark.clawhooks_config(**SETTINGS)
def test_a_sigkilled_worker_leaves_no_process_no_session_and_another_finishes_its_work(
    host, receiver, database_url, redis_url, spawn
):
    receiver.default = Reply(200, delay=1.0)  # POSTs are in flight when the worker dies
    host.add_webhook(receiver.url)
    env = worker_env(database_url, redis_url, **SETTINGS)
    first = spawn(worker_args("--log-level", "WARNING"), env=env)
    # RQ's scheduler runs as a forked child of the worker: the process the issue saw
    # outlive a SIGKILLed worker, holding its PostgreSQL connection.
    wait_for(lambda: len(group_members(first.pid)) >= 2, 30, "the scheduler child started")
    [scheduler] = [pid for pid in group_members(first.pid) if pid != first.pid]
    assert parent_of(scheduler) == first.pid
    emit_many(host, 20)
    wait_for(lambda: receiver.requests, 30, "the worker posted")
    postgres = database_url.startswith("postgresql")
    if postgres:
        assert worker_sessions(host, first.pid), "the worker's connections are not named"

    first.send_signal(signal.SIGKILL)  # mid-delivery: 8 POSTs in flight, leases held
    killed_at = time.monotonic()
    first.wait(10)

    wait_for(lambda: not group_members(first.pid), 5, "every process of the killed worker gone")
    if postgres:
        wait_for(lambda: not worker_sessions(host, first.pid), 5,
                 "the killed worker's sessions gone from pg_stat_activity")
    gone_after = time.monotonic() - killed_at

    receiver.default = Reply(200)
    second = spawn(worker_args("--log-level", "WARNING"), env=env)
    wait_for(lambda: all_delivered(host, 20), 60, "the second worker delivered everything")
    assert spawn.stop(second, timeout=30) == 0

    assert len(bodies(receiver)) == 20  # lost = 0
    outcomes = attempt_outcomes(host)
    assert outcomes.get("sending", 0) == 0
    assert outcomes["success"] == 20
    assert outcomes.get("interrupted", 0) >= 1  # the killed worker's POSTs, closed by a sweep
    print(f"\nkilled worker: processes and sessions gone {gone_after:.2f} s after SIGKILL; "
          f"attempts {outcomes}")


@pytest.mark.clawhooks_config(**SETTINGS)
def test_processes_n_runs_n_supervised_workers_that_share_the_deliveries(
    host, receiver, database_url, redis_url, redis_conn, spawn
):
    receiver.default = Reply(200, delay=0.05)
    host.add_webhook(receiver.url)
    env = worker_env(database_url, redis_url, **SETTINGS)
    parent = spawn(worker_args("--processes", "3", "--log-level", "WARNING"), env=env)

    workers = wait_for(lambda: len(registered(redis_conn)) == 3 and registered(redis_conn),
                       30, "three workers registered")
    pids = {w.pid for w in workers}
    assert {parent_of(pid) for pid in pids} == {parent.pid}
    for n in range(60):  # one commit each: many small drain jobs
        host.emit("message.received", {"n": n})
        time.sleep(0.01)
    wait_for(lambda: all_delivered(host, 60), 60, "60 deliveries made")

    busy = [w for w in registered(redis_conn) if w.successful_job_count]
    assert len(busy) >= 2, [(w.pid, w.successful_job_count) for w in registered(redis_conn)]
    assert len(bodies(receiver)) == 60
    assert spawn.stop(parent, timeout=30) == 0
    assert not group_members(parent.pid)


@pytest.mark.clawhooks_config(**SETTINGS)
def test_a_sigkilled_worker_process_is_replaced_and_deliveries_go_on(
    host, receiver, database_url, redis_url, redis_conn, spawn
):
    host.add_webhook(receiver.url)
    env = worker_env(database_url, redis_url, **SETTINGS)
    parent = spawn(worker_args("--processes", "2", "--log-level", "WARNING"), env=env)
    workers = wait_for(lambda: len(registered(redis_conn)) == 2 and registered(redis_conn),
                       30, "two workers registered")
    victim = workers[0].pid

    signal_pid(victim, signal.SIGKILL)
    wait_for(lambda: victim not in live_children(parent.pid), 5, "the killed worker reaped")
    replaced = wait_for(
        lambda: len(live_children(parent.pid)) == 2 and victim not in live_children(parent.pid),
        15, "a new worker process started")
    assert parent.poll() is None
    emit_many(host, 30)
    wait_for(lambda: all_delivered(host, 30), 60, "30 deliveries made after the restart")
    assert len(bodies(receiver)) == 30
    assert spawn.stop(parent, timeout=30) == 0
    assert not group_members(parent.pid), replaced


@pytest.mark.clawhooks_config(**SETTINGS)
def test_sigterm_to_the_parent_stops_every_worker_after_its_posts_nothing_lost(
    host, receiver, database_url, redis_url, redis_conn, spawn
):
    receiver.default = Reply(200, delay=0.5)
    host.add_webhook(receiver.url)
    # The parent SIGKILLs workers still running after CLAWHOOKS_LEASE_SECONDS: 20 s here,
    # far more than a warm stop needs.
    env = worker_env(database_url, redis_url, **{**SETTINGS, "CLAWHOOKS_LEASE_SECONDS": 20.0})
    parent = spawn(worker_args("--processes", "2", "--log-level", "WARNING"), env=env)
    wait_for(lambda: len(registered(redis_conn)) == 2, 30, "two workers registered")
    emit_many(host, 100)
    wait_for(lambda: len(receiver.requests) >= 4, 30, "POSTs in flight")

    started = time.monotonic()
    assert spawn.stop(parent, timeout=30) == 0  # SIGTERM to the parent alone
    took = time.monotonic() - started
    assert not group_members(parent.pid), "a process of the worker outlived the stop"
    assert took < 15, f"the warm stop took {took:.1f} s: the parent had to SIGKILL"
    print(f"\nwarm stop of 2 workers with POSTs in flight: {took:.2f} s")

    # A warm stop: every POST that was made has its outcome recorded; nothing is left
    # "sending" or needed the sweeper.
    outcomes = attempt_outcomes(host)
    assert outcomes.get("sending", 0) == 0 and outcomes.get("interrupted", 0) == 0, outcomes
    assert outcomes["success"] == len(receiver.requests)
    # The rest is still pending in the database: a later worker sends it.
    receiver.default = Reply(200)
    host.work_until_settled()
    assert all_delivered(host, 100)
    assert len(bodies(receiver)) == 100
    assert attempt_outcomes(host).get("interrupted", 0) == 0


@pytest.mark.clawhooks_config(**SETTINGS)
def test_worker_processes_stop_when_the_supervisor_is_sigkilled(
    host, receiver, database_url, redis_url, redis_conn, spawn
):
    host.add_webhook(receiver.url)
    env = worker_env(database_url, redis_url, **SETTINGS)
    parent = spawn(worker_args("--processes", "2", "--log-level", "WARNING"), env=env)
    wait_for(lambda: len(registered(redis_conn)) == 2, 30, "two workers registered")
    assert len(group_members(parent.pid)) >= 3  # the parent, two workers, a scheduler

    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    wait_for(lambda: not group_members(parent.pid), 10, "every worker process gone")


def registered(redis_conn) -> list[Worker]:
    """The RQ workers registered in Redis and still alive."""
    return [w for w in Worker.all(connection=redis_conn) if _alive(w.pid)]


def live_children(parent: int) -> list[int]:
    return [pid for pid in group_members(parent) if parent_of(pid) == parent]


def signal_pid(pid: int, signum: int) -> None:
    os.kill(pid, signum)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_processes_takes_a_number_or_auto_and_refuses_anything_else(host):
    from flask_clawhooks.supervisor import parse_processes

    assert parse_processes("auto") == (os.cpu_count() or 1)
    assert parse_processes("3") == 3
    runner = host.app.test_cli_runner()
    for bad in ("0", "-2", "many"):
        result = runner.invoke(args=["clawhooks", "worker", "--processes", bad])
        assert result.exit_code == 2, result.output
        assert "is not a number from 1 or 'auto'" in result.output
