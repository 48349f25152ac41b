"""``python -m bench.scale``: does the sender slow down as its delivery log grows?

For each database (SQLite and, when one answers, PostgreSQL) two logs are kept side by
side in the same run: an empty one and one filled, in SQL, to each of ``--sizes``
attempts (10⁶ and 10⁷ by default; each event has one delivery and one attempt, of one
webhook, spread over the last 6.5 days, 2 % failed; then vacuumed and analysed, as a
log that grew over time would be). On each size, beside the empty log,
repeats interleaved (empty, full, empty, full, …):

``worker_rate``   deliveries per second of one ``flask clawhooks worker`` to a fast
                  receiver through the busiest webhook (emit commit → last outcome)
``emit_ms``       ``emit()`` + commit to that webhook, in an app context
``stats_ms``      ``GET /webhooks/{id}/stats`` of the busiest webhook, through the app
``search_ms``     ``GET /deliveries?status=failed`` (the newest page), through the app

Then, on the largest size, ``prune_rate``: the worker's rate while
``flask clawhooks prune --older-than …`` deletes the oldest 10⁶ attempts (with their
deliveries and events), against its rate just before and after, and, on PostgreSQL, the
workers' statements seen waiting on a lock in ``pg_stat_activity`` (sampled every
``--sample`` seconds) with the longest such wait.

``--partitioned`` (with ``--db postgresql``) partitions both logs' attempts by day
before filling them, as ``flask clawhooks partition enable`` would have a week earlier:
the prune then drops the days wholly before its cutoff and deletes the rest in batches.

Settings are the defaults, except ``CLAWHOOKS_ALLOW_PRIVATE_DESTINATIONS`` (loopback
receivers). Each figure is one ``figure=`` line; ``#`` lines are context. 10⁷ rows take
long to write on a small machine: ``--sizes 1000000`` runs the first size only.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from flask_clawhooks import partitions, rollups
from flask_clawhooks.apikeys import create_key
from flask_clawhooks.models import Webhook
from flask_clawhooks.timeutil import utcnow

from . import app as bench_app
from . import harness
from .run import EVENT, Host, deliver, note, warm_up

#: Rows written per statement when filling.
CHUNK = 200_000
#: How far back the filler goes: inside the 7-day window of the statistics.
SPAN = dt.timedelta(days=6.5)
PRUNED = 1_000_000
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
BODY = (b'{"id":"evt_filler","type":"message.received","created_at":"2026-01-30T14:29:58Z",'
        b'"data":{"conversation_id":"conv_123","message_id":"msg_456","sender":{"id":'
        b'"user_789","name":"Jane Doe"},"content":"Hello, how are you?","timestamp":'
        b'"2026-01-30T14:29:58Z"}}')


def _digits(expression: str, count: int) -> str:
    """SQL for ``expression`` (an integer) in ``count`` base32 digits, as ids write them."""
    return " || ".join(
        f"substr('{_ALPHABET}', CAST((({expression}) >> {5 * k}) & 31 AS integer) + 1, 1)"
        for k in reversed(range(count)))


def _fill_sql(postgres: bool) -> list[str]:
    """INSERTs of events, deliveries and attempts number :first to :last."""
    if postgres:
        source = ("(SELECT n, CAST(:start_ms AS bigint) + CAST(n AS bigint) * :step_ms AS t "
                  "FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS n) g")
        when = "(to_timestamp(t / 1000.0) AT TIME ZONE 'UTC')"
        head = ""
    else:
        source = "(SELECT n, :start_ms + n * :step_ms AS t FROM series) g"
        when = ("(strftime('%Y-%m-%d %H:%M:%S', t / 1000, 'unixepoch') || '.' || "
                "printf('%06d', (t % 1000) * 1000))")
        head = ("WITH RECURSIVE series(n) AS (SELECT :first UNION ALL "
                "SELECT n + 1 FROM series WHERE n < :last) ")
    suffix = f"{_digits('t', 10)} || '0000000000' || {_digits('n', 6)}"
    failed = "n % 50 = 0"
    ms = "((n * 7919) % 300 + 1)"
    return [
        f"""{head}INSERT INTO clawhooks_event (id, owner, type, created_at, body)
SELECT 'evt_' || {suffix}, :owner, :type, {when}, :body FROM {source}""",
        f"""{head}INSERT INTO clawhooks_delivery (id, event_id, webhook_id, event_type, status,
    attempt_count, response_code, response_time_ms, last_error, created_at, updated_at)
SELECT 'del_' || {suffix}, 'evt_' || {suffix}, :webhook, :type,
    CASE WHEN {failed} THEN 'failed' ELSE 'success' END, 1,
    CASE WHEN {failed} THEN 500 ELSE 200 END, {ms},
    CASE WHEN {failed} THEN 'HTTP 500' END, {when}, {when} FROM {source}""",
        f"""{head}INSERT INTO clawhooks_attempt (id, delivery_id, webhook_id, number, outcome,
    response_code, response_time_ms, error, request_headers, response_excerpt, created_at)
SELECT 'att_' || {suffix}, 'del_' || {suffix}, :webhook, 1,
    CASE WHEN {failed} THEN 'failed' ELSE 'success' END,
    CASE WHEN {failed} THEN 500 ELSE 200 END, {ms},
    CASE WHEN {failed} THEN 'HTTP 500' END, '{{}}', 'OK', {when} FROM {source}""",
    ]


class Log:
    """One database and its app; ``filled`` attempts of filler so far."""

    def __init__(self, kind: str, url: str, redis_url: str, receiver_url: str) -> None:
        self.kind = kind
        self.url = url
        self.host = Host(url, redis_url)
        self.host.only_webhooks(receiver_url)
        self.filled = 0
        with self.host.app.app_context():
            session = bench_app.db.session
            self.webhook_id = session.scalar(sa.select(Webhook.id).where(Webhook.enabled))
            self.api_key = create_key(session, bench_app.OWNER, "bench")[1]
            session.commit()
        now_ms = int(utcnow().replace(tzinfo=dt.UTC).timestamp() * 1000)
        self.start_ms = now_ms - int(SPAN.total_seconds() * 1000)
        self.client = self.host.app.test_client()
        self.prefix = self.host.app.config["CLAWHOOKS_API_PREFIX"]

    def step_ms(self, total: int) -> int:
        return max(1, int(SPAN.total_seconds() * 1000) // total)

    def fill(self, size: int, largest: int) -> float:
        """Add filler up to ``size`` attempts (spread for ``largest``); seconds taken."""
        postgres = self.kind == "postgresql"
        statements = [sa.text(sql) for sql in _fill_sql(postgres)]
        step = self.step_ms(largest)
        started = time.perf_counter()
        with self.host.app.app_context():
            engine = bench_app.db.engine
            for first in range(self.filled, size, CHUNK):
                last = min(first + CHUNK, size) - 1
                with engine.begin() as conn:
                    for statement in statements:
                        conn.execute(statement, {
                            "first": first, "last": last, "start_ms": self.start_ms,
                            "step_ms": step, "owner": bench_app.OWNER, "type": EVENT,
                            "body": BODY, "webhook": self.webhook_id})
                print(f"#   {self.kind}: {last + 1} attempts written", flush=True)
            with engine.begin() as conn:
                rollups.rebuild(conn)
            # A log that grew over months has been vacuumed as it grew; one written in
            # a minute has not, and autovacuum would otherwise work through it in the
            # middle of the measurements.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM (ANALYZE)" if postgres else "ANALYZE"))
        self.filled = size
        return time.perf_counter() - started

    def get_ms(self, path: str) -> float:
        started = time.perf_counter()
        response = self.client.get(f"{self.prefix}{path}",
                                   headers={"Authorization": f"Bearer {self.api_key}"})
        took = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"GET {path} answered {response.status_code}")
        return took

    def emit_ms(self) -> float:
        with self.host.app.app_context():
            started = time.perf_counter()
            bench_app.clawhooks.emit(EVENT, bench_app.MESSAGE, owner=bench_app.OWNER)
            bench_app.db.session.commit()
            return (time.perf_counter() - started) * 1000

    def close(self) -> None:
        self.host.close()


@contextlib.contextmanager
def worker(log: Log, redis_url: str) -> Iterator[harness.Workers]:
    with harness.Workers(log.url, redis_url) as workers:
        workers.start(1)
        warm_up(log.host, workers, 200)
        yield workers


def spread(values: list[float]) -> str:
    return (f"min={min(values):.1f} median={statistics.median(values):.1f} "
            f"max={max(values):.1f}")


def figure(name: str, kind: str, size: int, full: list[float], empty: list[float],
           target: str, ok: bool, unit: str = "") -> None:
    ratio = statistics.median(full) / statistics.median(empty)
    print(f"figure={name} db={kind} attempts={size} {unit}full[{spread(full)}] "
          f"empty[{spread(empty)}] ratio_of_medians={ratio:.3f} target={target} "
          f"ok={'yes' if ok else 'no'}", flush=True)


def compare(full: Log, empty: Log, redis_url: str, size: int, args: argparse.Namespace
            ) -> None:
    kind = full.kind
    rates: dict[str, list[float]] = {"full": [], "empty": []}
    for _ in range(args.repeats):
        for label, log in (("empty", empty), ("full", full)):
            with worker(log, redis_url) as workers:
                rates[label].append(deliver(log.host, workers, args.deliveries)[0])
    ratio = statistics.median(rates["full"]) / statistics.median(rates["empty"])
    figure("worker_rate", kind, size, rates["full"], rates["empty"], ">=0.90", ratio >= 0.9,
           "deliveries_per_s ")

    emits: dict[str, list[float]] = {"full": [], "empty": []}
    stats: dict[str, list[float]] = {"full": [], "empty": []}
    search: dict[str, list[float]] = {"full": [], "empty": []}
    for log in (empty, full):  # warm both apps and their pools
        for _ in range(10):
            log.emit_ms()
            log.get_ms(f"/webhooks/{log.webhook_id}/stats")
            log.get_ms("/deliveries?status=failed")
    for _ in range(args.repeats):
        for label, log in (("empty", empty), ("full", full)):
            emits[label].append(statistics.median(log.emit_ms() for _ in range(args.rounds)))
            stats[label].extend(log.get_ms(f"/webhooks/{log.webhook_id}/stats")
                                for _ in range(args.rounds // 10))
            search[label].extend(log.get_ms("/deliveries?status=failed")
                                 for _ in range(args.rounds // 10))
    ratio = statistics.median(emits["full"]) / statistics.median(emits["empty"])
    figure("emit_ms", kind, size, emits["full"], emits["empty"], "<=1.10", ratio <= 1.10,
           "ms_median_per_repeat ")
    figure("stats_ms", kind, size, stats["full"], stats["empty"],
           "median<=20,max<=50",
           statistics.median(stats["full"]) <= 20 and max(stats["full"]) <= 50, "ms ")
    figure("search_ms", kind, size, search["full"], search["empty"], "-", True, "ms ")
    # What the benchmark itself delivered meanwhile is sent before the next step.
    for log in (empty, full):
        with worker(log, redis_url):
            pass


LOCK_WAITS = sa.text("""
SELECT pid, query_start, left(regexp_replace(query, '\\s+', ' ', 'g'), 60)
FROM pg_stat_activity
WHERE application_name = :worker AND state = 'active' AND wait_event_type = 'Lock'""")


def prune_under_load(log: Log, redis_url: str, size: int, args: argparse.Namespace) -> None:
    """The worker's rate while the oldest :data:`PRUNED` attempts are pruned."""
    kind = log.kind
    pruned = min(args.pruned, size)
    cutoff_ms = log.start_ms + pruned * log.step_ms(max(args.sizes))
    now_ms = int(utcnow().replace(tzinfo=dt.UTC).timestamp() * 1000)
    age = (now_ms - cutoff_ms) // 1000
    env = {**os.environ, "FLASK_SQLALCHEMY_DATABASE_URI": log.url,
           "FLASK_CLAWHOOKS_REDIS_URL": redis_url}
    waits: dict[tuple[int, Any], tuple[float, float, str]] = {}
    samples = [0]
    stop = threading.Event()

    def sample() -> None:
        engine = sa.create_engine(harness.POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            while not stop.is_set():
                now = time.monotonic()
                for pid, started, query in conn.execute(
                        LOCK_WAITS, {"worker": harness.WORKER_APPLICATION}):
                    first = waits.get((pid, started), (now, now, query))[0]
                    waits[(pid, started)] = (first, now, query)
                samples[0] += 1
                time.sleep(args.sample)
        engine.dispose()

    with worker(log, redis_url) as workers:
        before = [deliver(log.host, workers, args.deliveries)[0] for _ in range(2)]
        sampler = threading.Thread(target=sample) if kind == "postgresql" else None
        if sampler is not None:
            sampler.start()
        started = time.perf_counter()
        prune = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "bench.app", "clawhooks", "prune",
             "--older-than", f"{age}s"], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True)
        during = []
        try:
            while prune.poll() is None:
                during.append(deliver(log.host, workers, args.deliveries)[0])
        finally:
            took = time.perf_counter() - started
            output = prune.communicate()[0].decode(errors="replace")
            stop.set()
            if sampler is not None:
                sampler.join()
        after = [deliver(log.host, workers, args.deliveries)[0] for _ in range(2)]
    said = output.strip().splitlines()[-1] if output.strip() else "(nothing)"
    if prune.returncode != 0:
        raise SystemExit(f"the prune failed ({prune.returncode}): {output[-2000:]}")
    note(f"{kind}: prune --older-than {age}s took {took:.1f} s and said: {said}")
    if not during:
        note(f"{kind}: the prune ended before one measurement of the worker finished")
        return
    base = before + after
    ratio = statistics.median(during) / statistics.median(base)
    print(f"figure=prune_rate db={kind} attempts={size} pruned_attempts={pruned} "
          f"prune_s={took:.1f} deliveries_per_s during[{spread(during)}] "
          f"before_and_after[{spread(base)}] ratio_of_medians={ratio:.3f} target=>=0.80 "
          f"ok={'yes' if ratio >= 0.8 else 'no'}", flush=True)
    if kind == "postgresql":
        longest = max((last - first for first, last, _ in waits.values()), default=0.0)
        print(f"figure=prune_lock_waits db={kind} samples={samples[0]} "
              f"interval_s={args.sample:g} worker_statements_seen_waiting={len(waits)} "
              f"longest_wait_seen_ms={longest * 1000:.0f} target=<=100 "
              f"ok={'yes' if longest <= 0.1 else 'no'}", flush=True)
        for first, last, query in sorted(waits.values(), key=lambda w: w[0] - w[1])[:5]:
            note(f"  lock wait {1000 * (last - first):.0f} ms: {query}")


def partition(log: Log) -> None:
    """Partition ``log``'s attempts by day from before the filler's oldest, as an install
    that ran ``flask clawhooks partition enable`` a week ago would be."""
    with log.host.app.app_context():
        engine = bench_app.db.engine
        partitions.enable(engine, "day", now=utcnow() - SPAN - dt.timedelta(days=1))
        partitions.create_ahead(engine)
        with engine.connect() as conn:
            count = len(partitions.partitions(conn))
    note(f"{log.kind}: attempts partitioned by day ({count} partitions)")


def run(kind: str, redis_url: str, args: argparse.Namespace) -> None:
    with harness.receiver() as receiver, harness.database(kind) as empty_url, \
            harness.database(kind) as full_url:
        empty = Log(kind, empty_url, redis_url, receiver.url)
        full = Log(kind, full_url, redis_url, receiver.url)
        try:
            if args.partitioned:
                partition(empty)
                partition(full)
            for size in args.sizes:
                took = full.fill(size, max(args.sizes))
                note(f"{kind}: log filled to {size} attempts (events and deliveries as "
                     f"many) in {took:.0f} s")
                compare(full, empty, redis_url, size, args)
            if not args.no_prune:
                prune_under_load(full, redis_url, max(args.sizes), args)
        finally:
            empty.close()
            full.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000],
                        help="attempts in the full log, in increasing order")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--deliveries", type=int, default=2000,
                        help="deliveries per measurement of a worker's rate")
    parser.add_argument("--rounds", type=int, default=100,
                        help="emits per repeat (and a tenth as many stats and searches)")
    parser.add_argument("--sample", type=float, default=0.01,
                        help="seconds between two samples of pg_stat_activity")
    parser.add_argument("--pruned", type=int, default=PRUNED,
                        help="attempts the prune under load deletes (the oldest)")
    parser.add_argument("--no-prune", action="store_true")
    parser.add_argument("--partitioned", action="store_true",
                        help="partition the attempts by day (PostgreSQL only): the prune "
                             "then drops whole days of them")
    args = parser.parse_args()
    harness.stop_on_sigterm()
    if args.partitioned and args.db != "postgresql":
        parser.error("--partitioned needs --db postgresql")
    if args.sizes != sorted(args.sizes):
        parser.error("--sizes must be in increasing order")
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if "postgresql" in kinds and not harness.postgres_available():
        note(f"PostgreSQL unreachable at {harness.POSTGRES_URL}: skipped")
        kinds.remove("postgresql")
    began = time.monotonic()
    note(f"bench.scale: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
         f"databases: {', '.join(kinds)}; sizes: {', '.join(map(str, args.sizes))}; "
         f"{args.repeats} repeats, {args.deliveries} deliveries per rate; settings: "
         "defaults except CLAWHOOKS_ALLOW_PRIVATE_DESTINATIONS=True")
    with harness.redis() as redis_url:
        for kind in kinds:
            run(kind, redis_url, args)
    note(f"done in {time.monotonic() - began:.0f} s; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
