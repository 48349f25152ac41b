"""The fault drill: 2 000 deliveries while workers are SIGKILLed, Redis is restarted and
the receiver drops connections at random. Nothing may be lost, and the logs must agree
with what the receiver saw."""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from flask_clawhooks.embedded_redis import EmbeddedRedis
from flask_clawhooks.models import Attempt, Delivery, DeliveryStatus, Event

from ..fixtures import make_host

TOTAL = 2000
DROP_RATE = 0.05


class DroppingReceiver:
    """Reads each request; then drops the connection (no answer) with DROP_RATE."""

    def __init__(self, seed: int) -> None:
        self.seen: collections.Counter[str] = collections.Counter()
        self.dropped = 0
        self.lock = threading.Lock()
        rng = random.Random(seed)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                event_id = json.loads(body)["id"]
                with receiver.lock:
                    receiver.seen[event_id] += 1
                    drop = rng.random() < DROP_RATE
                    receiver.dropped += drop
                if drop:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # dropped connections are the point of this receiver

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def total(self) -> int:
        with self.lock:
            return len(self.seen)


@pytest.fixture
def drill_database_url(request, tmp_path) -> str:
    """PostgreSQL, as production runs it; SQLite where no PostgreSQL answers."""
    try:
        return str(request.getfixturevalue("postgres_schema_url"))
    except pytest.skip.Exception:
        return f"sqlite:///{tmp_path / 'drill.sqlite'}"


@pytest.mark.timeout(600)
def test_nothing_is_lost_through_kills_a_redis_restart_and_dropped_connections(
    drill_database_url, tmp_path
):
    database_url = drill_database_url
    redis_server = EmbeddedRedis().start()
    receiver = DroppingReceiver(seed=7)
    settings = {"CLAWHOOKS_RETRY_DELAYS": [1, 1, 1, 1, 1, 1, 1, 1], "CLAWHOOKS_TIMEOUT": 2.0,
                "CLAWHOOKS_LEASE_SECONDS": 3.0, "CLAWHOOKS_SWEEP_INTERVAL": 1.0,
                "CLAWHOOKS_SWEEP_GRACE": 1.0}
    host = make_host(database_url, redis_server.url, str(tmp_path / "instance"), **settings)
    env = {**os.environ, "TEST_DATABASE_URL": database_url, "TEST_REDIS_URL": redis_server.url,
           **{f"FLASK_{k}": json.dumps(v) for k, v in settings.items()}}
    workers: list[subprocess.Popen] = []

    def start_worker() -> subprocess.Popen:
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "tests.worker_app:create_app()",
             "clawhooks", "worker", "--log-level", "ERROR"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        workers.append(worker)
        return worker

    kills = restarts = 0
    try:
        host.add_webhook(receiver.url)
        current = start_worker()
        start_worker()  # a second, steady worker
        emitted = 0
        deadline = time.monotonic() + 300
        while receiver.total() < TOTAL or count(host, DeliveryStatus.SUCCESS) < TOTAL:
            assert time.monotonic() < deadline, tallies(host, receiver, "gave up")
            if emitted < TOTAL:
                with host.app.app_context():
                    for _ in range(100):
                        host.clawhooks.emit("message.received", {"n": emitted}, owner="acme")
                        emitted += 1
                    host.db.session.commit()
            if kills < 4 and receiver.total() > (kills + 1) * TOTAL // 6:
                os.kill(current.pid, signal.SIGKILL)  # mid-batch, POSTs in flight
                current.wait()
                kills += 1
                current = start_worker()
            if restarts == 0 and receiver.total() > TOTAL // 2:
                port = redis_server.port
                redis_server.stop()  # everything queued in Redis is gone
                time.sleep(0.5)
                redis_server = EmbeddedRedis(port=port).start()
                host.app.extensions["clawhooks"].redis.connection_pool.disconnect()
                restarts += 1
            time.sleep(0.1)
    except BaseException:
        drop_tables(host)
        raise
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        host.app.extensions["clawhooks"].redis.connection_pool.disconnect()
        redis_server.stop()

    with host.app.app_context():
        session = host.db.session
        events = dict(session.execute(
            sa.select(Event.id, sa.func.count(Attempt.id))
            .join(Delivery, Delivery.event_id == Event.id)
            .join(Attempt, Attempt.delivery_id == Delivery.id)
            .group_by(Event.id)).all())
        successes = dict(session.execute(
            sa.select(Event.id, sa.func.count(Attempt.id))
            .join(Delivery, Delivery.event_id == Event.id)
            .join(Attempt, Attempt.delivery_id == Delivery.id)
            .where(Attempt.outcome == "success").group_by(Event.id)).all())
        interrupted = session.scalar(sa.select(sa.func.count()).select_from(Attempt)
                                     .where(Attempt.outcome == "interrupted"))
        sending = session.scalar(sa.select(sa.func.count()).select_from(Attempt)
                                 .where(Attempt.outcome == "sending"))
        succeeded = count(host, DeliveryStatus.SUCCESS)
    drop_tables(host)
    receiver.server.shutdown()
    receiver.server.server_close()
    duplicates = sum(n - 1 for n in receiver.seen.values())
    lost = TOTAL - len(receiver.seen)
    print(f"\nfault drill: sent {TOTAL}, received {len(receiver.seen)} distinct, "
          f"duplicates {duplicates}, dropped {receiver.dropped}, lost {lost}, "
          f"worker kills {kills}, redis restarts {restarts}, attempts {sum(events.values())}, "
          f"interrupted {interrupted}")

    assert kills >= 3 and restarts == 1
    assert lost == 0 and len(events) == TOTAL
    assert sending == 0
    assert succeeded == TOTAL
    for event_id, seen in receiver.seen.items():
        # every request the receiver saw is an attempt in the log
        assert seen <= events[event_id], (event_id, seen, events[event_id])
        assert successes.get(event_id) == 1, event_id


def drop_tables(host) -> None:
    from flask_clawhooks.models import Base

    with host.app.app_context():
        host.app.extensions["clawhooks"].close_dispatcher()
        Base.metadata.drop_all(host.db.engine)  # the PostgreSQL schema is shared
        host.db.engine.dispose()


def count(host, status: str) -> int:
    with host.app.app_context():
        return int(host.db.session.scalar(
            sa.select(sa.func.count()).select_from(Delivery).where(Delivery.status == status)))


def tallies(host, receiver, what: str) -> str:
    return (f"{what}: receiver saw {receiver.total()}, "
            f"{count(host, DeliveryStatus.SUCCESS)} recorded as success, "
            f"{count(host, DeliveryStatus.PENDING)} pending")
