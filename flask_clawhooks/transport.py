"""Sending webhooks: a small HTTP/1.1 client on an asyncio event loop, guarded and time-boxed.

A worker process sends every POST from one event loop in a thread of its own
(:class:`Sender`). A request in flight costs a socket and a few small objects, not a
thread, so hundreds can wait on slow receivers at once while a fast receiver is served
at the speed of the loop. The client does only what a webhook needs: one request at a
time per keep-alive connection, kept per destination between deliveries, and

* it resolves the host itself and checks every address against the
  :class:`~flask_clawhooks.destinations.DestinationPolicy` before connecting to exactly
  the address it checked, so DNS rebinding cannot slip in between check and connect;
* one deadline per attempt, a timer on the loop, covers resolving, connecting, TLS,
  sending and the whole answer: a receiver that trickles its headers or body
  (slowloris) is cut off at ``CLAWHOOKS_TIMEOUT``;
* redirects are never followed; response headers are capped in size and number, and
  the body is read only up to the excerpt kept for the log, plus up to
  :data:`_DRAIN_LIMIT` bytes to keep the connection for the next request.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

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
#: Seconds an unused keep-alive connection is kept.
_IDLE_SECONDS = 60.0
#: What may not appear in a request header's name or value (it would split the request).
_UNSAFE_NAME = re.compile(r"[\x00-\x20:\x7f]")
_UNSAFE_VALUE = re.compile(r"[\r\n\x00]")

Context = TypeVar("Context")


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
    def key(self) -> tuple[bool, str, int]:
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

    __slots__ = ("target", "data", "context", "started", "started_at", "timer", "conn",
                 "task", "finished")

    def __init__(self, target: _Target, data: bytes, context: Context) -> None:
        self.target = target
        self.data = data
        self.context = context
        self.started = 0.0
        self.started_at: dt.datetime | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.conn: _Connection | None = None
        self.task: asyncio.Task[None] | None = None
        self.finished = False


def _printable(text: str) -> str:
    """``text`` without NUL characters, which PostgreSQL cannot store in text (a receiver
    could otherwise make every record of its outcome fail)."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


class _Broken(Exception):
    """The receiver's answer cannot be read as HTTP/1.1."""


# Parser states of a connection.
_HEAD, _FIXED, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILER, _UNTIL_CLOSE = range(7)


class _Connection(asyncio.Protocol):
    """One keep-alive connection to a destination, running one request at a time."""

    def __init__(self, sender: Sender[Any], key: tuple[bool, str, int]) -> None:
        self.sender = sender
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.job: _Job[Any] | None = None
        self.closed = False
        self.idle_since = 0.0
        self._buffer = bytearray()
        self._state = _HEAD
        self._status: int | None = None
        self._headers: dict[str, str] = {}
        self._keep_alive = True
        self._remaining = 0  # bytes left of a fixed-length body or of the current chunk
        self._excerpt = bytearray()
        self._drained = 0  # body bytes seen beyond the excerpt

    # -- asyncio callbacks -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.sender._open_connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self.job is None:  # an answer nobody asked for: the connection is not sane
            self.abort()
            return
        self._buffer += data
        try:
            self._parse()
        except _Broken as exc:
            self._fail(f"connection error: {exc}")

    def eof_received(self) -> bool:
        if self.job is not None:
            if self._state == _UNTIL_CLOSE:
                self._complete(reusable=False)
            elif self._state == _HEAD:
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
        if self.job is not None:
            if exc is None and self._state == _UNTIL_CLOSE:
                self._complete(reusable=False)
            else:
                reason = f": {exc}" if exc else ""
                self._fail(f"connection error: the connection was lost{reason}")

    # -- requests --------------------------------------------------------------------

    def send(self, job: _Job[Any]) -> None:
        self.job = job
        job.conn = self
        self._state = _HEAD
        self._status = None
        self._headers = {}
        self._excerpt = bytearray()
        self._drained = 0
        self._buffer.clear()
        assert self.transport is not None
        self.transport.write(job.data)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, error: str) -> None:
        job, self.job = self.job, None
        self.abort()
        if job is not None:
            self.sender._finish(job, self._status, error, self._headers, self._text())

    def _complete(self, reusable: bool) -> None:
        job, self.job = self.job, None
        assert job is not None
        if not (reusable and self._keep_alive and not self._buffer):
            self.abort()
        self.sender._finish(job, self._status, None, self._headers, self._text(),
                            reuse=self if not self.closed else None)

    def status_so_far(self) -> int | None:
        return self._status

    def _text(self) -> str | None:
        if self._status is None:
            return None
        return _printable(self._excerpt.decode("utf-8", "replace"))

    # -- the answer ------------------------------------------------------------------

    def _parse(self) -> None:
        buffer = self._buffer
        while self.job is not None:
            state = self._state
            if state == _HEAD:
                if not self._parse_head():
                    return
            elif state == _FIXED:
                if not buffer:
                    return
                take = min(self._remaining, len(buffer))
                self._take_body(take)
                self._remaining -= take
                if self._remaining == 0:
                    self._complete(reusable=True)
                elif self._beyond_drain_limit(self._remaining):
                    self._complete(reusable=False)
                return
            elif state == _UNTIL_CLOSE:
                if buffer:
                    self._take_body(len(buffer))
                if self._excerpt_full():
                    self._complete(reusable=False)
                return
            elif state == _CHUNK_SIZE:
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > 4096:
                        raise _Broken("a chunk size line is too long")
                    return
                size_text = bytes(buffer[:end]).split(b";", 1)[0].strip()
                del buffer[:end + 2]
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise _Broken("bad chunk size") from None
                if size < 0:
                    raise _Broken("bad chunk size")
                if size == 0:
                    self._state = _TRAILER
                else:
                    self._remaining = size
                    self._state = _CHUNK_DATA
            elif state == _CHUNK_DATA:
                if not buffer:
                    return
                take = min(self._remaining, len(buffer))
                self._take_body(take)
                self._remaining -= take
                if self._beyond_drain_limit(0):
                    self._complete(reusable=False)
                    return
                if self._remaining == 0:
                    self._state = _CHUNK_END
            elif state == _CHUNK_END:
                if len(buffer) < 2:
                    return
                if buffer[:2] != b"\r\n":
                    raise _Broken("a chunk does not end with CRLF")
                del buffer[:2]
                self._state = _CHUNK_SIZE
            elif state == _TRAILER:
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > _MAX_HEAD_BYTES:
                        raise _Broken("the trailer is too long")
                    return
                del buffer[:end + 2]
                if end == 0:
                    self._complete(reusable=True)
                    return

    def _parse_head(self) -> bool:
        buffer = self._buffer
        end, skip = buffer.find(b"\r\n\r\n"), 4
        if end < 0:
            end, skip = buffer.find(b"\n\n"), 2
        if end < 0:
            if len(buffer) > _MAX_HEAD_BYTES:
                raise _Broken(f"the response head is longer than {_MAX_HEAD_BYTES} bytes")
            return False
        if end > _MAX_HEAD_BYTES:
            raise _Broken(f"the response head is longer than {_MAX_HEAD_BYTES} bytes")
        lines = bytes(buffer[:end]).splitlines()
        del buffer[:end + skip]
        version, _, rest = lines[0].partition(b" ")
        code = rest[:3]
        if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise _Broken(f"bad status line {lines[0][:100]!r}")
        status = int(code)
        if len(lines) - 1 > _MAX_HEADER_LINES:
            raise _Broken(f"more than {_MAX_HEADER_LINES} response headers")
        kept: dict[str, str] = {}
        length: int | None = None
        chunked = False
        keep_alive = version == b"HTTP/1.1"
        for line in lines[1:]:
            raw_name, colon, raw_value = line.partition(b":")
            if not colon:
                continue
            name = _printable(raw_name.strip().decode("latin-1"))
            value = _printable(raw_value.strip().decode("latin-1"))
            lower = name.lower()
            if lower == "content-length":
                if not value.isdigit() or (length is not None and int(value) != length):
                    raise _Broken(f"bad Content-Length {value[:40]!r}")
                length = int(value)
            elif lower == "transfer-encoding":
                chunked = value.lower().rsplit(",", 1)[-1].strip() == "chunked"
            elif lower == "connection":
                tokens = value.lower()
                if "close" in tokens:
                    keep_alive = False
                elif "keep-alive" in tokens:
                    keep_alive = True
            if len(kept) < MAX_RESPONSE_HEADERS:
                kept[name] = value
        if 100 <= status < 200:
            if status == 101:
                raise _Broken("the receiver switched protocols")
            return True  # an interim answer (100 Continue): the real one follows
        self._status = status
        self._headers = kept
        self._keep_alive = keep_alive
        if status in (204, 304):
            self._complete(reusable=True)
        elif chunked:
            self._state = _CHUNK_SIZE
        elif length is not None:
            self._remaining = length
            self._state = _FIXED
            if length == 0:
                self._complete(reusable=True)
            elif self._beyond_drain_limit(length):
                self._complete(reusable=False)
        else:
            self._keep_alive = False
            self._state = _UNTIL_CLOSE
            if self._excerpt_full():
                self._complete(reusable=False)
        return True

    def _take_body(self, count: int) -> None:
        buffer = self._buffer
        room = self.sender.excerpt_bytes - len(self._excerpt)
        if room > 0:
            self._excerpt += buffer[:min(room, count)]
        self._drained += max(0, count - max(room, 0))
        del buffer[:count]

    def _excerpt_full(self) -> bool:
        return len(self._excerpt) >= self.sender.excerpt_bytes

    def _beyond_drain_limit(self, still_to_come: int) -> bool:
        """True once the excerpt is complete and reading on for the sake of keeping the
        connection would cost more than :data:`_DRAIN_LIMIT` bytes."""
        if not self._excerpt_full():
            return False
        return self._drained + still_to_come > _DRAIN_LIMIT


class Sender(Generic[Context]):
    """An event loop in a thread of its own that sends POSTs, ``concurrency`` at most at
    once; more wait in line, in the order they were handed over.

    :meth:`submit` may be called from any thread. ``on_done(context, result)`` runs on
    the loop's thread once per request, whatever happened to it; keep it short.
    """

    def __init__(self, concurrency: int, on_done: Callable[[Context, HttpResult], None], *,
                 policy: DestinationPolicy | None = None, timeout: float = 30.0,
                 excerpt_bytes: int = 4096) -> None:
        self.concurrency = concurrency
        self.excerpt_bytes = excerpt_bytes
        self._on_done = on_done
        self._policy = policy or DestinationPolicy()
        self._timeout = timeout
        self._tls: ssl.SSLContext | None = None
        self._targets: dict[str, _Target] = {}
        self._waiting: collections.deque[_Job[Context]] = collections.deque()
        self._active = 0
        #: Idle connections per destination, newest last, and all of them oldest first.
        self._idle: dict[tuple[bool, str, int], dict[_Connection, None]] = {}
        self._idle_order: dict[_Connection, None] = {}
        self._max_idle = max(2 * concurrency, 64)
        self._open_connections: set[_Connection] = set()
        #: Connections being opened per destination, and requests waiting for one.
        self._opening: dict[tuple[bool, str, int], int] = {}
        self._queued: dict[tuple[bool, str, int], collections.deque[_Job[Context]]] = {}
        self._reaper: asyncio.TimerHandle | None = None
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
        for url, body, headers, context in requests:
            try:
                data = self._request_bytes(url, body, headers)
            except ValueError as exc:
                failed.append((context, str(exc)))
                continue
            jobs.append(_Job(self._targets[url], data, context))
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
        if _UNSAFE_NAME.search("".join(headers)) or _UNSAFE_VALUE.search(
            "".join(headers.values())
        ):
            raise ValueError("a request header's name or value holds a forbidden character")
        lines = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
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
        job.timer = loop.call_at(job.started + self._timeout, self._expire, job)
        key = job.target.key
        conn = self._take_idle(key)
        if conn is not None:
            conn.send(job)
        elif self._opening.get(key, 0) < _OPENING_PER_DESTINATION:
            self._open_for(job)
        else:  # a connection comes free or opens soon (the deadline runs meanwhile)
            self._queued.setdefault(key, collections.deque()).append(job)

    def _open_for(self, job: _Job[Context]) -> None:
        key = job.target.key
        self._opening[key] = self._opening.get(key, 0) + 1
        job.task = self._loop.create_task(self._open_and_send(job))

    def _opened(self, key: tuple[bool, str, int]) -> None:
        """A connection to ``key`` is open, or failed to: open one for the next request
        waiting there, if any."""
        left = self._opening[key] - 1
        if left:
            self._opening[key] = left
        else:
            del self._opening[key]
        job = self._next_queued(key)
        if job is not None:
            self._open_for(job)

    def _next_queued(self, key: tuple[bool, str, int]) -> _Job[Context] | None:
        queued = self._queued.get(key)
        job = None
        while queued and job is None:
            candidate = queued.popleft()
            if not candidate.finished:  # not cut by its deadline meanwhile
                job = candidate
        if not queued:
            self._queued.pop(key, None)
        return job

    def _expire(self, job: _Job[Context]) -> None:
        job.timer = None
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
        if job.timer is not None:
            job.timer.cancel()
            job.timer = None
        self._active -= 1
        loop = self._loop
        elapsed_ms = int((loop.time() - job.started) * 1000)
        if reuse is not None and not self._closing:
            waiting = self._next_queued(reuse.key)
            if waiting is not None:
                reuse.send(waiting)
            else:
                self._keep_idle(reuse)
        result = HttpResult(status, elapsed_ms, error, headers, excerpt, refused,
                            job.started_at)
        try:
            self._on_done(job.context, result)
        finally:
            self._pump()

    # -- connections -------------------------------------------------------------------

    async def _open_and_send(self, job: _Job[Context]) -> None:
        try:
            try:
                conn = await self._open(job.target)
            finally:
                self._opened(job.target.key)
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

    async def _open(self, target: _Target) -> _Connection:
        loop = self._loop
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
                    lambda: _Connection(self, target.key), sock=sock, ssl=tls,
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

    def _take_idle(self, key: tuple[bool, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            conn, _ = idle.popitem()
            self._idle_order.pop(conn, None)
            if not conn.closed and conn.transport is not None and not conn.transport.is_closing():
                return conn
        return None

    def _keep_idle(self, conn: _Connection) -> None:
        conn.idle_since = self._loop.time()
        self._idle.setdefault(conn.key, {})[conn] = None
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
