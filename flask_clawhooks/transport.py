"""One HTTP POST of a webhook: pooled keep-alive connections, guarded and time-boxed.

urllib3's pool manager is shared by every sending thread of a worker process and keeps
connections to each destination open between deliveries. Its connections are replaced
by :class:`GuardedHTTPConnection` and :class:`GuardedHTTPSConnection`, which

* resolve the host themselves and check every address against the
  :class:`~flask_clawhooks.destinations.DestinationPolicy` before connecting to exactly
  the address they checked (no DNS rebinding between check and connect), and
* hold a deadline for the whole attempt: a :class:`Watchdog` shuts the socket down when
  it passes, so a receiver that trickles its headers or body byte by byte (slowloris)
  cannot hold a sender past ``CLAWHOOKS_TIMEOUT``.

Redirects are never followed, and a response body is read only up to the excerpt size
kept for the log; response headers are capped by count.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import urllib3
from urllib3 import exceptions
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from .destinations import DestinationPolicy, DestinationRefused
from .version import __version__

USER_AGENT = f"ClawBook-Webhooks/{__version__}"

#: A response body longer than this is not drained; its connection is closed instead.
_DRAIN_LIMIT = 64 * 1024
#: Most response headers kept in the log.
MAX_RESPONSE_HEADERS = 50


@dataclass
class HttpResult:
    """What one POST produced. ``status`` is None when no response arrived."""

    status: int | None
    elapsed_ms: int
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    excerpt: str | None = None
    #: The destination is not allowed (see :mod:`flask_clawhooks.destinations`).
    refused: bool = False


class Watchdog:
    """Shuts down the sockets of requests that outlive their deadline. One thread."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Guarded, int]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="clawhooks-watchdog",
                                        daemon=True)
        self._thread.start()

    def watch(self, deadline: float, conn: _Guarded, generation: int) -> None:
        with self._wake:
            heapq.heappush(self._heap, (deadline, next(self._order), conn, generation))
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap:
                    self._wake.wait()
                deadline = self._heap[0][0]
                now = time.monotonic()
                if deadline > now:
                    self._wake.wait(deadline - now)
                    continue
                _, _, conn, generation = heapq.heappop(self._heap)
            conn._expire(generation)


class _Guarded:
    """Mixin for urllib3 connections: policy-checked connect, and an attempt deadline."""

    policy: DestinationPolicy = DestinationPolicy()
    watchdog: Watchdog
    total_timeout: float = 30.0
    _dns_host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any
    sock: socket.socket | None

    _generation = 0
    _active = False
    expired = False

    def _new_conn(self) -> socket.socket:
        try:
            infos = socket.getaddrinfo(self._dns_host, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise exceptions.NameResolutionError(self._dns_host, self, exc) from exc  # type: ignore[arg-type]
        for *_, sockaddr in infos:
            self.policy.check(str(sockaddr[0]))  # every address, before any connect
        error: OSError | None = None
        for family, kind, proto, _, sockaddr in infos:
            sock = socket.socket(family, kind, proto)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                if self.timeout is not _DEFAULT_TIMEOUT:
                    sock.settimeout(self.timeout)
                sock.connect(sockaddr)
                return sock
            except TimeoutError as exc:
                sock.close()
                raise exceptions.ConnectTimeoutError(
                    self, f"Connection to {self._dns_host} timed out"
                ) from exc
            except OSError as exc:
                sock.close()
                error = exc
        raise exceptions.NewConnectionError(
            self, f"Failed to establish a new connection: {error}"  # type: ignore[arg-type]
        )

    def begin_attempt(self) -> None:
        self._generation += 1
        self._active = True
        self.expired = False
        self.watchdog.watch(time.monotonic() + self.total_timeout, self, self._generation)

    def end_attempt(self) -> None:
        self._active = False

    def _expire(self, generation: int) -> None:
        if self._active and generation == self._generation and self.sock is not None:
            self.expired = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def request(self, *args: Any, **kwargs: Any) -> Any:
        self.begin_attempt()
        return super().request(*args, **kwargs)  # type: ignore[misc]


class GuardedHTTPConnection(_Guarded, HTTPConnection):
    pass


class GuardedHTTPSConnection(_Guarded, HTTPSConnection):
    pass


def new_pool(concurrency: int, policy: DestinationPolicy | None = None,
             timeout: float = 30.0) -> urllib3.PoolManager:
    """A pool manager whose connections enforce ``policy`` and a ``timeout`` per attempt."""
    watchdog = Watchdog()
    settings = {"policy": policy or DestinationPolicy(), "watchdog": watchdog,
                "total_timeout": timeout}
    http_conn = type("HTTPConnection", (GuardedHTTPConnection,), settings)
    https_conn = type("HTTPSConnection", (GuardedHTTPSConnection,), settings)
    manager = urllib3.PoolManager(num_pools=256, maxsize=concurrency, block=False,
                                  retries=False)
    manager.pool_classes_by_scheme = {
        "http": type("HTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
        "https": type("HTTPSConnectionPool", (HTTPSConnectionPool,),
                      {"ConnectionCls": https_conn}),
    }
    return manager


def post(
    pool: urllib3.PoolManager,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    excerpt_bytes: int,
) -> HttpResult:
    """POST ``body`` to ``url``; never raises for network trouble, which becomes ``error``."""
    started = time.perf_counter()

    def elapsed() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        response = pool.request(
            "POST", url, body=body, headers=headers,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            redirect=False, retries=False, preload_content=False,
        )
    except DestinationRefused as exc:
        return HttpResult(status=None, elapsed_ms=elapsed(), error=str(exc), refused=True)
    except HTTPError as exc:
        if elapsed() >= timeout * 1000 - 50:  # the watchdog ended it
            return HttpResult(status=None, elapsed_ms=elapsed(),
                              error=f"timeout: no answer within {timeout:g} s")
        return HttpResult(status=None, elapsed_ms=elapsed(), error=_describe(exc, timeout))
    conn = response.connection
    kept = dict(itertools.islice(response.headers.items(), MAX_RESPONSE_HEADERS))
    try:
        raw = response.read(excerpt_bytes, decode_content=False) if excerpt_bytes else b""
        remaining = response.length_remaining
        if remaining is not None and remaining <= _DRAIN_LIMIT:
            response.drain_conn()
            response.release_conn()
        else:
            response.close()
    except (HTTPError, OSError) as exc:
        response.close()
        expired = isinstance(conn, _Guarded) and conn.expired
        return HttpResult(
            status=response.status, elapsed_ms=elapsed(), headers=kept,
            error=(f"timeout: the response took longer than {timeout:g} s" if expired
                   else _describe(exc, timeout)),
        )
    finally:
        if isinstance(conn, _Guarded):
            conn.end_attempt()
    cut_off = isinstance(conn, _Guarded) and conn.expired
    return HttpResult(
        status=response.status, elapsed_ms=elapsed(), headers=kept,
        excerpt=raw.decode("utf-8", "replace"),
        error=f"timeout: the response body was cut off after {timeout:g} s" if cut_off else None,
    )


def _describe(exc: Exception, timeout: float) -> str:
    reason = getattr(exc, "reason", None) or exc
    if isinstance(exc, exceptions.MaxRetryError):
        exc = reason if isinstance(reason, Exception) else exc
    if isinstance(exc, DestinationRefused):
        return str(exc)
    # NewConnectionError subclasses ConnectTimeoutError, so it is checked first.
    if isinstance(exc, exceptions.NewConnectionError | exceptions.NameResolutionError):
        return f"connection error: {exc}"
    if isinstance(exc, exceptions.TimeoutError):
        return f"timeout: no answer within {timeout:g} s"
    if isinstance(exc, exceptions.SSLError):
        return f"TLS error: {exc}"
    return f"connection error: {exc}"
