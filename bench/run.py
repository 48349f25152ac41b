"""``python -m bench.run``: the delivery benchmark, every figure beside its same-run baseline.

1. deliveries/s of one worker process to a fast loopback receiver, against a plain
   urllib3 keep-alive loop posting the same signed body to the same receiver;
2. the same with a receiver that answers after 100 ms;
3. the cost of ``emit()`` to 10 subscribed webhooks inside a request (with its commit),
   against one plain ORM insert and commit, on SQLite and PostgreSQL;
4. the worker's resident memory before and after 50 000 deliveries;
5. emit-to-receipt latency percentiles at a steady 200 events/s.

Every delivery is recorded as in production (attempt rows, statuses), and the run checks
that the database agrees with the receiver before it reports a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import tempfile
import time
from typing import Any

import sqlalchemy as sa
import urllib3

from flask_clawhooks.ledger import request_headers
from flask_clawhooks.models import Delivery, DeliveryStatus
from flask_clawhooks.signing import envelope_bytes
from tests.fixtures import Host, make_host

from . import harness

TARGETS = {"throughput_ratio": 0.33, "slow_receiver_rate": 150.0, "emit_ratio": 3.0,
           "rss_growth_mb": 20.0}


def line(label: str, value: str) -> None:
    print(f"  {label:<46} {value}", flush=True)


def emit_many(host: Host, count: int, per_commit: int = 500, webhooks_owner: str = "acme") -> None:
    with host.app.app_context():
        for start in range(0, count, per_commit):
            for seq in range(start, min(count, start + per_commit)):
                host.clawhooks.emit("message.received", {"seq": seq, "content": "Hello, how "
                                    "are you?", "platform": "telegram"}, owner=webhooks_owner)
            host.db.session.commit()


def count_status(host: Host, status: str) -> int:
    with host.app.app_context():
        return int(host.db.session.scalar(
            sa.select(sa.func.count()).select_from(Delivery).where(Delivery.status == status)))


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"benchmark gave up waiting for {what}")
        time.sleep(0.05)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for row in status:
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Worker:
    """``flask clawhooks worker`` in a process of its own, stopped with SIGTERM."""

    def __init__(self, database_url: str, redis_url: str, **settings: str) -> None:
        self.process = harness.start_worker(harness.worker_env(database_url, redis_url,
                                                               **settings))

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except Exception:
            self.process.kill()
            self.process.wait()


def raw_loop_rate(url: str, count: int) -> float:
    """A plain urllib3 keep-alive loop: the same signed body, one connection."""
    body = envelope_bytes("evt_raw", "message.received", "2026-01-30T14:30:00Z",
                          {"seq": 0, "content": "Hello, how are you?", "platform": "telegram"})
    headers = request_headers(["your-webhook-secret"], body, "evt_raw", "message.received",
                              "del_raw", int(time.time()))
    pool = urllib3.PoolManager(maxsize=1)
    started = time.perf_counter()
    for _ in range(count):
        response = pool.request("POST", url, body=body, headers=headers, retries=False)
        assert response.status == 200
    return count / (time.perf_counter() - started)


def delivery_rate(database_url: str, redis_url: str, count: int, delay: float,
                  concurrency: int) -> tuple[float, int]:
    """Deliveries/s of one worker, measured from the receiver's first to last arrival."""
    with harness.receiver(delay=delay, record_times=True) as receiver:
        host = make_host(database_url, redis_url, tempfile.mkdtemp(),
                         CLAWHOOKS_SWEEP_GRACE=30.0)
        host.add_webhook(receiver.url)
        emit_many(host, count)
        worker = Worker(database_url, redis_url, CONCURRENCY=str(concurrency))
        try:
            wait_for(lambda: receiver.count()[0] >= count, 600, "the deliveries")
            wait_for(lambda: count_status(host, DeliveryStatus.SUCCESS) == count, 60,
                     "the records")
        finally:
            worker.stop()
        arrivals = sorted(t for t, _ in receiver.arrivals())
        posts, distinct = receiver.count()
        assert distinct == count, (posts, distinct)
        _drop(host)
    return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]), posts - count


def _drop(host: Host) -> None:
    from flask_clawhooks.models import Base

    with host.app.app_context():
        host.app.extensions["clawhooks"].close_dispatcher()
        Base.metadata.drop_all(host.db.engine)
        host.db.engine.dispose()


def emit_cost(database_url: str, redis_url: str, rounds: int) -> tuple[float, float]:
    """Median seconds of a request that emits to 10 webhooks, and of one that inserts a row."""
    host = make_host(database_url, redis_url, tempfile.mkdtemp())
    db = host.db

    class Note(db.Model):  # type: ignore[name-defined]
        __tablename__ = "bench_note"
        id = db.Column(db.Integer, primary_key=True)
        text = db.Column(db.Text)

    with host.app.app_context():
        db.create_all()
    for n in range(10):
        host.add_webhook(f"http://127.0.0.1:9/hook{n}", ["message.received"])

    @host.app.post("/emit")
    def emit_view() -> str:
        host.clawhooks.emit("message.received", {"content": "Hello, how are you?"},
                            owner="acme")
        db.session.commit()
        return "ok"

    @host.app.post("/insert")
    def insert_view() -> str:
        db.session.add(Note(text="Hello, how are you?"))
        db.session.commit()
        return "ok"

    client = host.app.test_client()
    timings: dict[str, list[float]] = {"/emit": [], "/insert": []}
    for _ in range(20):  # warm up
        client.post("/emit")
        client.post("/insert")
    for _ in range(rounds):
        for path in timings:
            started = time.perf_counter()
            client.post(path)
            timings[path].append(time.perf_counter() - started)
    with host.app.app_context():
        Note.__table__.drop(db.engine)
    _drop(host)
    return statistics.median(timings["/emit"]), statistics.median(timings["/insert"])


def memory(database_url: str, redis_url: str, count: int) -> tuple[float, float, float]:
    with harness.receiver() as receiver:
        host = make_host(database_url, redis_url, tempfile.mkdtemp(),
                         CLAWHOOKS_SWEEP_GRACE=30.0)
        host.add_webhook(receiver.url)
        warmup = 2000
        emit_many(host, warmup)
        worker = Worker(database_url, redis_url)
        try:
            wait_for(lambda: count_status(host, DeliveryStatus.SUCCESS) == warmup, 300, "warm-up")
            before = rss_mb(worker.process.pid)
            started = time.perf_counter()
            emit_many(host, count)
            wait_for(lambda: count_status(host, DeliveryStatus.SUCCESS) == warmup + count, 900,
                     "50 000 deliveries")
            elapsed = time.perf_counter() - started
            after = rss_mb(worker.process.pid)
        finally:
            worker.stop()
        _drop(host)
    return before, after, count / elapsed


def latency(database_url: str, redis_url: str, rate: float, seconds: float) -> list[float]:
    with harness.receiver(record_times=True) as receiver:
        host = make_host(database_url, redis_url, tempfile.mkdtemp(),
                         CLAWHOOKS_SWEEP_GRACE=30.0)
        host.add_webhook(receiver.url)
        worker = Worker(database_url, redis_url)
        emitted: dict[int, float] = {}
        try:
            time.sleep(2)  # the worker is up
            total = int(rate * seconds)
            started = time.perf_counter()
            with host.app.app_context():
                for seq in range(total):
                    due = started + seq / rate
                    pause = due - time.perf_counter()
                    if pause > 0:
                        time.sleep(pause)
                    emitted[seq] = time.time()
                    host.clawhooks.emit("message.received", {"seq": seq}, owner="acme")
                    host.db.session.commit()
            achieved = total / (time.perf_counter() - started)
            wait_for(lambda: receiver.count()[1] >= total, 120, "the deliveries")
        finally:
            worker.stop()
        arrivals = {seq: at for at, seq in receiver.arrivals()}
        _drop(host)
    line("emit rate achieved", f"{achieved:.0f} events/s")
    return sorted(arrivals[seq] - emitted[seq] for seq in emitted)


def percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=5000, help="deliveries for 1 and 2")
    parser.add_argument("--memory-n", type=int, default=50_000)
    parser.add_argument("--only", nargs="*", type=int, default=[1, 2, 3, 4, 5])
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    kinds = ["sqlite"] + (["postgresql"] if harness.postgres_available() else [])
    primary = kinds[-1]
    results: dict[str, Any] = {"database": primary}
    print(f"flask-clawhooks benchmark on {os.cpu_count()} cores; worker database: {primary}")
    with harness.redis() as redis_url:
        if 1 in args.only:
            print("1. one worker, fast loopback receiver")
            with harness.receiver() as receiver:
                raw = raw_loop_rate(receiver.url, args.n)
            with harness.database(primary) as url:
                rate, extra = delivery_rate(url, redis_url, args.n, 0.0, 32)
            ratio = rate / raw
            line("raw urllib3 keep-alive loop (baseline)", f"{raw:,.0f} posts/s")
            line(f"worker, {args.n} deliveries", f"{rate:,.0f} deliveries/s")
            line("ratio (target >= 0.33)", f"{ratio:.2f}  {'ok' if ratio >= 0.33 else 'MISSED'}")
            results.update(raw_loop=raw, fast_rate=rate, throughput_ratio=ratio)
        if 2 in args.only:
            print("2. one worker, receiver answering after 100 ms")
            with harness.database(primary) as url:
                rate, _ = delivery_rate(url, redis_url, args.n, 0.1, 64)
            line("baseline: one connection, 100 ms each", "10 deliveries/s")
            line(f"worker, {args.n} deliveries (target >= 150/s)",
                 f"{rate:,.0f} deliveries/s  {'ok' if rate >= 150 else 'MISSED'}")
            results.update(slow_receiver_rate=rate)
        if 3 in args.only:
            print("3. emit() to 10 webhooks inside a request, with its commit")
            for kind in kinds:
                with harness.database(kind) as url:
                    emit_s, insert_s = emit_cost(url, redis_url, 300)
                ratio = emit_s / insert_s
                line(f"{kind}: one ORM insert + commit (baseline)", f"{insert_s * 1e3:.2f} ms")
                line(f"{kind}: emit to 10 webhooks + commit", f"{emit_s * 1e3:.2f} ms")
                verdict = "ok" if ratio <= 3 else "MISSED"
                line(f"{kind}: ratio (target <= 3)", f"{ratio:.2f}  {verdict}")
                results[f"emit_ratio_{kind}"] = ratio
        if 4 in args.only:
            print(f"4. worker memory over {args.memory_n:,} deliveries")
            with harness.database(primary) as url:
                before, after, rate = memory(url, redis_url, args.memory_n)
            line("RSS after 2 000 warm-up deliveries (baseline)", f"{before:.1f} MB")
            line(f"RSS after {args.memory_n:,} more", f"{after:.1f} MB")
            line("growth (target <= 20 MB)",
                 f"{after - before:+.1f} MB  {'ok' if after - before <= 20 else 'MISSED'}")
            line("throughput while emitting", f"{rate:,.0f} deliveries/s")
            results.update(rss_before=before, rss_after=after)
        if 5 in args.only:
            print("5. emit -> receipt latency at a steady 200 events/s for 15 s")
            with harness.database(primary) as url:
                lat = latency(url, redis_url, 200, 15)
            line("p50", f"{percentile(lat, 50) * 1e3:.1f} ms")
            line("p99", f"{percentile(lat, 99) * 1e3:.1f} ms")
            line("max", f"{lat[-1] * 1e3:.1f} ms")
            results.update(latency_p50=percentile(lat, 50), latency_p99=percentile(lat, 99))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
