"""``python -m bench.worker_cpu``: one worker's CPU per delivery at a fast receiver, and
which of its threads spends it.

For trying a change to the worker: it runs what ``bench.run``'s ``worker_cpu_per_delivery``
runs (``bench.app`` at the default settings, ``emit()`` of ``--n`` events committed at
once, one ``flask clawhooks worker`` delivering them to a receiver that answers at once),
``--rounds`` times in a row with nothing in between, so its figures move less than
``bench.run``'s, whose repeats alternate with the baselines. Run it in two checkouts, one
after the other and again, to compare two versions (each imports the package of the
directory it is started from: ``cd DIR && PYTHONPATH=DIR python -m bench.worker_cpu``).

Each thread's CPU comes from ``/proc/<pid>/task``: the main thread runs RQ's jobs and the
claims (signing included), the others are the sender's event loop and the recorder
(numbered as the kernel numbers them: the sender starts first) and a few that are idle.

``--ledger`` measures the database's part alone, in this process: ``ledger.claim`` and
``ledger.record`` of ``--batch`` deliveries at a time (each recorded as a 200 answer),
nothing sent, no Redis or RQ; the thread CPU per delivery of each, medians of
``--rounds``. On SQLite that includes SQLite's own work; PostgreSQL does its share in
the server's processes, which are not counted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import sqlalchemy as sa

from flask_clawhooks import ledger
from flask_clawhooks.state import get_state
from flask_clawhooks.timeutil import utcnow
from flask_clawhooks.transport import HttpResult

from . import app as bench_app
from . import harness
from .run import Host, deliver, warm_up

_TICKS = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[int, tuple[float, float]]:
    """User and system CPU seconds of each thread of ``pid``, by thread id."""
    found: dict[int, tuple[float, float]] = {}
    for name in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # ended meanwhile
            continue
        found[int(name)] = (int(fields[11]) / _TICKS, int(fields[12]) / _TICKS)
    return found


def ledger_cpu(host: Host, batch: int, rounds: int) -> tuple[list[float], list[float]]:
    """Thread CPU microseconds per delivery of ``ledger.claim`` and ``ledger.record``,
    one value per round of ``batch`` deliveries (after two rounds not counted)."""
    host.only_webhooks("http://127.0.0.1:9/never-called")
    claims: list[float] = []
    records: list[float] = []
    with host.app.app_context():
        settings = get_state(host.app).settings
        session = bench_app.db.session
        answer = {"Content-Type": "text/plain", "Content-Length": "2"}
        for round_ in range(rounds + 2):
            host.emit(batch)
            ids = list(session.scalars(sa.text(
                "SELECT id FROM clawhooks_delivery WHERE status = 'pending' "
                "AND lease_token IS NULL ORDER BY id LIMIT :n"), {"n": batch}))
            session.commit()
            started = time.thread_time()
            works, _ = ledger.claim(session, ids, settings)
            claimed = time.thread_time() - started
            now = utcnow()
            outcomes = [ledger.Outcome(work, HttpResult(200, 2, headers=answer, excerpt="OK",
                                                        started_at=now), now, now)
                        for work in works]
            started = time.thread_time()
            ledger.record(session, outcomes, settings)
            recorded = time.thread_time() - started
            if round_ >= 2 and works:
                claims.append(claimed / len(works) * 1e6)
                records.append(recorded / len(works) * 1e6)
    return claims, records


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker_cpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--n", type=int, default=5000, help="deliveries per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--ledger", action="store_true",
                        help="claim and record in this process, nothing sent")
    parser.add_argument("--batch", type=int, default=256,
                        help="deliveries per claim and record with --ledger")
    args = parser.parse_args()
    harness.stop_on_sigterm()
    if args.ledger:
        with harness.redis() as redis_url, harness.database(args.db) as url:
            host = Host(url, redis_url)
            try:
                claims, records = ledger_cpu(host, args.batch, args.rounds)
            finally:
                host.close()
        print(f"ledger_cpu db={args.db} batch={args.batch} rounds={args.rounds} "
              f"claim_median_us={statistics.median(claims):.1f} "
              f"record_median_us={statistics.median(records):.1f}")
        return
    with harness.redis() as redis_url, harness.database(args.db) as url:
        host = Host(url, redis_url)
        try:
            with harness.Workers(host.database_url, host.redis_url) as workers, \
                    harness.receiver() as fast:
                workers.start(1)
                host.only_webhooks(fast.url)
                warm_up(host, workers, 1000)
                pid = workers.processes[0].pid
                before = thread_cpu(pid)
                cpus = []
                for _ in range(args.rounds):
                    rate, cpu = deliver(host, workers, args.n)
                    cpus.append(cpu)
                    print(f"round db={args.db} n={args.n} rate={rate:.0f}/s cpu_us={cpu:.0f}",
                          flush=True)
                after = thread_cpu(pid)
        finally:
            host.close()
    total = args.n * args.rounds
    for tid, (user, system) in sorted(after.items()):
        was_user, was_system = before.get(tid, (0.0, 0.0))
        user_us = (user - was_user) / total * 1e6
        system_us = (system - was_system) / total * 1e6
        if user_us + system_us >= 0.5:
            role = "main" if tid == pid else f"thread {tid}"
            print(f"# {role}: user {user_us:.1f} us, system {system_us:.1f} us per delivery")
    print(f"worker_cpu db={args.db} rounds={args.rounds} "
          f"median_us={statistics.median(cpus):.0f} min_us={min(cpus):.0f} "
          f"max_us={max(cpus):.0f}")


if __name__ == "__main__":
    main()
