"""Delivery control with real worker processes (``--processes 2``): FIFO order with
failures, ``max_per_second`` shared by two processes, ``max_in_flight`` at the receiver."""

from __future__ import annotations

import bisect
import json
import os
import random
import signal
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from flask_clawhooks.embedded_redis import free_port
from flask_clawhooks.models import Attempt, Delivery, DeliveryStatus

from ..fixtures import serve_in_thread
from ..processes import wait_for, worker_args, worker_env

#: Retries after 0.2 s (the usual schedule, shrunk), and a sweeper that finds due
#: retries at once; everything else as in tests/sender/test_worker_processes.py.
SETTINGS = {"CLAWHOOKS_TIMEOUT": 5.0, "CLAWHOOKS_LEASE_SECONDS": 10.0,
            "CLAWHOOKS_SWEEP_INTERVAL": 0.2, "CLAWHOOKS_SWEEP_GRACE": 0.0,
            "CLAWHOOKS_CONCURRENCY": 8, "CLAWHOOKS_RETRY_DELAYS": [0.2] * 5}


@dataclass
class Request:
    event_id: str
    n: int
    at: float
    status: int


class ControlledReceiver:
    """A receiver that answers what ``answer(n, first_try)`` says for the event's
    ``data.n``, records every request, and counts requests open at once."""

    def __init__(self, answer: Callable[[int, bool], int], delay: float = 0.0) -> None:
        self.requests: list[Request] = []
        self.open = 0
        self.most_open = 0
        self.overlapped = False
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver._lock:
                    receiver.open += 1
                    receiver.most_open = max(receiver.most_open, receiver.open)
                    first = body["id"] not in receiver._seen
                    receiver._seen.add(body["id"])
                    status = answer(body["data"]["n"], first)
                    receiver.requests.append(
                        Request(body["id"], body["data"]["n"], time.monotonic(), status))
                if delay:
                    time.sleep(delay)
                with receiver._lock:
                    receiver.open -= 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        serve_in_thread(self.server)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/webhook"

    def successes(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if 200 <= r.status < 300]


@pytest.fixture
def receivers() -> Iterator[Callable[..., ControlledReceiver]]:
    made: list[ControlledReceiver] = []

    def make(answer: Callable[[int, bool], int] = lambda n, first: 200,
             delay: float = 0.0) -> ControlledReceiver:
        made.append(ControlledReceiver(answer, delay))
        return made[-1]

    yield make
    for receiver in made:
        receiver.server.shutdown()
        receiver.server.server_close()


def emit(host, count: int, event_type: str = "message.received") -> list[str]:
    """``count`` events in one commit; their ids in emit order."""
    with host.app.app_context():
        ids = [host.clawhooks.emit(event_type, {"n": n}, owner="acme").id
               for n in range(count)]
        host.db.session.commit()
    return ids


def succeeded(host, webhook_id: str) -> int:
    with host.app.app_context():
        return host.db.session.scalar(sa.select(sa.func.count()).select_from(Delivery).where(
            Delivery.webhook_id == webhook_id, Delivery.status == DeliveryStatus.SUCCESS))


def attempts_by_delivery(host, webhook_id: str) -> dict[str, int]:
    with host.app.app_context():
        rows = host.db.session.execute(
            sa.select(Delivery.event_id, sa.func.count(Attempt.id))
            .join(Attempt, Attempt.delivery_id == Delivery.id, isouter=True)
            .where(Delivery.webhook_id == webhook_id).group_by(Delivery.event_id)).all()
    return {event_id: count for event_id, count in rows}


def waiting_with_attempts(host, webhook_id: str) -> list[str]:
    """Pending deliveries that are not the head of the queue yet have an attempt.

    One statement, so one snapshot: read in two, the head could succeed and the next one
    be claimed in between, and that new head looked like a delivery sent out of turn."""
    pending = (Delivery.webhook_id == webhook_id, Delivery.status == DeliveryStatus.PENDING)
    head = sa.select(sa.func.min(Delivery.id)).where(*pending).scalar_subquery()
    with host.app.app_context():
        return list(host.db.session.scalars(sa.select(Delivery.id).where(
            *pending, Delivery.id != head,
            sa.or_(Delivery.attempt_count > 0,
                   Delivery.id.in_(sa.select(Attempt.delivery_id))))))


@pytest.mark.clawhooks_config(**SETTINGS)
def test_fifo_webhook_receives_first_successes_in_emit_order_with_20_percent_503s(
    host, receivers, database_url, redis_url, spawn
):
    chance = random.Random(26)
    receiver = receivers(lambda n, first: 503 if first and chance.random() < 0.2 else 200)
    hook = host.add_webhook(receiver.url, ordering="fifo")
    workers = spawn(worker_args("--processes", "2", "--log-level", "WARNING"),
                    env=worker_env(database_url, redis_url, **SETTINGS))
    # The issue's 300 events on PostgreSQL (several machines' database); 100 prove the
    # same of SQLite's claims in a third of the time.
    total = 300 if database_url.startswith("postgresql") else 100
    emitted = emit(host, total)

    samples = 0
    deadline = time.monotonic() + 240
    while succeeded(host, hook.id) < total:
        assert time.monotonic() < deadline, f"{succeeded(host, hook.id)} of {total} delivered"
        # While the queue moves: nothing waiting behind its head has an attempt.
        assert waiting_with_attempts(host, hook.id) == []
        samples += 1
        time.sleep(0.5)
    assert spawn.stop(workers, timeout=30) == 0

    requests = list(receiver.requests)
    first_successes: list[str] = []
    for request in requests:
        if 200 <= request.status < 300 and request.event_id not in first_successes:
            first_successes.append(request.event_id)
    assert first_successes == emitted  # exact emit order, none lost
    # One at a time, and only the head: each request is the head again (after a 503) or
    # the next event once the head succeeded; never one further behind.
    assert receiver.most_open == 1
    for before, after in zip(requests, requests[1:], strict=False):
        if before.status == 503:
            assert after.n == before.n, (before, after)
        else:
            assert after.n == before.n + 1, (before, after)
    failed_first = sum(1 for r in requests if r.status == 503)
    assert total * 0.1 <= failed_first <= total * 0.3  # the 20 % happened
    # Every attempt is a request the receiver saw: waiting left none behind.
    counts = attempts_by_delivery(host, hook.id)
    seen: dict[str, int] = {}
    for request in requests:
        seen[request.event_id] = seen.get(request.event_id, 0) + 1
    assert counts == seen
    print(f"\nFIFO: {total} events, {failed_first} first tries answered 503, "
          f"{len(requests)} requests, {samples} samples of the queue")


def window_counts(times: list[float], length: float, step: float = 0.1) -> list[int]:
    """Requests in each window of ``length`` seconds that starts a second after the
    first request and ends by the last."""
    counts = []
    start = times[0] + 1.0
    while start + length <= times[-1]:
        counts.append(sum(1 for t in times if start <= t < start + length))
        start += step
    return counts


# The schedule is in Redis, whatever the database: PostgreSQL only (the database of
# installs with several machines), as the test takes its 20 seconds.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.clawhooks_config(**SETTINGS)
def test_max_per_second_is_shared_by_two_processes_and_slows_no_other_webhook(
    host, receivers, database_url, redis_url, spawn
):
    limited_receiver, free_receiver = receivers(), receivers()
    limited = host.add_webhook(limited_receiver.url, max_per_second=20)
    free = host.add_webhook(free_receiver.url)
    workers = spawn(worker_args("--processes", "2", "--log-level", "WARNING"),
                    env=worker_env(database_url, redis_url, **SETTINGS))
    emitted = time.monotonic()
    emit(host, 400)  # each event goes to both webhooks

    wait_for(lambda: succeeded(host, limited.id) == 400, 120, "400 limited deliveries made")
    assert spawn.stop(workers, timeout=30) == 0

    times = sorted(r.at for r in limited_receiver.requests)
    assert len(times) == 400
    # Never ahead of the shared schedule, which starts after the emit: the k-th request
    # no earlier than k slots of 50 ms after it (20 ms for the two clocks).
    ahead = [(k, round(at - emitted, 3)) for k, at in enumerate(times)
             if at < emitted + k / 20 - 0.02]
    assert not ahead, ahead[:5]
    # At the limit most of the time (a limiter that throttles harder than asked shows in
    # the median 5 s window), and never far over it: late ones take new slots instead
    # of catching up. Counted when the workers started each request: the receiver's
    # clock, delayed on a busy machine, moves requests from one window to the next. A
    # request that missed three slots goes out all the same: beside two CPU hogs, with
    # the full suite, a window held 111 (receiver's clock) on a slower machine.
    counts = window_counts(start_times(host, limited.id), 5.0)
    assert counts and 90 <= statistics.median(counts) <= 110, (min(counts), max(counts))
    assert max(counts) <= 115, (min(counts), max(counts))
    # The other webhook was done while the limited one had not sent half its events.
    free_done = max(r.at for r in free_receiver.requests)
    assert len(free_receiver.requests) == 400
    assert free_done < times[199], (free_done - times[0], times[199] - times[0])
    # Being throttled is no attempt: one attempt per delivery, all successful.
    assert set(attempts_by_delivery(host, limited.id).values()) == {1}
    assert set(attempts_by_delivery(host, free.id).values()) == {1}
    print(f"\nmax_per_second 20: {min(counts)}-{max(counts)} requests per 5 s window; "
          f"the free webhook done after {free_done - times[0]:.1f} s, the limited one "
          f"after {times[-1] - times[0]:.1f} s")


def start_times(host: Any, webhook_id: str) -> list[float]:
    """When the worker started each request of ``webhook_id``, in seconds after the first
    (the receiver's clock would add its own delays on a busy machine)."""
    with host.app.app_context():
        started = sorted(host.db.session.scalars(
            sa.select(Attempt.created_at).where(Attempt.webhook_id == webhook_id)))
    return [(at - started[0]).total_seconds() for at in started]


def densest_window(times: list[float], length: float) -> list[float]:
    """Those of ``times`` (sorted) in the window of ``length`` seconds that holds most."""
    ends = [bisect.bisect_left(times, t + length) for t in times]
    start = max(range(len(times)), key=lambda i: ends[i] - i)
    return times[start:ends[start]]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.clawhooks_config(**SETTINGS)
def test_max_per_second_holds_when_a_paused_worker_goes_on(
    host, receivers, database_url, redis_url, spawn
):
    receiver = receivers()
    limited = host.add_webhook(receiver.url, max_per_second=20)
    port = free_port()
    worker = spawn(worker_args("--log-level", "WARNING", "--metrics-port", str(port)),
                   env=worker_env(database_url, redis_url, **SETTINGS))
    emit(host, 100)
    wait_for(lambda: len(receiver.requests) >= 20, 60, "20 requests made")
    # Paused with the next half second's slots taken and its requests held back: when
    # it goes on, all of them are late. Sent then, they came together.
    os.killpg(worker.pid, signal.SIGSTOP)
    time.sleep(1.0)
    os.killpg(worker.pid, signal.SIGCONT)
    wait_for(lambda: succeeded(host, limited.id) == 100, 60, "100 deliveries made")
    late = [sample.value for family in text_string_to_metric_families(
                requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text)
            for sample in family.samples
            if sample.name == "clawhooks_deliveries_held_total"
            and sample.labels == {"webhook": limited.id, "reason": "late"}]
    assert spawn.stop(worker, timeout=30) == 0

    times = start_times(host, limited.id)
    assert len(times) == 100
    # At 20 a second, a tenth of a second holds 2 slots, 3 requests with one at each
    # end. The requests held back all went out together when the worker went on (11 in
    # a tenth of a second); 7 leaves room for a busy machine's delays between the
    # worker's timer and its sending thread, where no slot is checked (a half second
    # once held 15 in a suite run with four processes, against 11 to 12 otherwise).
    densest = densest_window(times, 0.1)
    assert len(densest) <= 7, [round(t, 3) for t in densest]
    # Those that missed their slots are counted (10 to 12 in the runs seen).
    assert late and late[0] >= 3, late
    print(f"\nmax_per_second 20, worker paused 1 s: at most {len(densest)} requests in "
          f"0.1 s, {len(densest_window(times, 0.5))} in 0.5 s; {late[0]:.0f} missed slots")


@pytest.mark.clawhooks_config(**SETTINGS)
def test_max_in_flight_2_never_has_more_than_2_requests_open_at_the_receiver(
    host, receivers, database_url, redis_url, spawn
):
    receiver = receivers(delay=0.2)
    hook = host.add_webhook(receiver.url, max_in_flight=2)
    workers = spawn(worker_args("--processes", "2", "--log-level", "WARNING"),
                    env=worker_env(database_url, redis_url, **SETTINGS))
    emit(host, 30)

    wait_for(lambda: succeeded(host, hook.id) == 30, 60, "30 deliveries made")
    assert spawn.stop(workers, timeout=30) == 0

    assert receiver.most_open == 2  # used, never exceeded
    assert len(receiver.requests) == 30
    assert set(attempts_by_delivery(host, hook.id).values()) == {1}
