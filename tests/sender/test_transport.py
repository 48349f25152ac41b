"""The sender's HTTP client against real servers on loopback: keep-alive, the shapes of
answers receivers give, requests it refuses to write, TLS, and many requests in flight."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from flask_clawhooks.destinations import DestinationPolicy
from flask_clawhooks.models import DeliveryStatus
from flask_clawhooks.transport import CONNECTIONS_PER_DESTINATION, HttpResult, Sender

from ..fixtures import Reply

LOOPBACK = DestinationPolicy(allow_private=True)


class Server:
    """A TCP server on loopback. ``answer(request_head) -> bytes | None`` is written as
    the answer to each request (None: close the connection instead; ``close_after``:
    close it after each answer). It counts connections and keeps the requests."""

    def __init__(self, answer: Callable[[bytes], bytes | None],
                 tls: ssl.SSLContext | None = None, close_after: bool = False) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.answer = answer
        self.tls = tls
        self.close_after = close_after
        self.connections = 0
        self.open: set[socket.socket] = set()
        self.requests: list[bytes] = []
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.tls:
                conn = self.tls.wrap_socket(conn, server_side=True)
            self.open.add(conn)
            buffer = b""
            while not self.closed.is_set():
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, rest = buffer.partition(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length:")))
                while len(rest) < length:
                    rest += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + rest[:length])
                buffer = rest[length:]
                reply = self.answer(head)
                if reply is None:
                    return
                conn.sendall(reply)
                if self.close_after:
                    return
        except (OSError, ssl.SSLError):
            pass
        finally:
            self.open.discard(conn)
            conn.close()

    def close(self) -> None:
        self.closed.set()
        self.sock.close()


@pytest.fixture
def server() -> Iterator[Callable[..., Server]]:
    made: list[Server] = []

    def make(answer: Callable[[bytes], bytes | None], **kwargs: object) -> Server:
        made.append(Server(answer, **kwargs))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for one in made:
        one.close()


def post_all(requests: list[tuple[str, dict[str, str]]], *, concurrency: int = 8,
             timeout: float = 5.0, policy: DestinationPolicy = LOOPBACK,
             **options: Any) -> list[HttpResult]:
    """POST each ``(url, headers)`` through one :class:`Sender`; results in order."""
    results: dict[int, HttpResult] = {}
    done = threading.Event()

    def on_done(index: int, result: HttpResult) -> None:
        results[index] = result
        if len(results) == len(requests):
            done.set()

    sender: Sender[int] = Sender(concurrency, on_done, policy=policy, timeout=timeout,
                                 excerpt_bytes=4096, **options)
    try:
        sender.submit((url, b'{"n":%d}' % n, headers, n)
                      for n, (url, headers) in enumerate(requests))
        assert done.wait(timeout + 10), "not every request finished"
    finally:
        sender.close()
    return [results[n] for n in range(len(requests))]


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"


def test_one_keep_alive_connection_carries_request_after_request(server):
    receiver = server(lambda head: OK)

    results = post_all([(receiver.url, {})] * 20, concurrency=1)

    assert [(r.status, r.excerpt, r.error) for r in results] == [(200, "OK", None)] * 20
    assert (receiver.connections, len(receiver.requests)) == (1, 20)


def test_the_request_carries_the_body_its_length_and_the_headers_given(server):
    receiver = server(lambda head: OK)

    post_all([(receiver.url, {"X-ClawBook-Event": "message.received"})])

    [request] = receiver.requests
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /hook HTTP/1.1"
    assert f"Host: 127.0.0.1:{receiver.sock.getsockname()[1]}".encode() in lines
    assert b"X-ClawBook-Event: message.received" in lines
    assert b"Content-Length: 7" in lines and body == b'{"n":0}'


@pytest.mark.parametrize(("answer", "excerpt"), [
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Trailer: t\r\n\r\n", "abcdefg"),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nnew",
     "new"),
    (b"HTTP/1.1 204 No Content\r\n\r\n", ""),
], ids=["chunked", "100-continue", "204"])
def test_answers_of_every_framing_are_read_and_the_connection_kept(server, answer, excerpt):
    receiver = server(lambda head: answer)

    first, second = post_all([(receiver.url, {})] * 2, concurrency=1)

    assert first.excerpt == second.excerpt == excerpt and first.error is None
    assert first.status in (200, 201, 204)
    assert receiver.connections == 1


def test_an_answer_without_a_length_is_read_until_the_receiver_closes(server):
    receiver = server(lambda head: b"HTTP/1.1 200 OK\r\n\r\nall of it", close_after=True)

    first, second = post_all([(receiver.url, {})] * 2, concurrency=1)

    assert (first.status, first.excerpt, first.error) == (200, "all of it", None)
    assert second.excerpt == "all of it"
    assert receiver.connections == 2  # such a connection cannot be used again


def test_nul_characters_in_an_answer_body_are_replaced_so_any_database_can_store_them(
    host, receiver
):
    receiver.default = Reply(200, body=b"O\x00K")
    host.add_webhook(receiver.url)
    host.emit("message.received", {"n": 1})

    [delivery] = host.work_until_settled()

    [attempt] = delivery.attempts
    assert delivery.status == DeliveryStatus.SUCCESS
    assert attempt.response_excerpt == "O\ufffdK"


def test_a_nul_in_a_response_header_makes_the_answer_a_connection_error(server):
    # RFC 9110 5.5: a recipient must reject a field value holding NUL (or replace it);
    # the strict parser rejects it.
    receiver = server(lambda head: b"HTTP/1.1 200 OK\r\nX-Odd: a\x00b\r\n"
                                   b"Content-Length: 2\r\n\r\nOK")

    [result] = post_all([(receiver.url, {})])

    assert result.status is None
    assert result.error.startswith("connection error: the answer is not valid HTTP/1.1")


@pytest.mark.parametrize("headers", [
    {"X-Evil": "a\r\nX-Injected: 1"},
    {"X-Evil\r\nX-Injected": "1"},
    {"X Evil": "1"},
    {"X-Evil": "nul\x00"},
    {"X-Evil": "lone\rcr"},
    {"X-Evil": "lone\nlf"},
    {"X-Evil:": "1"},
    {"": "1"},
    {"X-Good": "1", "X-Evil": "a\r\n\r\nGET / HTTP/1.1"},
], ids=["value-crlf", "name-crlf", "name-space", "value-nul", "value-cr", "value-lf",
        "name-colon", "name-empty", "second-value-crlf"])
def test_a_header_that_would_split_the_request_is_never_written(server, headers):
    receiver = server(lambda head: OK)

    [result] = post_all([(receiver.url, headers)])

    assert result.status is None and result.error.startswith("bad request: ")
    assert receiver.requests == []


def test_a_header_name_already_sent_is_still_refused_with_a_value_that_would_split(server):
    receiver = server(lambda head: OK)

    good, evil = post_all([(receiver.url, {"X-Tenant": "a"}),
                           (receiver.url, {"X-Tenant": "a\r\nX-Injected: 1"})])

    assert good.status == 200
    assert evil.status is None and evil.error.startswith("bad request: ")
    assert len(receiver.requests) == 1 and b"X-Injected" not in receiver.requests[0]


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nOK",
    b"SMTP ready\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
], ids=["two-lengths", "not-http", "bad-length", "bad-chunk"])
def test_an_answer_that_is_not_http_is_a_connection_error(server, answer):
    receiver = server(lambda head: answer)

    [result] = post_all([(receiver.url, {})])

    assert result.error is not None and result.error.startswith("connection error: ")


def test_a_receiver_that_closes_without_answering_is_a_connection_error(server):
    receiver = server(lambda head: None)

    [result] = post_all([(receiver.url, {})])

    assert result.status is None
    assert result.error.startswith("connection error: the receiver closed the connection")


def test_hundreds_of_requests_wait_on_a_slow_receiver_at_once_on_one_thread(server):
    release = threading.Event()
    started = threading.Event()
    waiting = []

    def slow(head: bytes) -> bytes:
        waiting.append(head)
        if len(waiting) == 200:
            started.set()
        release.wait(10)
        return OK

    receiver = server(slow)
    threads_before = threading.active_count()
    results: list[HttpResult] = []
    runner = threading.Thread(
        target=lambda: results.extend(post_all([(receiver.url, {})] * 200, concurrency=200,
                                               connections_per_destination=200))
    )
    runner.start()
    try:
        assert started.wait(15), f"only {len(waiting)} requests arrived at once"
        # 200 in flight: the server has a thread for each; the sender has its loop.
        assert threading.active_count() - threads_before - 200 <= 4
    finally:
        release.set()
        runner.join()
    assert [r.status for r in results] == [200] * 200


def test_the_deadline_covers_connecting_too():
    # A listener whose accept queue is full: Linux drops further SYNs, so a connection
    # hangs until the attempt's deadline.
    full = socket.socket()
    full.bind(("127.0.0.1", 0))
    full.listen(0)
    fillers = []
    try:
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(full.getsockname())
            fillers.append(filler)
        url = f"http://127.0.0.1:{full.getsockname()[1]}/hook"
        [result] = post_all([(url, {})], timeout=1.0)
    finally:
        for filler in fillers:
            filler.close()
        full.close()
    assert result.error == "timeout: no answer within 1 s"
    assert 900 <= result.elapsed_ms <= 2500


def _self_signed(tmp_path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


def test_tls_certificates_are_verified(server, tmp_path):
    receiver = server(lambda head: OK, tls=_self_signed(tmp_path))

    [result] = post_all([(receiver.url, {})])

    assert result.status is None
    assert result.error.startswith("TLS error: ") and "certificate" in result.error
    assert receiver.requests == []


def test_a_refused_destination_is_never_connected_to(server):
    receiver = server(lambda head: OK)

    [result] = post_all([(receiver.url, {})], policy=DestinationPolicy())

    assert result.refused and result.error.startswith("destination refused: 127.0.0.1")
    assert receiver.connections == 0


def test_a_burst_to_a_fast_receiver_never_opens_a_connection_per_request(server):
    receiver = server(lambda head: OK)

    results = post_all([(receiver.url, {})] * 300, concurrency=300)

    assert [r.status for r in results] == [200] * 300
    # Eight connections are opened at a time and requests wait for a free one rather
    # than each opening its own; on a quiet machine a fast receiver gets a few dozen.
    # How many depends on how fast it answers (a loaded machine answers slowly), but
    # never more than the cap.
    assert receiver.connections <= CONNECTIONS_PER_DESTINATION < 300, receiver.connections


# -- the strict parser (httptools / llhttp) and what it does to the connection ---------


@pytest.mark.parametrize("answer", [
    b"\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n",
    b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n",
    b"XTTP/1.1 200 Bearer-secret-in-the-status-line\r\n\r\n",
], ids=["empty-head", "superscript-length", "status-2000", "bare-cr", "obs-fold",
        "bad-status-line"])
def test_a_head_the_parser_rejects_is_a_connection_error_without_a_traceback(
    server, caplog, answer
):
    caplog.set_level("DEBUG")
    receiver = server(lambda head: answer, close_after=True)

    [result] = post_all([(receiver.url, {})])

    assert result.status is None
    assert result.error is not None and result.error.startswith("connection error: ")
    assert "secret" not in result.error
    assert not [r for r in caplog.records if r.exc_info or r.levelname in ("ERROR",
                                                                            "CRITICAL")]


def test_an_answer_with_both_length_and_chunks_is_refused_and_its_connection_closed(server):
    answer = (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"2\r\nOK\r\n0\r\n\r\n")
    receiver = server(lambda head: answer)

    first, second = post_all([(receiver.url, {})] * 2, concurrency=1)

    assert first.error is not None and first.error.startswith("connection error: ")
    assert second.error is not None
    assert receiver.connections == 2  # the first connection was not used again


def test_bytes_beyond_a_complete_answer_close_the_connection(server):
    sent = iter([OK + b"HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n", OK])
    receiver = server(lambda head: next(sent))

    first, second = post_all([(receiver.url, {})] * 2, concurrency=1)

    assert (first.status, second.status) == (200, 200)
    assert receiver.connections == 2


def test_bytes_arriving_on_an_idle_connection_close_it(server):
    unsolicited = threading.Event()

    receiver = server(lambda head: OK)
    results: dict[int, HttpResult] = {}
    done = {0: threading.Event(), 1: threading.Event()}

    def on_done(index: int, result: HttpResult) -> None:
        results[index] = result
        done[index].set()

    sender: Sender[int] = Sender(1, on_done, policy=LOOPBACK, timeout=5.0)
    try:
        sender.submit([(receiver.url, b"{}", {}, 0)])
        assert done[0].wait(10)
        # The receiver writes an answer nobody asked for on the idle connection.
        [idle] = list(sender._open_connections)
        _poke(receiver, b"HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n", unsolicited)
        assert unsolicited.wait(10)
        deadline = time.monotonic() + 10
        while not idle.closed and time.monotonic() < deadline:
            time.sleep(0.01)
        assert idle.closed
        sender.submit([(receiver.url, b"{}", {}, 1)])
        assert done[1].wait(10)
    finally:
        sender.close()
    assert (results[0].status, results[1].status) == (200, 200)
    assert receiver.connections == 2


def _poke(receiver: Server, data: bytes, sent: threading.Event) -> None:
    """Write ``data`` on every connection the receiver has open (unasked)."""
    for conn in list(receiver.open):
        try:
            conn.sendall(data)
        except OSError:
            pass
    sent.set()


def test_keep_alive_connections_are_never_shared_between_owners(server):
    receiver = server(lambda head: OK)
    owners = ["pa", "pb", "pa", "pb", "pa"]
    results: dict[int, HttpResult] = {}
    finished = threading.Semaphore(0)

    def on_done(index: int, result: HttpResult) -> None:
        results[index] = result
        finished.release()

    sender: Sender[int] = Sender(1, on_done, policy=LOOPBACK, timeout=5.0,
                                 partition=lambda index: owners[index])
    try:
        for index in range(len(owners)):  # one after the other
            sender.submit([(receiver.url, b"{}", {}, index)])
            assert finished.acquire(timeout=10)
    finally:
        sender.close()
    assert [results[i].status for i in range(len(owners))] == [200] * len(owners)
    assert receiver.connections == 2  # one per owner, each kept for its next request


def test_requests_beyond_the_connection_cap_wait_for_a_free_connection(server):
    release = threading.Event()
    arrived = []

    def slow(head: bytes) -> bytes:
        arrived.append(head)
        release.wait(5)
        return OK

    receiver = server(slow)
    results: list[HttpResult] = []
    runner = threading.Thread(target=lambda: results.extend(
        post_all([(receiver.url, {})] * 20, concurrency=20,
                 connections_per_destination=4)))
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while len(arrived) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # room for more to arrive, were the cap not kept
        assert (receiver.connections, len(arrived)) == (4, 4)
    finally:
        release.set()
        runner.join()
    assert [r.status for r in results] == [200] * 20
    assert receiver.connections == 4
