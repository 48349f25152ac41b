"""Receivers that misbehave cannot hold a sender past the timeout or flood the log."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from flask_clawhooks.models import DeliveryStatus


class RawServer:
    """A TCP server on loopback whose answer is written by ``respond(conn)``."""

    def __init__(self, respond) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.respond = respond
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            self.respond(conn, self.stopped)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stopped.set()
        self.sock.close()


@pytest.fixture
def raw_server() -> Iterator:
    made = []

    def make(respond):
        made.append(RawServer(respond))
        return made[-1]

    yield make
    for server in made:
        server.close()


def trickle_headers(conn, stopped):
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
        if stopped.wait(0.1):
            return
        conn.sendall(bytes([byte]))


def trickle_body(conn, stopped):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    for _ in range(1000):
        if stopped.wait(0.1):
            return
        conn.sendall(b"x")


def huge_body(conn, stopped):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 20000000\r\n\r\n")
    chunk = b"y" * 65536
    for _ in range(305):
        conn.sendall(chunk)


def many_headers(conn, stopped):
    # http.client itself refuses more than 100 headers (a connection error, retried)
    headers = b"".join(b"X-H%d: v\r\n" % n for n in range(90))
    conn.sendall(b"HTTP/1.1 200 OK\r\n" + headers + b"Content-Length: 2\r\n\r\nOK")


@pytest.mark.clawhooks_config(CLAWHOOKS_TIMEOUT=1.0, CLAWHOOKS_RETRY_DELAYS=[])
@pytest.mark.parametrize("respond", [trickle_headers, trickle_body], ids=["headers", "body"])
def test_a_slowloris_receiver_is_cut_off_at_the_timeout(host, raw_server, respond):
    server = raw_server(respond)
    host.add_webhook(server.url)
    host.emit("message.received", {"n": 1})
    started = time.monotonic()

    [delivery] = host.work_until_settled()

    assert time.monotonic() - started < 8
    [attempt] = delivery.attempts
    assert attempt.error is not None and attempt.error.startswith("timeout"), attempt.error
    assert 900 <= attempt.response_time_ms <= 2500
    if respond is trickle_headers:
        assert delivery.status == DeliveryStatus.FAILED  # no answer: retried, none left
    else:
        # The receiver did answer 200 in time; only its body was cut off.
        assert (attempt.response_code, delivery.status) == (200, DeliveryStatus.SUCCESS)


@pytest.mark.clawhooks_config(CLAWHOOKS_TIMEOUT=5.0, CLAWHOOKS_LEASE_SECONDS=12.0,
                              CLAWHOOKS_RETRY_DELAYS=[])
def test_an_oversized_response_is_cut_to_the_excerpt_and_still_a_success(host, raw_server):
    server = raw_server(huge_body)
    host.add_webhook(server.url)
    host.emit("message.received", {"n": 1})

    [delivery] = host.work_until_settled()

    [attempt] = delivery.attempts
    assert delivery.status == DeliveryStatus.SUCCESS
    assert len(attempt.response_excerpt) == 4096 and set(attempt.response_excerpt) == {"y"}
    assert attempt.response_time_ms < 5000


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[])
def test_response_headers_are_capped_in_the_log(host, raw_server):
    server = raw_server(many_headers)
    host.add_webhook(server.url)
    host.emit("message.received", {"n": 1})

    [delivery] = host.work_until_settled()

    assert delivery.status == DeliveryStatus.SUCCESS
    assert len(delivery.attempts[0].response_headers) == 50


def empty_head(conn, stopped):
    conn.sendall(b"\r\n\r\n")  # the old parser's IndexError


def superscript_length(conn, stopped):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\nOK")  # ² in Latin-1: ValueError


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[])
@pytest.mark.parametrize("respond", [empty_head, superscript_length],
                         ids=["empty-head", "superscript-length"])
def test_heads_that_escaped_the_old_parser_are_connection_errors_with_no_traceback(
    host, raw_server, respond, caplog
):
    caplog.set_level("DEBUG")
    server = raw_server(respond)
    host.add_webhook(server.url)
    host.emit("message.received", {"n": 1})

    [delivery] = host.work_until_settled()

    [attempt] = delivery.attempts
    assert attempt.error is not None and attempt.error.startswith("connection error: ")
    assert delivery.status == DeliveryStatus.FAILED
    assert not [r for r in caplog.records if r.exc_info], "a traceback in the worker log"
    assert "Traceback" not in caplog.text
