"""Fixtures with real parts: Flask apps on SQLite and PostgreSQL, HTTP receivers on
loopback, an SMTP server, and RQ workers run in burst mode."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import hmac
import os
import secrets
import socketserver
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_clawhooks import ClawHooks, partitions
from flask_clawhooks.models import Delivery, DeliveryStatus, Webhook
from flask_clawhooks.state import get_state
from flask_clawhooks.timeutil import utcnow
from flask_clawhooks.worker import run_worker

T = TypeVar("T")

POSTGRES_URL = os.environ.get(
    "CLAWHOOKS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


#: The ClawBook page's ``message.received`` example data, for tests that send it.
SEED_MESSAGE = {
    "message_id": "msg_xyz789",
    "conversation_id": "conv_abc456",
    "platform": "telegram",
    "sender": {"id": "123456789", "name": "John Doe", "username": "@johndoe"},
    "content": "Hello, how are you?",
    "timestamp": "2026-01-30T14:29:58Z",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "clawhooks_config(**settings): extra app config for the `app` fixture"
    )


# -- databases ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_schema_url() -> Iterator[str]:
    """A URL of a PostgreSQL database of this test session's own, made from
    ``CLAWHOOKS_TEST_POSTGRES_URL``'s and dropped at the end.

    A database, not a schema in a shared one: test sessions running side by side (the
    suite's pytest-xdist workers) must never wait on each other, and ``CREATE INDEX
    CONCURRENTLY`` (the migrations) waits for every older transaction in its database.
    """
    try:
        engine = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT",
                                  connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # unreachable server: skip, or fail when it is required
        message = f"PostgreSQL unreachable at {POSTGRES_URL}: {exc.__class__.__name__}"
        if os.environ.get("CLAWHOOKS_REQUIRE_POSTGRES") == "1":
            pytest.fail(message + " (CLAWHOOKS_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    name = f"{SESSION_DATABASE_PREFIX}{os.getpid()}_{secrets.token_hex(3)}"
    with engine.connect() as conn:
        _drop_abandoned_databases(conn)
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        # A commit returns without waiting for its WAL to reach the disk (0.4 ms instead
        # of 1.5 here): what a server crash would lose is of no use to a test, and
        # every other session sees a commit as before.
        conn.execute(sa.text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    try:
        yield sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(
            hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


#: Databases made by :func:`postgres_schema_url` are named this, the pid and a suffix.
SESSION_DATABASE_PREFIX = "clawhooks_test_"


def _drop_abandoned_databases(conn: sa.Connection) -> None:
    """Drop the databases of test sessions whose process is gone (killed before their
    teardown), so that they do not pile up on a developer's server."""
    names = conn.scalars(sa.text("SELECT datname FROM pg_database WHERE datname LIKE :like"),
                         {"like": SESSION_DATABASE_PREFIX + "%"}).all()
    for name in names:
        pid = name[len(SESSION_DATABASE_PREFIX):].split("_")[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


#: A PostgreSQL install whose attempts are partitioned (``flask clawhooks partition
#: enable``), for the delivery tests that must pass on it as on the others:
#: ``@pytest.mark.parametrize("database_url", WITH_PARTITIONED, indirect=True)``. The
#: ``host`` fixture partitions its tables by week (a few partitions: quick to make).
PARTITIONED = "postgresql-partitioned"
WITH_PARTITIONED = ["sqlite", "postgresql", PARTITIONED]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'clawbook.sqlite'}"
    return str(request.getfixturevalue("postgres_schema_url"))


def partitioned(request: pytest.FixtureRequest) -> bool:
    """Whether the test runs on the :data:`PARTITIONED` variant."""
    callspec = getattr(request.node, "callspec", None)
    return callspec is not None and callspec.params.get("database_url") == PARTITIONED


# -- the app --------------------------------------------------------------------------


@dataclass
class Host:
    """A ClawBook-like host app with the extension registered, for tests."""

    app: Flask
    db: SQLAlchemy
    clawhooks: ClawHooks
    emails: dict[str, str] = field(default_factory=dict)

    def add_webhook(self, url: str, events: list[str] | None = None, owner: str = "acme",
                    secret: str = "your-webhook-secret", **extra: Any) -> Webhook:
        with self.app.app_context():
            webhook = Webhook(owner=owner, url=url, secret=secret,
                              events=events or ["message.received"], **extra)
            self.db.session.add(webhook)
            self.db.session.commit()
            self.db.session.refresh(webhook)
            self.db.session.expunge(webhook)
            return webhook

    def emit(self, event_type: str, data: Any, owner: str = "acme") -> str:
        with self.app.app_context():
            event = self.clawhooks.emit(event_type, data, owner=owner)
            self.db.session.commit()
            return event.id

    def deliveries(self) -> list[Delivery]:
        with self.app.app_context():
            rows = self.db.session.scalars(sa.select(Delivery).order_by(Delivery.id)).all()
            for row in rows:
                row.attempts  # noqa: B018 - load them before leaving the session
                self.db.session.expunge(row)
            return list(rows)

    def webhook(self, webhook_id: str) -> Webhook:
        with self.app.app_context():
            webhook = self.db.session.get(Webhook, webhook_id)
            assert webhook is not None
            self.db.session.expunge(webhook)
            return webhook

    def configure(self, **changes: Any) -> None:
        """Change settings after start-up, e.g. ``configure(mail_port=2525)``."""
        state = get_state(self.app)
        state.settings = dataclasses.replace(state.settings, **changes)

    def flush(self) -> None:
        """Wait until the deliveries committed so far are queued in Redis."""
        with self.app.app_context():
            assert self.clawhooks.flush(10), "the hand-off to Redis took over 10 s"

    def work(self) -> None:
        """Run one burst of a real worker (scheduler included) and wait for its records."""
        run_worker(self.app, burst=True, logging_level="WARNING")

    def work_until_settled(self, timeout: float = 60.0) -> list[Delivery]:
        """Run burst workers until no delivery is pending, sleeping until the next is due."""
        deadline = time.monotonic() + timeout
        while True:
            self.work()
            pending = [d for d in self.deliveries() if d.status == DeliveryStatus.PENDING]
            if not pending:
                return self.deliveries()
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(pending)} deliveries still pending after {timeout} s")
            nexts = [d.next_attempt_at for d in pending if d.next_attempt_at is not None]
            wait = (min(nexts) - utcnow()).total_seconds() if nexts else 0.2
            time.sleep(min(max(wait, 0.05) + 0.05, 2.0))


def make_host(database_url: str, redis_url: str, instance_path: str, *,
              create_tables: bool = True, **config: Any) -> Host:
    """A host app on ``database_url``; ``create_tables`` runs ``init-db`` (creates the
    tables and records the head schema revision, without running the migrations)."""
    app = Flask("clawbook_test", instance_path=instance_path)
    app.config.update(
        TESTING=True,
        SQLALCHEMY_DATABASE_URI=database_url,
        CLAWHOOKS_REDIS_URL=redis_url,
        CLAWHOOKS_TIMEOUT=2.0,
        CLAWHOOKS_LEASE_SECONDS=4.0,
        CLAWHOOKS_SWEEP_GRACE=0.0,
        CLAWHOOKS_CONCURRENCY=8,
        CLAWHOOKS_ALLOW_PRIVATE_DESTINATIONS=True,  # the receivers listen on loopback
        CLAWHOOKS_API_RATE_LIMIT=None,  # tests/api/test_rate_limit.py switches it on
    )
    app.config.update(config)
    db = SQLAlchemy(app)
    clawhooks = ClawHooks(app, db=db)
    host = Host(app, db, clawhooks)
    clawhooks.owner_email_loader(host.emails.get)
    if create_tables:
        with app.app_context():
            clawhooks.create_all()
    return host


@pytest.fixture
def host(request: pytest.FixtureRequest, database_url: str, redis_url: str, redis_conn: Any,
         tmp_path: Any) -> Iterator[Host]:
    marker = request.node.get_closest_marker("clawhooks_config")
    config = dict(marker.kwargs) if marker else {}
    host = make_host(database_url, redis_url, str(tmp_path / "instance"), **config)
    if partitioned(request):
        with host.app.app_context():
            partitions.enable(host.db.engine, "week")
    yield host
    with host.app.app_context():
        get_state(host.app).close_dispatcher()
        from flask_clawhooks.models import Base

        if partitioned(request):  # the test ran on what it was meant to
            with host.db.engine.connect() as conn:
                assert partitions.is_partitioned(conn), "the attempts lost their partitions"
        Base.metadata.drop_all(host.db.engine)
        host.db.engine.dispose()


# -- servers in threads -----------------------------------------------------------------

#: How often a test's HTTP server looks whether it was asked to stop. socketserver's
#: default (0.5 s) made every test that served something wait up to half a second in
#: its teardown, for ``shutdown()``.
SERVE_POLL_SECONDS = 0.02


def serve_in_thread(server: socketserver.BaseServer) -> threading.Thread:
    """Run ``server.serve_forever()`` in a daemon thread (started); ``server.shutdown()``
    stops it within :data:`SERVE_POLL_SECONDS`."""
    thread = threading.Thread(target=server.serve_forever, args=(SERVE_POLL_SECONDS,),
                              daemon=True)
    thread.start()
    return thread


# -- receivers ------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: dt.datetime


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"OK"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Receiver:
    """A real HTTP server on 127.0.0.1 that records every request.

    ``replies`` are used in order, one per request; when they run out, ``default``.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.requests: list[Received] = []
        self.replies: list[Reply] = []
        self.default = Reply()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(
                        Received(self.path, dict(self.headers.items()), body, utcnow())
                    )
                    reply = receiver.replies.pop(0) if receiver.replies else receiver.default
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = serve_in_thread(self.server)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/webhook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def receiver_factory() -> Iterator[Callable[[], Receiver]]:
    made: list[Receiver] = []

    def make() -> Receiver:
        made.append(Receiver())
        return made[-1]

    yield make
    for server in made:
        server.close()


# -- e-mail ---------------------------------------------------------------------------


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        #: When each message arrived (naive UTC, as the tables store time).
        self.arrived: list[dt.datetime] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        from email import message_from_bytes, policy

        message = message_from_bytes(envelope.content, policy=policy.default)
        self.arrived.append(utcnow())
        self.messages.append((envelope.rcpt_tos, message))
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    from flask_clawhooks.embedded_redis import free_port

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


def seed_verify_signature(payload, signature, secret):  # type: ignore[no-untyped-def]
    """The ClawBook page's own Python example, verbatim: the one copy the tests use."""
    expected = hmac.new(
        secret.encode(),
        payload.encode(),
        hashlib.sha256
    ).hexdigest()
    return f"sha256={expected}" == signature


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to the end on a thread of its own and return its result.

    ``asyncio.run`` refuses to start while an event loop runs in the calling thread, and
    the dashboard tests' session-wide Playwright keeps one running in the main thread for
    the rest of the session, so ASGI tests that follow them must not call it there.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
