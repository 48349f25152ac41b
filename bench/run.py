"""``python -m bench.run``: what a user of the sender gets, beside same-run baselines.

Everything runs as a user runs it: the app is ``bench.app`` (a ClawBook-like host at the
default settings), events are sent with ``emit()`` and committed, and deliveries are made
by real ``flask clawhooks worker`` processes, started for the run. A delivery counts once
its outcome is recorded in the database, so a worker's time runs from the commit of the
``emit()`` to the last recorded outcome. Comparisons are repeated and interleaved (A, B,
A, B, A, B) and each prints min/median/max of the repeats and of their same-run ratios.

Figures, on each database (SQLite and, when one answers, PostgreSQL):

``fast_ratio``      one worker against a raw urllib3 keep-alive loop posting the same
                    bodies with the same headers, signed per request, to a fast receiver
``worker_cpu_vs_aiohttp``  the worker's CPU per delivery against an aiohttp client's CPU
                    per POST (same concurrency, same envelopes, same headers signed per
                    request, no database; ``pip install aiohttp``)
``worker_cpu_vs_wrk``  the same against ``wrk`` (C), where installed, posting one signed
                    envelope: the receiver's ceiling
``slow_rate``       one worker, receiver answering after 100 ms: deliveries per second
``slow_vs_wrk``     that rate against ``wrk``'s at the same concurrency (at most
                    concurrency / 0.1 s)
``emit_ratio``      ``emit()`` to 10 webhooks + commit against one ORM insert + commit in
                    the same session, bare and inside a request (``emit_ratio_request``)
``rss_growth``      a worker's resident memory growth over 50 000 deliveries
``latency``         emit → receipt at a steady 200 events/s: p50, p99, max
``burst_start``     ``flask clawhooks worker --burst`` with one event waiting: seconds from
                    the command's start to the receiver getting the POST, beside
                    ``app_import``, the same interpreter only importing the host app
                    (``python -c "import bench.app"``), and their difference per pair,
                    ``burst_after_import``: what the worker itself adds. Both run with
                    the modules of ``flask_clawhooks`` and ``bench`` compiled to
                    bytecode first, as ``pip install`` leaves a package (where
                    ``PYTHONDONTWRITEBYTECODE`` is set and a checkout has none, each
                    start would compile them from source: the worker, which imports
                    more of them, 0.1 to 0.2 s more here)
``scaling``         1, 2, … worker processes (separate ``flask clawhooks worker``
                    processes) up to the number of cores, against one

Each figure is one line of ``key=value`` pairs starting with ``figure=``; lines starting
with ``#`` are context for people.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis as redis_client
import sqlalchemy as sa
import urllib3
from flask import Flask

from flask_clawhooks.ids import new_id
from flask_clawhooks.models import Base, Webhook
from flask_clawhooks.signing import envelope_bytes, request_headers
from flask_clawhooks.state import get_state
from flask_clawhooks.timeutil import isoformat, utcnow

from . import app as bench_app
from . import baselines, harness

SECRET = "your-webhook-secret"
EVENT = "message.received"


class Figures:
    """Prints figure lines and keeps them for ``--json``."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def line(self, name: str, db: str, **values: Any) -> None:
        row = {"figure": name, "db": db, **values}
        self.rows.append(row)
        print(" ".join(f"{k}={_show(v)}" for k, v in row.items()), flush=True)

    def spread(self, name: str, db: str, values: list[float], *, unit: str = "",
               target: str | None = None, ok: bool | None = None, **extra: Any) -> None:
        """A repeated figure: min, median and max of ``values``."""
        fields: dict[str, Any] = {"min": min(values), "median": statistics.median(values),
                                  "max": max(values)}
        if unit:
            fields["unit"] = unit
        fields.update(extra)
        if target is not None:
            fields["target"] = target
            fields["ok"] = "yes" if ok else "no"
        self.line(name, db, **fields)


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def note(text: str) -> None:
    print(f"# {text}", flush=True)


class Host:
    """``bench.app`` on one database, as the emitting web process sees it."""

    def __init__(self, database_url: str, redis_url: str) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.app: Flask = bench_app.create_app({"SQLALCHEMY_DATABASE_URI": database_url,
                                                "CLAWHOOKS_REDIS_URL": redis_url})
        with self.app.app_context():
            bench_app.clawhooks.create_all()
            bench_app.db.create_all()
        self.seq = 0

    @property
    def settings(self) -> Any:
        return get_state(self.app).settings

    def only_webhooks(self, *urls: str) -> None:
        """Make ``urls`` the owner's only enabled webhooks."""
        with self.app.app_context():
            session = bench_app.db.session
            session.execute(sa.update(Webhook).values(enabled=False))
            for url in urls:
                session.add(Webhook(owner=bench_app.OWNER, url=url, secret=SECRET,
                                    events=[EVENT]))
            session.commit()

    def emit(self, count: int, per_commit: int | None = None) -> float:
        """Emit ``count`` events, committing every ``per_commit`` (default: once at the
        end); return time.perf_counter() right after the last commit."""
        per_commit = per_commit or count
        with self.app.app_context():
            for start in range(0, count, per_commit):
                for _ in range(min(per_commit, count - start)):
                    bench_app.clawhooks.emit(EVENT, bench_app.message(self.seq),
                                             owner=bench_app.OWNER)
                    self.seq += 1
                bench_app.db.session.commit()
        return time.perf_counter()

    def pending(self) -> int:
        with self.app.app_context(), bench_app.db.engine.connect() as conn:
            return int(conn.execute(sa.text(
                "SELECT count(*) FROM clawhooks_delivery WHERE status = 'pending'")).scalar_one())

    def count(self, status: str) -> int:
        with self.app.app_context(), bench_app.db.engine.connect() as conn:
            return int(conn.execute(sa.text(
                "SELECT count(*) FROM clawhooks_delivery WHERE status = :s"), {"s": status}
            ).scalar_one())

    def close(self) -> None:
        with self.app.app_context():
            bench_app.db.session.remove()
            Base.metadata.drop_all(bench_app.db.engine)
            bench_app.Note.__table__.drop(bench_app.db.engine, checkfirst=True)
            bench_app.db.engine.dispose()


def deliver(host: Host, workers: harness.Workers, count: int,
            per_commit: int | None = None) -> tuple[float, float]:
    """Emit ``count`` events and wait until every outcome is recorded.

    Returns deliveries per second from the (first) emit commit to the last recorded
    outcome, and the workers' CPU microseconds per delivery.
    """
    cpu = workers.cpu_seconds()
    if per_commit is None:
        started = host.emit(count)
    else:  # a stream of commits: the clock starts at the first
        started = host.emit(per_commit)
        host.emit(count - per_commit, per_commit)

    def done() -> bool:
        workers.check()
        return host.pending() == 0

    finished = harness.wait_for(done, 900, f"{count} deliveries")
    used = workers.cpu_seconds() - cpu
    return count / (finished - started), used / count * 1e6


def warm_up(host: Host, workers: harness.Workers, count: int = 300) -> None:
    """Let the workers start and open their connections."""
    host.emit(count)
    harness.wait_for(lambda: (workers.check(), host.pending() == 0)[1], 120, "the warm-up",
                     interval=0.05)


def raw_loop(url: str, count: int) -> float:
    """A plain urllib3 keep-alive loop: one connection, the bodies an ``emit()`` makes,
    the worker's headers signed per request. Returns POSTs per second."""
    created = isoformat(utcnow()) or ""
    work = []
    for seq in range(count):
        event_id = new_id("evt")
        work.append((event_id, new_id("del"),
                     envelope_bytes(event_id, EVENT, created, bench_app.message(seq))))
    pool = urllib3.PoolManager(maxsize=1)
    started = time.perf_counter()
    for event_id, delivery_id, body in work:
        headers = request_headers([SECRET], body, event_id, EVENT, delivery_id,
                                  int(time.time()))
        response = pool.request("POST", url, body=body, headers=headers, retries=False,
                                redirect=False)
        if response.status != 200:
            raise SystemExit(f"the raw loop got HTTP {response.status}")
    elapsed = time.perf_counter() - started
    pool.clear()
    return count / elapsed


# -- the figures ----------------------------------------------------------------------


def fast_and_slow(figures: Figures, kind: str, host: Host, args: argparse.Namespace) -> None:
    concurrency = host.settings.concurrency
    no_aiohttp, no_wrk = baselines.aiohttp_missing(), baselines.wrk_missing()
    for missing in (no_aiohttp, no_wrk):
        if missing:
            note(missing)
    with harness.Workers(host.database_url, host.redis_url) as workers:
        workers.start(1)
        with harness.receiver() as fast:
            host.only_webhooks(fast.url)
            warm_up(host, workers)
            raws, rates, cpus, ratios = [], [], [], []
            aio: list[baselines.Run] = []
            wrks: list[baselines.Run] = []
            for _ in range(args.repeats):  # A, B, C, D, A, B, C, D, ...
                raws.append(raw_loop(fast.url, args.n))
                if not no_aiohttp:
                    aio.append(baselines.run_aiohttp(fast.url, args.n, concurrency))
                if not no_wrk:
                    wrks.append(baselines.run_wrk(fast.url, args.wrk_seconds, concurrency))
                rate, cpu = deliver(host, workers, args.n)
                rates.append(rate)
                cpus.append(cpu)
                ratios.append(rate / raws[-1])
            _, distinct = fast.count()
            # warm-up, raw loop, worker; aiohttp's warm-up and its POSTs; wrk's one body
            expected = 300 + 2 * args.repeats * args.n + len(aio) * (args.n + concurrency)
            if distinct != expected + len(wrks):
                raise SystemExit(f"the fast receiver saw {distinct} distinct bodies")
        figures.spread("fast_raw_rate", kind, raws, unit="/s", n=args.n)
        figures.spread("fast_worker_rate", kind, rates, unit="/s", n=args.n)
        figures.spread("worker_cpu_per_delivery", kind, cpus, unit="us")
        figures.spread("fast_ratio", kind, ratios, target=">=0.6",
                       ok=statistics.median(ratios) >= 0.6)
        if aio:
            figures.spread("fast_aiohttp_rate", kind, [r.rate for r in aio], unit="/s",
                           n=args.n, concurrency=concurrency)
            figures.spread("aiohttp_cpu_per_post", kind, [r.cpu_us for r in aio], unit="us")
            cpu_ratios = [c / r.cpu_us for c, r in zip(cpus, aio, strict=True)]
            figures.spread("worker_cpu_vs_aiohttp", kind, cpu_ratios, target="<=0.5",
                           ok=statistics.median(cpu_ratios) <= 0.5)
        if wrks:
            figures.spread("fast_wrk_rate", kind, [r.rate for r in wrks], unit="/s",
                           seconds=args.wrk_seconds, concurrency=concurrency)
            figures.spread("wrk_cpu_per_post", kind, [r.cpu_us for r in wrks], unit="us")
            figures.spread("worker_cpu_vs_wrk", kind,
                           [c / r.cpu_us for c, r in zip(cpus, wrks, strict=True)])
        with harness.receiver(delay=0.1) as slow:
            host.only_webhooks(slow.url)
            warm_up(host, workers, 100)
            slow_rates: list[float] = []
            slow_wrks: list[baselines.Run] = []
            for _ in range(args.repeats):  # wrk, worker, wrk, worker, ...
                if not no_wrk:
                    slow_wrks.append(baselines.run_wrk(slow.url, args.wrk_seconds,
                                                       concurrency))
                slow_rates.append(deliver(host, workers, args.slow_n)[0])
        figures.spread("slow_rate", kind, slow_rates, unit="/s", n=args.slow_n,
                       receiver_ms=100, target=">=600",
                       ok=statistics.median(slow_rates) >= 600)
        if slow_wrks:
            figures.spread("slow_wrk_rate", kind, [r.rate for r in slow_wrks], unit="/s",
                           receiver_ms=100, concurrency=concurrency)
            slow_ratios = [w / r.rate for w, r in zip(slow_rates, slow_wrks, strict=True)]
            figures.spread("slow_vs_wrk", kind, slow_ratios, receiver_ms=100,
                           target=">=0.9", ok=statistics.median(slow_ratios) >= 0.9)
        with harness.receiver(record_times=True) as timed:
            host.only_webhooks(timed.url)
            warm_up(host, workers, 100)
            latency(figures, kind, host, timed, args.latency_seconds)


def latency(figures: Figures, kind: str, host: Host, timed: harness.ReceiverProcess,
            seconds: float, rate: float = 200.0) -> None:
    """Emit one event per commit at ``rate`` a second; time each from its commit to its
    arrival at the receiver."""
    first = host.seq
    emitted: dict[int, float] = {}
    total = int(rate * seconds)
    started = time.perf_counter()
    with host.app.app_context():
        for n in range(total):
            pause = started + n / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            seq = host.seq
            bench_app.clawhooks.emit(EVENT, bench_app.message(seq), owner=bench_app.OWNER)
            host.seq += 1
            bench_app.db.session.commit()
            emitted[seq] = time.time()
    achieved = total / (time.perf_counter() - started)
    harness.wait_for(lambda: host.pending() == 0, 120, "the latency run", interval=0.05)
    arrivals = {seq: at for at, seq in timed.arrivals() if seq >= first}
    lat = sorted((arrivals[seq] - at) * 1000 for seq, at in emitted.items())
    if len(lat) != total:
        raise SystemExit(f"{total - len(lat)} latency events never arrived")
    figures.line("latency", kind, rate=round(achieved), seconds=seconds,
                 p50_ms=_percentile(lat, 50), p99_ms=_percentile(lat, 99), max_ms=lat[-1])


def _percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def emit_cost(figures: Figures, kind: str, redis_url: str, rounds: int, repeats: int) -> None:
    """``emit()`` to 10 webhooks + commit against one ORM insert + commit, interleaved."""
    with harness.database(kind) as url:
        host = Host(url, redis_url)
        try:
            host.only_webhooks(*(f"http://127.0.0.1:9/hook{n}" for n in range(10)))
            app = host.app

            def bare_emit() -> None:
                bench_app.clawhooks.emit(EVENT, bench_app.MESSAGE, owner=bench_app.OWNER)
                bench_app.db.session.commit()

            def bare_insert() -> None:
                bench_app.db.session.add(bench_app.Note(text=bench_app.MESSAGE["content"]))
                bench_app.db.session.commit()

            with app.app_context():
                bare = _interleaved(bare_emit, bare_insert, rounds, repeats)
            client = app.test_client()
            request = _interleaved(lambda: _ok(client.post("/messages")),
                                   lambda: _ok(client.post("/notes")), rounds, repeats)
        finally:
            host.close()
            redis_client.Redis.from_url(redis_url).flushdb()  # the ids pushed to Redis
    for name, (emit_ms, insert_ms, ratios) in (("emit_ratio", bare),
                                               ("emit_ratio_request", request)):
        figures.spread(name, kind, ratios, emit_ms=statistics.median(emit_ms),
                       insert_ms=statistics.median(insert_ms), webhooks=10,
                       target="<=1.5", ok=statistics.median(ratios) <= 1.5)


def _ok(response: Any) -> None:
    if response.status_code != 200:
        raise SystemExit(f"the bench app answered {response.status_code}")


def _interleaved(a: Callable[[], None], b: Callable[[], None], rounds: int,
                 repeats: int) -> tuple[list[float], list[float], list[float]]:
    """Median ms of ``a`` and of ``b`` per repeat (calls alternate), and their ratios."""
    for _ in range(20):
        a()
        b()
    a_ms, b_ms = [], []
    for _ in range(repeats):
        times: tuple[list[float], list[float]] = ([], [])
        for _ in range(rounds):
            for f, into in ((a, times[0]), (b, times[1])):
                started = time.perf_counter()
                f()
                into.append((time.perf_counter() - started) * 1000)
        a_ms.append(statistics.median(times[0]))
        b_ms.append(statistics.median(times[1]))
    return a_ms, b_ms, [x / y for x, y in zip(a_ms, b_ms, strict=True)]


def burst_start(figures: Figures, kind: str, host: Host, repeats: int) -> None:
    """``worker --burst`` from its command to its first POST, against importing the app."""
    env = {**os.environ, "FLASK_SQLALCHEMY_DATABASE_URI": host.database_url,
           "FLASK_CLAWHOOKS_REDIS_URL": host.redis_url}
    firsts, imports, added = [], [], []
    harness.compile_bytecode()
    with harness.receiver(record_times=True) as receiver:
        host.only_webhooks(receiver.url)
        for _ in range(repeats):
            began = time.time()
            subprocess.run([sys.executable, "-c", "import bench.app"], env=env, check=True)
            imports.append(time.time() - began)
            seen = len(receiver.arrivals())
            host.emit(1)
            began = time.time()
            subprocess.run([sys.executable, "-m", "flask", "--app", "bench.app", "clawhooks",
                            "worker", "--burst", "--log-level", "WARNING"], env=env,
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
            arrivals = receiver.arrivals()
            if len(arrivals) <= seen:
                raise SystemExit("worker --burst exited without sending the waiting event")
            firsts.append(arrivals[seen][0] - began)
            added.append(firsts[-1] - imports[-1])
    figures.spread("burst_start", kind, firsts, unit="s")
    figures.spread("app_import", kind, imports, unit="s")
    figures.spread("burst_after_import", kind, added, unit="s", target="<=0.2",
                   ok=statistics.median(added) <= 0.2)


def memory(figures: Figures, kind: str, host: Host, count: int) -> None:
    with harness.Workers(host.database_url, host.redis_url) as workers, \
            harness.receiver() as receiver:
        workers.start(1)
        host.only_webhooks(receiver.url)
        warm_up(host, workers, 2000)
        time.sleep(1)
        pid = workers.processes[0].pid
        before = harness.rss_mb(pid)
        rate, _ = deliver(host, workers, count, per_commit=500)
        time.sleep(1)
        after = harness.rss_mb(pid)
    figures.line("rss_growth", kind, before_mb=before, after_mb=after,
                 growth_mb=after - before, deliveries=count, rate=rate,
                 target="<=20", ok="yes" if after - before <= 20 else "no")


def scaling(figures: Figures, kind: str, host: Host, count: int, repeats: int) -> None:
    cores = os.cpu_count() or 1
    counts = list(range(1, cores + 1)) if cores > 1 else [1, 2]
    rates: dict[int, list[float]] = {n: [] for n in counts}
    with harness.receiver() as receiver:
        host.only_webhooks(receiver.url)
        for _ in range(repeats):  # 1, 2, …, 1, 2, …
            for n in counts:
                with harness.Workers(host.database_url, host.redis_url) as workers:
                    workers.start(n)
                    warm_up(host, workers, 100 * n)
                    rates[n].append(deliver(host, workers, count)[0])
    one = statistics.median(rates[1])
    for n in counts:
        figures.spread("scaling", kind, rates[n], unit="/s", workers=n, cores=cores,
                       speedup=statistics.median(rates[n]) / one, n=count,
                       processes="separate")


@contextmanager
def _database_host(kind: str, redis_url: str) -> Iterator[Host]:
    with harness.database(kind) as url:
        host = Host(url, redis_url)
        try:
            yield host
        finally:
            host.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--quick", action="store_true",
                        help="fewer deliveries and shorter runs, for trying changes")
    parser.add_argument("--only", nargs="*",
                        choices=["emit", "fast", "burst", "memory", "scaling"],
                        default=["emit", "fast", "burst", "memory", "scaling"],
                        help="fast also runs slow_rate and latency")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    harness.stop_on_sigterm()
    args.repeats = 3
    args.n = 2000 if args.quick else 5000
    args.slow_n = 1500 if args.quick else 3000
    args.memory_n = 10_000 if args.quick else 50_000
    args.latency_seconds = 5.0 if args.quick else 15.0
    args.emit_rounds = 100 if args.quick else 300
    args.wrk_seconds = 2.0 if args.quick else 5.0

    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if "postgresql" in kinds and not harness.postgres_available():
        note(f"PostgreSQL unreachable at {harness.POSTGRES_URL}: skipped")
        kinds.remove("postgresql")
    figures = Figures()
    began = time.monotonic()
    note(f"flask-clawhooks benchmark: {os.cpu_count()} cores, load average "
         f"{os.getloadavg()[0]:.1f}; databases: {', '.join(kinds)}"
         f"{'; --quick' if args.quick else ''}")
    with harness.redis() as redis_url:
        for kind in kinds:
            with _database_host(kind, redis_url) as host:
                if kind == kinds[0]:
                    s = host.settings
                    note(f"settings: defaults (CLAWHOOKS_CONCURRENCY={s.concurrency}, "
                         f"CLAWHOOKS_TIMEOUT={s.timeout:g}, CLAWHOOKS_RESPONSE_EXCERPT_BYTES="
                         f"{s.response_excerpt_bytes}) except "
                         "CLAWHOOKS_ALLOW_PRIVATE_DESTINATIONS=True (loopback receivers)")
                if "emit" in args.only:
                    emit_cost(figures, kind, redis_url, args.emit_rounds, args.repeats)
                if "fast" in args.only:
                    fast_and_slow(figures, kind, host, args)
                if "burst" in args.only:
                    burst_start(figures, kind, host, 5)
                if "memory" in args.only:
                    memory(figures, kind, host, args.memory_n)
                if "scaling" in args.only:
                    scaling(figures, kind, host, args.n, 2)
    note(f"done in {time.monotonic() - began:.0f} s; load average {os.getloadavg()[0]:.1f}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures.rows, out, indent=2)


if __name__ == "__main__":
    main()
