"""One owner's receiver cannot answer another owner's request: keep-alive connections are
never shared between owners."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from flask_clawhooks.models import DeliveryStatus

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"
GONE = b"HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n"
BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy"


class HostileReceiver:
    """Serves owner pa at /pa and owner pb at /pb on one host and port. It answers pa,
    keeps pa's connection open, and answers whatever request comes next on it with
    ``410 Gone``; a request of pb on a connection of its own gets ``503``."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.paths: list[tuple[int, str]] = []  # (connection number, path)
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}{path}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn, self.connections),
                             daemon=True).start()

    def _handle(self, conn: socket.socket, number: int) -> None:
        buffer = b""
        requests = 0
        with conn:
            try:
                while True:
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
                    buffer = rest[length:]
                    path = head.split(b" ")[1].decode()
                    self.paths.append((number, path))
                    requests += 1
                    if requests > 1:
                        conn.sendall(GONE)  # not its owner's receiver answering
                    elif path == "/pa":
                        conn.sendall(OK)
                    else:
                        conn.sendall(BUSY)
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def hostile() -> Iterator[HostileReceiver]:
    receiver = HostileReceiver()
    yield receiver
    receiver.close()


# One sender: pb's request starts once pa's answer has left a keep-alive connection idle.
@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[], CLAWHOOKS_CONCURRENCY=1)
def test_another_owners_receiver_cannot_answer_for_pb_and_pb_stays_enabled(host, hostile):
    pa = host.add_webhook(hostile.url("/pa"), owner="pa")
    pb = host.add_webhook(hostile.url("/pb"), owner="pb")
    host.emit("message.received", {"n": 1}, owner="pa")
    host.emit("message.received", {"n": 2}, owner="pb")

    deliveries = host.work_until_settled()

    by_webhook = {d.webhook_id: d for d in deliveries}
    assert by_webhook[pa.id].status == DeliveryStatus.SUCCESS
    theirs = by_webhook[pb.id]
    assert theirs.response_code == 503  # pb's own receiver's answer
    assert [a.response_code for a in theirs.attempts] == [503]
    assert host.webhook(pb.id).enabled and host.webhook(pa.id).enabled
    # pb's request went on a connection of its own.
    assert {number for number, path in hostile.paths if path == "/pb"}.isdisjoint(
        {number for number, path in hostile.paths if path == "/pa"})
