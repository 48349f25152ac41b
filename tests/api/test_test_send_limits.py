"""Test sends are bounded per owner and in all, so one owner flooding "Send test" at a
receiver that never answers makes no other owner wait."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from flask_clawhooks.state import get_state

from ..processes import wait_for
from .conftest import make_api_client

TIMEOUT = 4.0


class HungReceiver:
    """Accepts connections, reads what is sent, never answers. Counts the connections
    open at once."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.open = 0
        self.most_open = 0
        self.accepted = 0
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.getsockname()[1]}/hook"

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with self.lock:
                self.open += 1
                self.accepted += 1
                self.most_open = max(self.most_open, self.open)
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn: socket.socket) -> None:
        with conn:
            while conn.recv(65536):  # until the sender gives up and closes
                pass
        with self.lock:
            self.open -= 1

    def close(self) -> None:
        self.stopped.set()
        self.server.close()


@pytest.fixture
def hung_receiver() -> Iterator[HungReceiver]:
    receiver = HungReceiver()
    yield receiver
    receiver.close()


def post_test(base: str, webhook_id: str, key: str) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(
        f"{base}/api/v1/webhooks/{webhook_id}/test", method="POST",
        headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), json.load(error)


@pytest.mark.clawhooks_config(CLAWHOOKS_TIMEOUT=TIMEOUT, CLAWHOOKS_CONCURRENCY=32)
def test_an_owner_flooding_test_sends_at_a_hung_receiver_makes_no_other_owner_wait(
    host, live_server, hung_receiver, receiver
):
    state = get_state(host.app)
    acme, globex = make_api_client(host, "acme"), make_api_client(host, "globex")
    flooded = acme.create_webhook(hung_receiver.url)["id"]
    healthy = globex.create_webhook(receiver.url)["id"]

    with ThreadPoolExecutor(80) as pool:
        flood = [pool.submit(post_test, live_server, flooded, acme.key) for _ in range(80)]
        wait_for(lambda: hung_receiver.accepted >= 2, 20, "acme's test sends in flight")
        started = time.monotonic()
        status, _, body = post_test(live_server, healthy, globex.key)
        took = time.monotonic() - started
        answers = [future.result() for future in flood]

    assert status == 200 and body["delivery"]["status"] == "success", body
    assert took < 3.0, f"globex's test send took {took:.2f} s"
    limited = [(headers, body) for code, headers, body in answers if code == 429]
    sent = [body for code, _, body in answers if code == 200]
    assert len(limited) + len(sent) == 80
    assert len(limited) >= 60, [code for code, _, _ in answers]
    headers, error = limited[0]
    assert error["error"]["code"] == "too_many_requests"
    assert "test send" in error["error"]["message"]
    assert int(headers["Retry-After"]) == TIMEOUT
    assert hung_receiver.most_open <= state.settings.test_send_limit_per_owner == 2
    assert all(b["delivery"]["status"] == "pending" for b in sent)  # timed out: retried later
    print(f"\nglobex's test send answered in {took * 1000:.0f} ms while acme flooded: "
          f"{len(sent)} of acme's 80 sent, {len(limited)} answered 429")


@pytest.mark.clawhooks_config(CLAWHOOKS_TEST_SEND_LIMIT=3, CLAWHOOKS_TEST_SEND_LIMIT_PER_OWNER=3)
def test_the_process_wide_limit_refuses_any_owner_once_reached(host, receiver):
    state = get_state(host.app)
    globex = make_api_client(host, "globex")
    webhook = globex.create_webhook(receiver.url)["id"]
    with state.test_sends.slot("acme"), state.test_sends.slot("acme"), \
            state.test_sends.slot("initech"):
        refused = globex.post(f"/webhooks/{webhook}/test")
    assert refused.status_code == 429
    assert "on this server" in refused.json["error"]["message"]
    assert receiver.requests == []  # refused before anything was recorded or sent
    assert globex.get(f"/webhooks/{webhook}/deliveries").json["data"] == []
    sent = globex.post(f"/webhooks/{webhook}/test")  # the slots are free again
    assert sent.status_code == 200 and sent.json["delivery"]["status"] == "success"
