"""``python -m bench.locks``: do workers sharing one webhook wait on each other's row locks?

Several ``flask clawhooks worker`` processes (separate processes, 4 by default) deliver to
one fast receiver through one webhook on PostgreSQL while the app emits a steady stream
of events. Meanwhile ``pg_stat_activity`` is sampled every ``--interval`` seconds for the
workers' and the app's connections (told apart by ``application_name``). Each sample is
printed as one line: the statements running and what each waits for. The verdict counts
the samples in which one of our statements waited on a row lock (``wait_event_type``
``Lock``, ``wait_event`` ``transactionid`` or ``tuple``: another transaction holds the
row); other heavyweight lock waits (``extend``: two backends growing one table at once)
are counted beside it.

``--worker-path DIR`` runs the workers with ``PYTHONPATH=DIR``, to sample another
version of the code (DIR must hold ``flask_clawhooks`` and this ``bench``).
"""

from __future__ import annotations

import argparse
import collections
import threading
import time

import sqlalchemy as sa

from . import harness
from .run import Host

APP_APPLICATION = "clawhooks_bench_app"
#: wait_event of a statement waiting for another transaction's row lock.
ROW_LOCKS = ("transactionid", "tuple")

SAMPLE = sa.text("""
SELECT application_name, pid, wait_event_type, wait_event,
       left(regexp_replace(query, '\\s+', ' ', 'g'), 60)
FROM pg_stat_activity
WHERE application_name IN (:worker, :app) AND state = 'active'
ORDER BY application_name, pid""")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.locks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15.0, help="how long to sample")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between samples")
    parser.add_argument("--backlog", type=int, default=30_000,
                        help="events emitted before the workers start, so that they have "
                             "more to do than one emitting process can give them")
    parser.add_argument("--worker-path", help="PYTHONPATH of the workers (another version)")
    args = parser.parse_args()
    harness.stop_on_sigterm()
    if not harness.postgres_available():
        parser.error(f"PostgreSQL unreachable at {harness.POSTGRES_URL}")

    with harness.redis() as redis_url, harness.database("postgresql") as url, \
            harness.receiver() as receiver:
        host = Host(f"{url}&application_name={APP_APPLICATION}", redis_url)
        try:
            host.only_webhooks(receiver.url)
            settings = {"PYTHONPATH": args.worker_path} if args.worker_path else {}
            started = time.monotonic()
            host.emit(args.backlog, per_commit=500)
            print(f"# {args.backlog} events emitted in {time.monotonic() - started:.1f} s "
                  "before the workers start")
            with harness.Workers(url, redis_url, environment=settings,
                                 cwd=args.worker_path) as workers:
                workers.start(args.workers)
                sample(host, workers, receiver, args)
        finally:
            host.close()


def sample(host: Host, workers: harness.Workers, receiver: harness.ReceiverProcess,
           args: argparse.Namespace) -> None:
    stop = threading.Event()
    emitted = [0]

    def emit_stream() -> None:  # the app: 100 events a commit, as fast as it can
        while not stop.is_set():
            host.emit(100)
            emitted[0] += 100

    engine = sa.create_engine(harness.POSTGRES_URL, isolation_level="AUTOCOMMIT")
    waits: collections.Counter[tuple[str, str]] = collections.Counter()
    lock_waits: collections.Counter[str] = collections.Counter()
    samples = row_lock_samples = busy = 0
    delivered_before = receiver.count()[0]
    emitter = threading.Thread(target=emit_stream, name="emitter")
    emitter.start()
    started = time.monotonic()
    print(f"# {args.workers} workers (separate processes) started, one webhook, sampling "
          f"pg_stat_activity every {args.interval:g} s for {args.seconds:g} s")
    print("# each sample: who (w = worker, a = app) wait_event_type:wait_event statement")
    try:
        with engine.connect() as conn:
            while time.monotonic() - started < args.seconds:
                workers.check()
                rows = conn.execute(SAMPLE, {"worker": harness.WORKER_APPLICATION,
                                             "app": APP_APPLICATION}).all()
                samples += 1
                busy += bool(rows)
                row_locked = False
                parts = []
                for application, _pid, kind, event, query in rows:
                    who = "w" if application == harness.WORKER_APPLICATION else "a"
                    wait = f"{kind}:{event}" if kind else "running"
                    waits[(who, wait)] += 1
                    if kind == "Lock":
                        row_locked |= event in ROW_LOCKS
                        lock_waits[f"{wait} {query}"] += 1
                    parts.append(f"{who} {wait} {query}")
                row_lock_samples += row_locked
                elapsed = time.monotonic() - started
                print(f"t={elapsed:5.2f}s active={len(rows)}" + "".join(
                    f"\n    {part}" for part in parts), flush=True)
                time.sleep(args.interval)
    finally:
        stop.set()
        emitter.join()
        engine.dispose()
    harness.wait_for(lambda: (workers.check(), host.pending() == 0)[1], 300, "the stream",
                     interval=0.05)
    elapsed = time.monotonic() - started
    delivered = receiver.count()[0] - delivered_before
    print("# what the active statements were doing, over all samples:")
    for (who, wait), count in waits.most_common():
        print(f"#   {'worker' if who == 'w' else 'app':6} {wait:32} {count}")
    for what, count in lock_waits.most_common():
        print(f"#   lock wait: {what}  x{count}")
    print(f"# {emitted[0]} more events emitted meanwhile, {delivered} POSTs in {elapsed:.1f} s "
          f"({delivered / elapsed:.0f}/s with {args.workers} workers)")
    row_waits = sum(n for what, n in lock_waits.items() if what.split()[0] in
                    {f"Lock:{event}" for event in ROW_LOCKS})
    print(f"figure=row_lock_waits db=postgresql workers={args.workers} samples={samples} "
          f"samples_with_activity={busy} samples_with_row_lock_wait={row_lock_samples} "
          f"row_lock_waits={row_waits} other_lock_waits={sum(lock_waits.values()) - row_waits} "
          f"target=0 ok={'yes' if not row_waits else 'no'}")


if __name__ == "__main__":
    main()

