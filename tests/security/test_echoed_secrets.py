"""A receiver that echoes a secret header value back, in every part of its answer and in
every spelling, never gets it shown anywhere: API answers, dashboard pages and the live
log, flash messages, CLI output, the failure e-mail, the worker's log and /metrics."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest

from ..api.conftest import make_api_client
from ..dashboard.conftest import csrf_token_of
from ..dashboard.conftest import dashboard as dashboard  # the fixture

#: A gateway token as an owner would add it; "/" and "+" so its spellings differ.
SECRET = "Bearer gw_Zq9xK7/echo+Leak_0123456789"
#: Pieces of it that must not appear anywhere, whole or cut.
PIECES = ["Zq9xK7", "echo+Leak", "echo%2BLeak", "0123456789", "gw_Zq9"]

Answer = Callable[[str], bytes]


def redirect(secret: str) -> bytes:
    return (f"HTTP/1.1 302 Found\r\nLocation: https://evil.example/cb?t={quote(secret)}"
            f"&raw={secret}\r\nContent-Length: 0\r\n\r\n").encode()


def status_line(secret: str) -> bytes:
    return f"XTTP/1.1 200 {secret}\r\nContent-Length: 0\r\n\r\n".encode()


def content_length(secret: str) -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {secret}\r\n\r\n".encode()


def across_the_excerpt(secret: str) -> bytes:
    body = ("x" * (4096 - len(secret) // 2) + secret + "y" * 50).encode()
    return (b"HTTP/1.1 500 Oops\r\nX-Echo: " + secret.encode() + b"\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


def json_escaped(secret: str) -> bytes:
    body = json.dumps({"you_sent": secret}).replace("/", "\\/").encode()  # PHP's way
    return (b"HTTP/1.1 503 Busy\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


ANSWERS: list[Answer] = [redirect, status_line, content_length, across_the_excerpt,
                         json_escaped]


class EchoServer:
    """Answers each request with ``answer(<the Authorization header it got>)``, then
    closes the connection."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.seen: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
                auth = next(line.split(":", 1)[1].strip() for line in head.split("\r\n")
                            if line.lower().startswith("authorization:"))
                self.seen.append(auth)
                conn.sendall(self.answer(auth))
            except (OSError, StopIteration):
                pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def echo_servers() -> Iterator[list[EchoServer]]:
    servers = [EchoServer(answer) for answer in ANSWERS]
    yield servers
    for server in servers:
        server.close()


def leaks(text: str) -> list[str]:
    return [piece for piece in PIECES if piece in text]


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[], CLAWHOOKS_METRICS_VIEW="/metrics",
                              CLAWHOOKS_FAILURE_EMAIL_INTERVAL=0)
def test_an_echoed_secret_is_in_no_answer_page_message_mail_log_or_metric(
    dashboard, echo_servers, smtp_server, caplog
):
    host = dashboard.host
    caplog.set_level(logging.DEBUG)
    mailbox, port = smtp_server
    host.configure(mail_server="127.0.0.1", mail_port=port)
    host.emails["acme"] = "ops@acme.example"
    acme = make_api_client(host, "acme")
    shown: dict[str, str] = {}

    hooks = []
    for server in echo_servers:
        created = acme.post("/webhooks", json={
            "url": server.url, "events": ["message.received"],
            "headers": [{"name": "Authorization", "value": SECRET, "secret": True}]})
        assert created.status_code == 201
        hooks.append(created.json["id"])
        shown[f"create {server.answer.__name__}"] = created.get_data(as_text=True)

    # Deliveries that fail (no retries left): attempt log, last_error, e-mails, worker log.
    host.emit("message.received", {"n": 1})
    host.work_until_settled()
    assert all(server.seen == [SECRET] for server in echo_servers)  # it was sent, echoed
    mails = mailbox.wait_for(len(hooks))

    client = dashboard.client("acme")
    for hook, server in zip(hooks, echo_servers, strict=True):
        name = server.answer.__name__
        # API: the webhook, its delivery log, one delivery with its attempts, a test send.
        shown[f"api webhook {name}"] = acme.get(f"/webhooks/{hook}").get_data(as_text=True)
        listed = acme.get(f"/webhooks/{hook}/deliveries")
        shown[f"api deliveries {name}"] = listed.get_data(as_text=True)
        delivery = listed.json["data"][0]["id"]
        one = acme.get(f"/webhooks/{hook}/deliveries/{delivery}")
        shown[f"api delivery {name}"] = one.get_data(as_text=True)
        assert one.json["attempts"][0]["error"] or one.json["attempts"][0]["response_code"]
        shown[f"api test {name}"] = acme.post(f"/webhooks/{hook}/test").get_data(as_text=True)
        # Dashboard: the page with the attempt open, the live log, Send test (JSON and
        # flash), the search page.
        page = client.get(dashboard.url(f"/{hook}?open={delivery}")).get_data(as_text=True)
        shown[f"page {name}"] = page
        shown[f"live log {name}"] = client.get(dashboard.url(f"/{hook}/log")).get_data(
            as_text=True)
        token = csrf_token_of(page)
        shown[f"send test json {name}"] = client.post(
            dashboard.url(f"/{hook}/test"), data={"csrf_token": token},
            headers={"Accept": "application/json"}).get_data(as_text=True)
        flashed = client.post(dashboard.url(f"/{hook}/test"), data={"csrf_token": token},
                              follow_redirects=True)
        shown[f"flash {name}"] = flashed.get_data(as_text=True)
        assert "flash" in shown[f"flash {name}"]
        # CLI: a test send and the delivery log.
        runner = host.app.test_cli_runner()
        shown[f"cli test {name}"] = runner.invoke(args=["clawhooks", "test", hook]).output
        shown[f"cli deliveries {name}"] = runner.invoke(
            args=["clawhooks", "deliveries", hook]).output

    shown["api search"] = acme.get("/deliveries?limit=100").get_data(as_text=True)
    shown["page search"] = client.get(dashboard.url("/search?status=failed")).get_data(
        as_text=True)
    shown["page index"] = client.get(dashboard.url("/")).get_data(as_text=True)
    shown["metrics"] = host.app.test_client().get("/metrics").get_data(as_text=True)
    for number, (_, mail) in enumerate(mails):
        shown[f"e-mail {number}"] = mail.as_string() + mail.get_body().get_content()
    shown["worker log"] = caplog.text + "".join(
        str(r.exc_info) for r in caplog.records if r.exc_info)

    found = {where: leaks(text) for where, text in shown.items() if leaks(text)}
    assert found == {}
    # And the answers were recorded, masked: the echo is there, the secret is not.
    assert "redirect to https://evil.example/cb?t=********&raw=********" in (
        shown["api delivery redirect"])
    assert "Last error: HTTP 302: redirect to https://evil.example/cb?t=********" in "".join(
        text for where, text in shown.items() if where.startswith("e-mail"))
    assert '"you_sent": "********"' in shown["api delivery json_escaped"].replace(
        '\\"', '"')
    assert "connection error: the answer is not valid HTTP/1.1" in (
        shown["api delivery status_line"])
    assert "connection error: the answer is not valid HTTP/1.1" in (
        shown["api delivery content_length"])
