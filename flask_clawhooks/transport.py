"""Sending webhooks: a small HTTP/1.1 client on an asyncio event loop, guarded and time-boxed.

A worker process sends every POST from one event loop in a thread of its own
(:class:`Sender`). A request in flight costs a socket and a few small objects, not a
thread, so hundreds can wait on slow receivers at once while a fast receiver is served
at the speed of the loop. The client does only what a webhook needs: one request at a
time per keep-alive connection, kept per destination between deliveries, and

* it resolves the host itself and checks every address against the
  :class:`~flask_clawhooks.destinations.DestinationPolicy` before connecting to exactly
  the address it checked, so DNS rebinding cannot slip in between check and connect;
* one deadline per attempt covers resolving, connecting, TLS, sending and the whole
  answer: a receiver that trickles its headers or body (slowloris) is cut off at
  ``CLAWHOOKS_TIMEOUT`` (at most :data:`_DEADLINE_TICK` later: the attempts whose
  deadlines fall in one tick share one timer on the loop);
* redirects are never followed; response headers are capped in size and number, and
  the body is read only up to the excerpt kept for the log, plus up to
  :data:`_DRAIN_LIMIT` bytes to keep the connection for the next request.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import math
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import httptools

from .destinations import DestinationPolicy, DestinationRefused
from .timeutil import utcnow

#: Body bytes beyond the excerpt read to keep a connection; a longer answer closes it.
_DRAIN_LIMIT = 64 * 1024
#: Most response headers kept in the log.
MAX_RESPONSE_HEADERS = 50
#: Most header lines and bytes a response may have before it counts as broken (the
#: line limit is http.client's).
_MAX_HEADER_LINES = 100
_MAX_HEAD_BYTES = 64 * 1024
#: New connections to one destination being opened at once. Further requests there wait
#: for one of them or for a connection to come free: a fast receiver gets the few
#: connections it needs, a slow one gains them as fast as they open.
_OPENING_PER_DESTINATION = 8
#: Connections open to one destination at most, by default
#: (``CLAWHOOKS_CONNECTIONS_PER_DESTINATION``); requests beyond wait for a free one.
CONNECTIONS_PER_DESTINATION = 256
#: Deadlines are rounded up to a multiple of this many seconds, and the attempts whose
#: deadlines fall in one such tick share a timer: a timer per attempt meant a push and a
#: cancel per attempt on the loop's heap of timers, whose order is Python comparisons.
_DEADLINE_TICK = 0.05
#: Seconds an unused keep-alive connection is kept.
_IDLE_SECONDS = 60.0
#: What may not appear in a request header's name or value (it would split the request).
_UNSAFE_NAME = re.compile(r"[\x00-\x20:\x7f]")

Context = TypeVar("Context")
#: Where a request goes: (TLS, host, port). The per-destination limits count these.
_Destination = tuple[bool, str, int]
#: Which idle connections a request may use: its partition (the webhook's owner) and its
#: destination. A keep-alive connection never carries requests of two owners, so one
#: owner's receiver can never slip an answer into another owner's delivery.
_PoolKey = tuple[str, bool, str, int]


@dataclass(slots=True)
class HttpResult:
    """What one POST produced. ``status`` is None when no response arrived."""

    status: int | None
    elapsed_ms: int
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    excerpt: str | None = None
    #: The destination is not allowed (see :mod:`flask_clawhooks.destinations`).
    refused: bool = False
    #: When the attempt started (UTC, naive), for the attempt's time in the log.
    started_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a URL sends to, parsed once per URL."""

    tls: bool
    host: str
    port: int
    #: The request line and Host header, ready to be followed by the other headers.
    head: bytes

    @property
    def key(self) -> _Destination:
        return (self.tls, self.host, self.port)


def _target(url: str) -> _Target:
    """Parse ``url``. Raises ValueError for one this client cannot send to."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"unsupported URL scheme {parts.scheme!r}")
    host = parts.hostname
    if not host:
        raise ValueError("the URL has no host")
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    host_ascii = host.encode("idna").decode("ascii") if not host.isascii() else host
    shown = f"[{host_ascii}]" if ":" in host_ascii else host_ascii
    if parts.port is not None and parts.port != (443 if tls else 80):
        shown = f"{shown}:{port}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if any(c <= " " or c == "\x7f" for c in path):
        raise ValueError("the URL's path holds spaces or control characters")
    head = f"POST {path} HTTP/1.1\r\nHost: {shown}\r\n".encode("ascii")
    return _Target(tls, host_ascii, port, head)


class _Job(Generic[Context]):
    """One POST on its way: the request bytes, its deadline and where it stands."""

    __slots__ = ("target", "data", "context", "pool", "started", "started_at", "tick",
                 "conn", "task", "finished")

    def __init__(self, target: _Target, data: bytes, context: Context, partition: str) -> None:
        self.target = target
        self.data = data
        self.context = context
        self.pool: _PoolKey = (partition, *target.key)
        self.started = 0.0
        self.started_at: dt.datetime | None = None
        #: The deadline's tick (see :data:`_DEADLINE_TICK`) once started.
        self.tick: int | None = None
        self.conn: _Connection | None = None
        self.task: asyncio.Task[None] | None = None
        self.finished = False


def _printable(text: str) -> str:
    """``text`` without NUL characters, which PostgreSQL cannot store in text (a receiver
    could otherwise make every record of its outcome fail)."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


class _Stop(Exception):
    """Raised from a parser callback to stop reading an answer that is complete enough."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection to a destination, running one request at a time.

    The answer is parsed by ``httptools`` (llhttp, the parser of Node.js and uvicorn) in
    its strict mode: a status line, header or framing it rejects (a bad status code, a
    bare CR or LF ending a line, obs-fold, a bad or repeated ``Content-Length``, both
    ``Content-Length`` and ``Transfer-Encoding``) makes the attempt a connection error and
    closes the connection. This class adds what a parser does not know: the caps on the
    head, the excerpt kept, and when the connection may carry another request.
    """

    def __init__(self, sender: Sender[Any], key: _PoolKey) -> None:
        self.sender = sender
        self.key = key
        self.destination: _Destination = (key[1], key[2], key[3])
        self.transport: asyncio.Transport | None = None
        self.job: _Job[Any] | None = None
        self.closed = False
        #: Holds one of its destination's places (``connections_per_destination``): the
        #: place reserved when its opening began is handed over once it is open.
        self.counted = False
        self.idle_since = 0.0
        # One parser for the connection's life: llhttp starts afresh after each complete
        # answer, and a connection whose answer it did not complete is never reused.
        self._parser = httptools.HttpResponseParser(self)
        self._status: int | None = None
        self._interim = False
        self._head_bytes = 0
        self._header_count = 0
        self._headers: dict[str, str] = {}
        self._pending: dict[str, str] = {}
        self._framing = False  # Content-Length or Transfer-Encoding seen in this head
        self._framed = False
        self._keep_alive = True
        self._message_done = False
        self._beyond = False  # bytes arrived after the answer was complete
        self._excerpt = bytearray()
        self._drained = 0  # body bytes seen beyond the excerpt

    # -- asyncio callbacks -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.sender._open_connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self.job is None:
            # An answer nobody asked for (on an idle connection, or after the answer to
            # the request it carried): the connection is not sane, never use it again.
            self.abort()
            return
        if self._status is None:
            self._head_bytes += len(data)
        try:
            self._parser.feed_data(data)
        except _Stop:
            pass
        except httptools.HttpParserUpgrade:
            self._fail("connection error: the receiver switched protocols")
            return
        except httptools.HttpParserError as exc:
            if self._message_done:  # bytes after a complete answer that are not HTTP
                self._beyond = True
            else:
                self._fail(f"connection error: the answer is not valid HTTP/1.1 ({exc})")
                return
        except Exception as exc:  # nothing a receiver sends may escape into the loop
            self._fail(f"connection error: the answer could not be read ({exc})")
            return
        if self.job is None:
            return
        if self._message_done:
            self._complete(reusable=not self._beyond)
        elif self._status is None and self._head_bytes > _MAX_HEAD_BYTES:
            self._fail(f"connection error: the response head is longer than "
                       f"{_MAX_HEAD_BYTES} bytes")
        elif self._until_close() and self._excerpt_full():
            self._complete(reusable=False)

    def eof_received(self) -> bool:
        if self.job is not None:
            if self._until_close():
                self._complete(reusable=False)
            elif self._status is None:
                self._fail("connection error: the receiver closed the connection "
                           "without an answer")
            else:
                self._fail("connection error: the receiver closed the connection "
                           "in the middle of the answer")
        self.closed = True
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.sender._forget(self)
        self.sender._open_connections.discard(self)
        self.sender._release(self)
        if self.job is not None:
            if exc is None and self._until_close():
                self._complete(reusable=False)
            else:
                reason = f": {exc}" if exc else ""
                self._fail(f"connection error: the connection was lost{reason}")

    # -- parser callbacks (httptools) ------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._status is not None:  # a trailer: not kept
            return
        self._header_count += 1
        if name.lower() in (b"content-length", b"transfer-encoding"):
            self._framing = True
        if self._header_count > _MAX_HEADER_LINES:
            raise httptools.HttpParserError(f"more than {_MAX_HEADER_LINES} response headers")
        if len(self._pending) < MAX_RESPONSE_HEADERS:
            self._pending[_printable(name.decode("latin-1"))] = _printable(
                value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        parser = self._parser
        status = parser.get_status_code()
        if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
            self._interim = True
            self._pending = {}
            self._header_count = 0
            self._framing = False
            return
        self._interim = False
        self._status = status
        self._headers = self._pending
        self._framed = self._framing
        self._keep_alive = parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        room = self.sender.excerpt_bytes - len(self._excerpt)
        if room > 0:
            self._excerpt += body[:room]
        self._drained += max(0, len(body) - max(room, 0))
        if self._excerpt_full() and self._drained > _DRAIN_LIMIT:
            # Reading on to keep the connection would cost too much: stop here.
            self._keep_alive = False
            self._message_done = True
            raise _Stop

    def on_message_begin(self) -> None:
        if self._message_done:  # a second answer to one request
            self._beyond = True
            raise _Stop

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        self._message_done = True

    # -- requests --------------------------------------------------------------------

    def send(self, job: _Job[Any]) -> None:
        self.job = job
        job.conn = self
        self._status = None
        self._interim = False
        self._head_bytes = 0
        self._header_count = 0
        self._headers = {}
        self._pending = {}
        self._framing = self._framed = False
        self._keep_alive = True
        self._message_done = False
        self._beyond = False
        self._excerpt = bytearray()
        self._drained = 0
        assert self.transport is not None
        self.transport.write(job.data)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        self.sender._release(self)

    def _fail(self, error: str) -> None:
        job, self.job = self.job, None
        self.abort()
        if job is not None:
            self.sender._finish(job, self._status, error, self._headers, self._text())

    def _complete(self, reusable: bool) -> None:
        job, self.job = self.job, None
        assert job is not None
        if not (reusable and self._keep_alive and self._message_done):
            self.abort()
        self.sender._finish(job, self._status, None, self._headers, self._text(),
                            reuse=self if not self.closed else None)

    def _until_close(self) -> bool:
        """True when the answer has neither a length nor chunks: it ends when the
        receiver closes the connection, and the connection cannot be used again."""
        return self._status is not None and not self._framed and not self._message_done

    def status_so_far(self) -> int | None:
        return self._status

    def _text(self) -> str | None:
        if self._status is None:
            return None
        return _printable(self._excerpt.decode("utf-8", "replace"))

    def _excerpt_full(self) -> bool:
        return len(self._excerpt) >= self.sender.excerpt_bytes


class Sender(Generic[Context]):
    """An event loop in a thread of its own that sends POSTs, ``concurrency`` at most at
    once; more wait in line, in the order they were handed over.

    :meth:`submit` may be called from any thread. ``on_done(context, result)`` runs on
    the loop's thread once per request, whatever happened to it; keep it short.

    :param partition: the pool a request's keep-alive connection belongs to (the
        dispatcher passes the webhook's owner): connections are reused only within one.
    :param connections_per_destination: most connections open to one (TLS, host, port)
        at once, across partitions; further requests wait for one to come free.
    """

    def __init__(self, concurrency: int, on_done: Callable[[Context, HttpResult], None], *,
                 policy: DestinationPolicy | None = None, timeout: float = 30.0,
                 excerpt_bytes: int = 4096,
                 partition: Callable[[Context], str] | None = None,
                 connections_per_destination: int = CONNECTIONS_PER_DESTINATION) -> None:
        self.concurrency = concurrency
        self.excerpt_bytes = excerpt_bytes
        self._on_done = on_done
        self._policy = policy or DestinationPolicy()
        self._timeout = timeout
        self._partition = partition
        self._per_destination = max(1, connections_per_destination)
        self._tls: ssl.SSLContext | None = None
        self._targets: dict[str, _Target] = {}
        #: Request header names already found safe to write.
        self._safe_names: set[str] = set()
        self._waiting: collections.deque[_Job[Context]] = collections.deque()
        self._active = 0
        #: Idle connections per pool, newest last, per destination, and all of them
        #: oldest first.
        self._idle: dict[_PoolKey, dict[_Connection, None]] = {}
        self._idle_at: dict[_Destination, dict[_Connection, None]] = {}
        self._idle_order: dict[_Connection, None] = {}
        self._max_idle = max(2 * concurrency, 64)
        self._open_connections: set[_Connection] = set()
        #: Connections open or being opened per destination, those being opened, and
        #: the requests waiting for one, in order.
        self._connections: dict[_Destination, int] = {}
        self._opening: dict[_Destination, int] = {}
        self._queued: dict[_Destination, collections.deque[_Job[Context]]] = {}
        self._reaper: asyncio.TimerHandle | None = None
        #: The started, unfinished requests by the tick of their deadline, in order.
        self._deadlines: dict[int, dict[_Job[Context], None]] = {}
        self._loop = asyncio.new_event_loop()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="clawhooks-sender",
                                        daemon=True)
        self._thread.start()

    # -- any thread --------------------------------------------------------------------

    def submit(self, requests: Iterable[tuple[str, bytes, dict[str, str], Context]]) -> None:
        """Queue POSTs of ``(url, body, headers, context)``."""
        jobs: list[_Job[Context]] = []
        failed: list[tuple[Context, str]] = []
        partition = self._partition
        for url, body, headers, context in requests:
            try:
                data = self._request_bytes(url, body, headers)
            except ValueError as exc:
                failed.append((context, str(exc)))
                continue
            jobs.append(_Job(self._targets[url], data, context,
                             partition(context) if partition is not None else ""))
        for context, reason in failed:
            self._on_done(context, HttpResult(status=None, elapsed_ms=0,
                                              error=f"bad request: {reason}",
                                              started_at=utcnow()))
        if jobs:
            self._loop.call_soon_threadsafe(self._accept, jobs)

    def close(self) -> None:
        """Close every connection and stop the loop; requests still in flight are cut."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._begin_close)
            self._thread.join()

    def _request_bytes(self, url: str, body: bytes, headers: dict[str, str]) -> bytes:
        target = self._targets.get(url)
        if target is None:
            if len(self._targets) > 10_000:
                self._targets.clear()
            target = self._targets[url] = _target(url)
        names = self._safe_names
        if not names.issuperset(headers):  # the same few names come again and again
            if any(not name or _UNSAFE_NAME.search(name) for name in headers):
                raise ValueError("a request header's name is empty or holds a forbidden "
                                 "character")
            if len(names) > 10_000:
                names.clear()
            names.update(headers)
        lines = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
        # Each line ends in the only CR and LF it may hold: one more in a value would
        # split the request.
        count = len(headers)
        if lines.count("\n") != count or lines.count("\r") != count or "\x00" in lines:
            raise ValueError("a request header's value holds a forbidden character")
        try:
            encoded = lines.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError("a request header is not Latin-1 text") from None
        return b"".join([target.head, encoded, b"Accept-Encoding: identity\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body), body])

    # -- the loop's thread -------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._reaper = self._loop.call_later(_IDLE_SECONDS / 2, self._reap)
        try:
            self._loop.run_forever()
        finally:
            if self._reaper is not None:
                self._reaper.cancel()
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            if pending:
                self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.run_until_complete(self._loop.shutdown_default_executor())
            self._loop.close()

    def _accept(self, jobs: list[_Job[Context]]) -> None:
        self._waiting.extend(jobs)
        self._pump()

    def _pump(self) -> None:
        while self._active < self.concurrency and self._waiting and not self._closing:
            self._start(self._waiting.popleft())

    def _start(self, job: _Job[Context]) -> None:
        loop = self._loop
        self._active += 1
        job.started = loop.time()
        job.started_at = utcnow()
        job.tick = tick = math.ceil((job.started + self._timeout) / _DEADLINE_TICK)
        due = self._deadlines.get(tick)
        if due is None:
            due = self._deadlines[tick] = {}
            loop.call_at(tick * _DEADLINE_TICK, self._expire_tick, tick)
        due[job] = None
        destination = job.target.key
        if not self._queued.get(destination):
            conn = self._take_idle(job.pool)
            if conn is not None:
                conn.send(job)
                return
        # A connection comes free or opens soon (the deadline runs meanwhile).
        self._queued.setdefault(destination, collections.deque()).append(job)
        self._admit(destination)

    def _admit(self, destination: _Destination) -> None:
        """Start the requests waiting for ``destination``, in order, as far as the
        limits allow: on an idle connection of their pool, else on a new connection
        while fewer than :data:`_OPENING_PER_DESTINATION` are being opened and fewer
        than ``connections_per_destination`` are open (closing an idle connection of
        another pool to make room)."""
        if self._closing:
            return
        while True:
            job = self._peek_queued(destination)
            if job is None:
                return
            conn = self._take_idle(job.pool)
            if conn is not None:
                self._queued[destination].popleft()
                conn.send(job)
                continue
            if self._opening.get(destination, 0) >= _OPENING_PER_DESTINATION:
                return
            if self._connections.get(destination, 0) >= self._per_destination:
                spare = self._idle_at.get(destination)
                if not spare:
                    return
                other = next(iter(spare))
                self._forget(other)
                other.abort()  # releases its place at once
                continue
            self._queued[destination].popleft()
            self._open_for(job)

    def _peek_queued(self, destination: _Destination) -> _Job[Context] | None:
        queued = self._queued.get(destination)
        while queued and queued[0].finished:  # cut by its deadline meanwhile
            queued.popleft()
        if not queued:
            self._queued.pop(destination, None)
            return None
        return queued[0]

    def _open_for(self, job: _Job[Context]) -> None:
        destination = job.target.key
        self._opening[destination] = self._opening.get(destination, 0) + 1
        self._connections[destination] = self._connections.get(destination, 0) + 1
        job.task = self._loop.create_task(self._open_and_send(job))

    def _opened(self, destination: _Destination, success: bool) -> None:
        """A connection to ``destination`` is open, or failed to open."""
        left = self._opening[destination] - 1
        if left:
            self._opening[destination] = left
        else:
            del self._opening[destination]
        if not success:
            self._uncount(destination)
        self._admit(destination)

    def _uncount(self, destination: _Destination) -> None:
        left = self._connections.get(destination, 0) - 1
        if left > 0:
            self._connections[destination] = left
        else:
            self._connections.pop(destination, None)

    def _release(self, conn: _Connection) -> None:
        """``conn`` is closed or closing: it no longer counts towards its destination's
        limit (once, however it closed)."""
        if conn.counted:
            conn.counted = False
            destination = conn.destination
            self._uncount(destination)
            if not self._closing:
                self._loop.call_soon(self._admit, destination)

    def _expire_tick(self, tick: int) -> None:
        for job in self._deadlines.pop(tick, ()):
            self._expire(job)

    def _expire(self, job: _Job[Context]) -> None:
        if job.finished:
            return
        conn, status = job.conn, None
        headers: dict[str, str] = {}
        excerpt: str | None = None
        if conn is not None and conn.job is job:
            status, headers, excerpt = conn.status_so_far(), conn._headers, conn._text()
            conn.job = None
            conn.abort()
        if job.task is not None:
            job.task.cancel()
        limit = f"{self._timeout:g} s"
        if status is None:
            self._finish(job, None, f"timeout: no answer within {limit}", {}, None)
        else:
            self._finish(job, status, f"timeout: the response body was cut off after {limit}",
                         headers, excerpt)

    def _finish(self, job: _Job[Context], status: int | None, error: str | None,
                headers: dict[str, str], excerpt: str | None, *, refused: bool = False,
                reuse: _Connection | None = None) -> None:
        if job.finished:
            return
        job.finished = True
        if job.tick is not None:
            due = self._deadlines.get(job.tick)
            if due is not None:
                due.pop(job, None)
        self._active -= 1
        loop = self._loop
        elapsed_ms = int((loop.time() - job.started) * 1000)
        if reuse is not None and not self._closing:
            destination = job.target.key
            waiting = self._peek_queued(destination)
            if waiting is not None and waiting.pool == reuse.key:
                self._queued[destination].popleft()
                reuse.send(waiting)
            else:
                self._keep_idle(reuse)
                if waiting is not None:
                    self._admit(destination)
        result = HttpResult(status, elapsed_ms, error, headers, excerpt, refused,
                            job.started_at)
        try:
            self._on_done(job.context, result)
        finally:
            self._pump()

    # -- connections -------------------------------------------------------------------

    async def _open_and_send(self, job: _Job[Context]) -> None:
        opened = False
        try:
            try:
                conn = await self._open(job)
                conn.counted = opened = True  # the place _open_for reserved is its now
            finally:
                # Not opened: give its place back (a connection object made on the way
                # and closed does not hold one, so nothing is counted twice).
                self._opened(job.target.key, opened)
        except DestinationRefused as exc:
            self._finish(job, None, str(exc), {}, None, refused=True)
            return
        except ssl.SSLError as exc:
            self._finish(job, None, f"TLS error: {exc}", {}, None)
            return
        except socket.gaierror as exc:
            self._finish(job, None, f"connection error: could not resolve "
                                    f"{job.target.host}: {exc}", {}, None)
            return
        except Exception as exc:  # OSError, or anything else the connection ran into
            self._finish(job, None, f"connection error: {exc}", {}, None)
            return
        job.task = None
        if job.finished:  # cannot happen (the deadline cancels this task), but be safe
            conn.abort()
            return
        conn.send(job)

    async def _open(self, job: _Job[Context]) -> _Connection:
        loop = self._loop
        target = job.target
        try:  # an address needs no resolver (and no thread)
            infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_NUMERICHOST)
        except socket.gaierror:
            infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        for *_, sockaddr in infos:
            self._policy.check(str(sockaddr[0]))  # every address, before any connect
        error: OSError | None = None
        for family, kind, proto, _, sockaddr in infos:
            sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                await loop.sock_connect(sock, sockaddr)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            except BaseException:
                sock.close()
                raise
            tls = self._tls_context() if target.tls else None
            try:
                _, conn = await loop.create_connection(
                    lambda: _Connection(self, job.pool), sock=sock, ssl=tls,
                    server_hostname=target.host if tls else None,
                )
            except BaseException:
                sock.close()
                raise
            return conn
        raise error or OSError(f"no address found for {target.host}")

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def _take_idle(self, pool: _PoolKey) -> _Connection | None:
        idle = self._idle.get(pool)
        while idle:
            # The newest. popitem() trims the emptied slot; next(reversed(idle)) would
            # step over every slot emptied since the dict last resized.
            conn, _ = idle.popitem()
            self._forget(conn)
            if not conn.closed and conn.transport is not None and not conn.transport.is_closing():
                return conn
            idle = self._idle.get(pool)
        return None

    def _keep_idle(self, conn: _Connection) -> None:
        conn.idle_since = self._loop.time()
        self._idle.setdefault(conn.key, {})[conn] = None
        self._idle_at.setdefault(conn.destination, {})[conn] = None
        self._idle_order[conn] = None
        while len(self._idle_order) > self._max_idle:
            oldest = next(iter(self._idle_order))
            self._forget(oldest)
            oldest.abort()

    def _forget(self, conn: _Connection) -> None:
        if self._idle_order.pop(conn, 0) is None:
            idle = self._idle.get(conn.key)
            if idle is not None:
                idle.pop(conn, None)
                if not idle:
                    del self._idle[conn.key]
            spare = self._idle_at.get(conn.destination)
            if spare is not None:
                spare.pop(conn, None)
                if not spare:
                    del self._idle_at[conn.destination]

    def _reap(self) -> None:
        cutoff = self._loop.time() - _IDLE_SECONDS
        for conn in [c for c in self._idle_order if c.idle_since < cutoff]:
            self._forget(conn)
            conn.abort()
        self._reaper = self._loop.call_later(_IDLE_SECONDS / 2, self._reap)

    def _begin_close(self) -> None:
        self._closing = True
        for conn in list(self._open_connections):  # idle ones, and any still in use
            self._forget(conn)
            conn.abort()
        for queued in list(self._queued.values()):
            for job in queued:
                self._finish(job, None, "connection error: the worker stopped", {}, None)
        self._queued.clear()
        while self._waiting:
            job = self._waiting.popleft()
            self._active += 1
            job.started = self._loop.time()
            job.started_at = utcnow()
            self._finish(job, None, "connection error: the worker stopped", {}, None)
        # Let the aborted transports run their connection_lost before the loop stops.
        self._loop.call_soon(self._loop.call_soon, self._loop.stop)
