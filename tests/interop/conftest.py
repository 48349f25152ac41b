"""Helpers for interop tests: real receivers on loopback and what our DB recorded."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask, request
from werkzeug.serving import make_server

from flask_clawhooks.models import Delivery, DeliveryStatus, Event

from ..fixtures import SEED_MESSAGE as SEED_EXAMPLE
from ..fixtures import Host, serve_in_thread

#: The seed's own example secret; the seed receivers use it unchanged.
SECRET = "your-webhook-secret"

#: The seed's message.received example, so the seed's Node handler finds data.sender.name.
SEED_MESSAGE = SEED_EXAMPLE


@dataclass
class Captured:
    headers: dict[str, str]
    body: bytes


@dataclass
class Served:
    """A Flask app served by werkzeug on 127.0.0.1, recording every request it gets."""

    app: Flask
    url: str
    requests: list[Captured] = field(default_factory=list)


@pytest.fixture
def serve() -> Iterator[Callable[[Flask], Served]]:
    """``serve(app)`` runs ``app`` on a real socket in a thread until the test ends."""
    servers: list[Any] = []

    def start(app: Flask, path: str = "/webhook") -> Served:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        served = Served(app, f"http://127.0.0.1:{server.server_port}{path}")

        @app.before_request
        def capture() -> None:
            served.requests.append(Captured(dict(request.headers), request.get_data()))

        serve_in_thread(server)
        servers.append(server)
        return served

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST as an attacker would, with urllib; return the status and body."""
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def error_code(body: bytes) -> str:
    return str(json.loads(body)["error"]["code"])


def delivery_of(host: Host, event_id: str, webhook_id: str) -> Delivery:
    [delivery] = [d for d in host.deliveries()
                  if d.event_id == event_id and d.webhook_id == webhook_id]
    return delivery


def assert_delivered(host: Host, event_id: str, webhook_id: str) -> Delivery:
    """The delivery is recorded ``success`` with response code 200 in our database."""
    delivery = delivery_of(host, event_id, webhook_id)
    assert (delivery.status, delivery.response_code) == (DeliveryStatus.SUCCESS, 200), (
        delivery.status, delivery.response_code, delivery.last_error,
        [a.response_excerpt for a in delivery.attempts])
    return delivery


def sent_request(host: Host, delivery: Delivery) -> tuple[bytes, dict[str, str]]:
    """The body and headers our worker sent for the delivery's last attempt."""
    with host.app.app_context():
        event = host.db.session.get(Event, delivery.event_id)
        assert event is not None
        body = bytes(event.body)
    last = max(delivery.attempts, key=lambda a: a.number)
    return body, dict(last.request_headers)


def retry(host: Host, delivery_id: str) -> None:
    """Redeliver through the extension, as the dashboard's Retry button does."""
    with host.app.app_context():
        assert host.clawhooks.retry(delivery_id) is not None


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the receiver exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listened on port {port} within {timeout} s")
