"""Real deliveries from our worker to receiver_kit's Django, FastAPI and Starlette adapters.

Each receiver is an app of ``tests/interop/apps`` in a server process of its own: Django's
``runserver``, and uvicorn for the FastAPI and the Starlette apps, started in a process
group of its own and killed with it. Nothing is simulated: the ``host`` fixture's extension
emits, real RQ burst workers sign and POST, and the handlers write each event id they ran
for to a file the test reads.

Per framework: a valid delivery runs the handler once and its redelivery is a duplicate;
forged, stale and replayed requests get 401; a delivery from outside the allowlist gets
403; no forged request gets a 2xx.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import receiver_kit as rk
from flask_clawhooks.embedded_redis import free_port
from flask_clawhooks.models import DeliveryStatus

from ..fixtures import Host
from .apps import DEFAULT_ALLOWLIST_PATH
from .conftest import (
    SECRET,
    SEED_MESSAGE,
    assert_delivered,
    delivery_of,
    post,
    retry,
    sent_request,
    wait_for_port,
)

ROOT = Path(__file__).resolve().parents[2]

#: The receivers' ``webhook-timestamp`` tolerance: short, so a replay is stale soon, and
#: long enough that the replay made right after the delivery is inside it even on a busy
#: machine (at 4 s a loaded machine's first replay came too late and got 401).
TOLERANCE = 10

FRAMEWORKS = ["django", "fastapi", "starlette"]


def command(framework: str, port: int) -> list[str]:
    if framework == "django":
        return [sys.executable, "-m", "django", "runserver", "--noreload", "--skip-checks",
                f"127.0.0.1:{port}"]
    return [sys.executable, "-m", "uvicorn", f"tests.interop.apps.{framework}_app:app",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]


@dataclass
class AppReceiver:
    """One framework's receiver process."""

    framework: str
    port: int
    process: subprocess.Popen[bytes]
    handled_file: Path
    log_file: Path

    def url(self, path: str = "/webhook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def handled(self) -> list[str]:
        if not self.handled_file.exists():
            return []
        return self.handled_file.read_text(encoding="utf-8").split()

    def runs_of(self, event_id: str) -> int:
        return self.handled().count(event_id)

    def error_code(self, body: bytes) -> str | None:
        """The error code of a rejection (FastAPI wraps it in its ``detail``), else None."""
        answer = json.loads(body)
        error = answer.get("detail" if self.framework == "fastapi" else "error")
        return error.get("code") if isinstance(error, dict) else None

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@pytest.fixture(scope="module", params=FRAMEWORKS)
def app_receiver(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppReceiver]:
    framework: str = request.param
    folder = tmp_path_factory.mktemp(f"receiver_{framework}")
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "PYTHONUNBUFFERED": "1",
        "RECEIVER_SECRET": SECRET,
        "RECEIVER_HANDLED": str(folder / "handled.txt"),
        "RECEIVER_TOLERANCE": str(TOLERANCE),
        "DJANGO_SETTINGS_MODULE": "tests.interop.apps.django_site",
    }
    log_file = folder / "server.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(command(framework, port), cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    receiver = AppReceiver(framework, port, process, folder / "handled.txt", log_file)
    try:
        wait_for_port(port, process)
        yield receiver
    finally:
        receiver.stop()


def deliver(host: Host, receiver: AppReceiver, path: str = "/webhook") -> tuple[str, str]:
    """Emit one event to a new webhook at ``path``; run the worker; return both ids."""
    webhook = host.add_webhook(receiver.url(path), secret=SECRET)
    event_id = host.emit("message.received", SEED_MESSAGE)
    host.work_until_settled()
    return event_id, webhook.id


def signed(body: bytes, secret: str = SECRET, *, message_id: str,
           timestamp: int | None = None) -> dict[str, str]:
    """Both signatures, as the sender makes them, and the content type."""
    return {**rk.sign_standard(body, secret, message_id=message_id, timestamp=timestamp),
            "X-ClawBook-Signature": rk.sign(body, secret),
            "Content-Type": "application/json"}


def new_event(event_id: str) -> bytes:
    return json.dumps({"id": event_id, "type": "message.received",
                       "created_at": "2026-01-30T14:30:00Z", "data": SEED_MESSAGE},
                      separators=(",", ":")).encode()


def test_a_real_delivery_runs_the_handler_once_and_its_redelivery_is_a_duplicate(
    host: Host, app_receiver: AppReceiver
) -> None:
    event_id, webhook_id = deliver(host, app_receiver)
    delivery = assert_delivered(host, event_id, webhook_id)
    assert app_receiver.runs_of(event_id) == 1, app_receiver.log_file.read_text()
    last = max(delivery.attempts, key=lambda a: a.number)
    assert json.loads(last.response_excerpt or "{}").get("framework") == app_receiver.framework

    retry(host, delivery.id)
    host.work_until_settled()
    again = assert_delivered(host, event_id, webhook_id)
    assert len(again.attempts) == 2
    last = max(again.attempts, key=lambda a: a.number)
    assert "duplicate" in (last.response_excerpt or "")
    assert app_receiver.runs_of(event_id) == 1, "the redelivery ran the handler again"


def test_forged_and_stale_requests_get_401_and_never_reach_the_handler(
    host: Host, app_receiver: AppReceiver
) -> None:
    event_id, webhook_id = deliver(host, app_receiver)
    body, headers = sent_request(host, assert_delivered(host, event_id, webhook_id))
    now = int(time.time())
    fresh = new_event("evt_forged_fresh")
    seed_only = {k: v for k, v in headers.items() if not k.lower().startswith("webhook-")}
    forged: dict[str, tuple[bytes, dict[str, str], str]] = {
        "tampered body, captured headers": (
            body.replace(b"Hello", b"Jello"), headers, "invalid_signature"),
        "captured signature, later timestamp": (
            body, {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)},
            "invalid_signature"),
        "signed with another secret": (
            fresh, signed(fresh, "not-the-secret", message_id="evt_forged_fresh"),
            "invalid_signature"),
        "X-ClawBook-Signature alone (replay stripped of the standard headers)": (
            body, seed_only, "invalid_signature"),
        "no signature at all": (fresh, {"Content-Type": "application/json"},
                                "invalid_signature"),
        "genuinely signed an hour ago": (
            new_event("evt_stale"), signed(new_event("evt_stale"), message_id="evt_stale",
                                           timestamp=now - 3600), "stale_timestamp"),
        "genuinely signed for an hour from now": (
            new_event("evt_future"), signed(new_event("evt_future"), message_id="evt_future",
                                            timestamp=now + 3600), "stale_timestamp"),
    }
    answers = {name: post(app_receiver.url(), data, sent)
               for name, (data, sent, _) in forged.items()}
    for name, (status, answer) in answers.items():
        assert (status, app_receiver.error_code(answer)) == (401, forged[name][2]), (
            name, answer)
    assert app_receiver.handled().count(event_id) == 1
    assert not {"evt_forged_fresh", "evt_stale", "evt_future"} & set(app_receiver.handled())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_captured_delivery_replayed_after_the_tolerance_gets_401(
    host: Host, app_receiver: AppReceiver
) -> None:
    event_id, webhook_id = deliver(host, app_receiver)
    body, headers = sent_request(host, assert_delivered(host, event_id, webhook_id))
    # Within the tolerance the replay is a duplicate: the handler does not run again.
    signed_at = int(headers["webhook-timestamp"])
    status, answer = post(app_receiver.url(), body, headers)
    assert status == 200 and b"duplicate" in answer, (
        f"replayed {time.time() - signed_at:.1f} s after signing", status, answer)
    time.sleep(max(0.0, signed_at + TOLERANCE + 1 - time.time()))
    status, answer = post(app_receiver.url(), body, headers)
    assert (status, app_receiver.error_code(answer)) == (401, "stale_timestamp")
    assert app_receiver.runs_of(event_id) == 1


def test_a_real_delivery_from_outside_the_allowlist_gets_403_and_is_not_retried(
    host: Host, app_receiver: AppReceiver
) -> None:
    event_id, webhook_id = deliver(host, app_receiver, DEFAULT_ALLOWLIST_PATH)
    refused = delivery_of(host, event_id, webhook_id)
    assert (refused.status, refused.response_code) == (DeliveryStatus.FAILED, 403)
    assert len(refused.attempts) == 1, "a 403 is permanent: ClawBook does not retry it"
    assert "forbidden_address" in (refused.attempts[-1].response_excerpt or "")
    assert app_receiver.runs_of(event_id) == 0


def test_no_forged_request_gets_a_2xx_on_any_path(app_receiver: AppReceiver) -> None:
    body = new_event("evt_never")
    good = signed(body, message_id="evt_never")
    variants: list[tuple[bytes, dict[str, Any]]] = [
        (body, {}),
        (body, {"X-ClawBook-Signature": "sha256=" + "0" * 64}),
        (body, {"X-ClawBook-Signature": good["X-ClawBook-Signature"].upper()}),
        (body, {**good, "webhook-signature": "v1," + "A" * 44}),
        (body, {**good, "webhook-signature": "v2," + good["webhook-signature"][3:]}),
        (body, {**good, "webhook-id": "evt_other"}),
        (body + b" ", good),
        (b"", good),
        (b"not json", signed(b"not json", "guess", message_id="x")),
        (body, signed(body, SECRET + " ", message_id="evt_never")),
        (body, signed(body, "whsec_" + "A" * 32, message_id="evt_never")),
    ]
    for path, expected in (("/webhook", 401), (DEFAULT_ALLOWLIST_PATH, 403)):
        for data, headers in variants:
            status, answer = post(app_receiver.url(path), data, headers)
            assert status == expected, (path, headers, status, answer)
    assert "evt_never" not in app_receiver.handled()
