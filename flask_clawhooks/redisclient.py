"""Redis clients: the URL forms ``CLAWHOOKS_REDIS_URL`` takes (Sentinel included), and
the circuit breaker that keeps a hung Redis off the host's request path.

Two clients are made from one URL (see :class:`~flask_clawhooks.extension.State`):

* the *worker* client, for ``flask clawhooks worker`` (RQ, its scheduler, the sweeper):
  ordinary timeouts, and retries of a failed command;
* the *request* client, for what runs inside the host's requests (the enqueue after a
  commit, the API's rate limit, a test send's follow-ups) and for the other commands:
  every connect and every command is bounded by ``CLAWHOOKS_REDIS_REQUEST_TIMEOUT``
  and never retried, and a :class:`CircuitBreaker` skips Redis altogether for
  ``CLAWHOOKS_REDIS_CIRCUIT_COOLDOWN`` seconds after a failure. So a hung Redis costs
  a request at most one short wait, and then nothing; what could not be queued is found
  in the database by the sweeper.

Redis Sentinel
--------------

``redis+sentinel://[[user]:password@]host[:port][,host[:port]…]/service[/db]`` names
the sentinels (port 26379 by default) and the monitored master's service name; the
clients ask the sentinels for the current master and follow it through a failover.
``?sentinel_password=…`` authenticates to the sentinels themselves when they need it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection
from redis.utils import SENTINEL

log = logging.getLogger("flask_clawhooks")

SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_PORT = 26379
#: The plain schemes redis-py's ``from_url`` takes.
PLAIN_SCHEMES = ("redis", "rediss", "unix")

T = TypeVar("T")


class RedisUrlError(ValueError):
    """``CLAWHOOKS_REDIS_URL`` is not a form this module understands."""


@dataclass(frozen=True)
class SentinelSpec:
    """A parsed ``redis+sentinel://`` URL."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None


def parse_sentinel_url(url: str) -> SentinelSpec | None:
    """The sentinels, service and database of a ``redis+sentinel://`` URL; None for a
    plain ``redis://``, ``rediss://`` or ``unix://`` URL.

    :raises RedisUrlError: naming what is wrong, for any other URL.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise RedisUrlError("it has no scheme; use redis://host:6379/0")
    scheme = scheme.lower()
    if scheme in PLAIN_SCHEMES:
        return None
    if scheme != SENTINEL_SCHEME:
        raise RedisUrlError(f"unknown scheme {scheme}://; use redis://, rediss://, unix:// "
                            f"or {SENTINEL_SCHEME}://")
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    username = password = None
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        user, has_password, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if has_password else None
    sentinels = tuple(_host_port(part) for part in netloc.split(",") if part)
    if not sentinels:
        raise RedisUrlError("name at least one sentinel, as in "
                            f"{SENTINEL_SCHEME}://127.0.0.1:26379/mymaster/0")
    parts = [unquote(p) for p in path.split("/") if p]
    if not parts or len(parts) > 2:
        raise RedisUrlError("the path must be /service or /service/db, as in "
                            f"{SENTINEL_SCHEME}://127.0.0.1:26379/mymaster/0")
    db = 0
    if len(parts) == 2:
        if not parts[1].isdigit():
            raise RedisUrlError(f"the database must be a number, got {parts[1]!r}")
        db = int(parts[1])
    options = parse_qs(query)
    unknown = set(options) - {"sentinel_password"}
    if unknown:
        raise RedisUrlError(f"unknown option {', '.join(sorted(unknown))}; "
                            "the only option is sentinel_password")
    sentinel_password = options.get("sentinel_password", [None])[-1]
    return SentinelSpec(sentinels, parts[0], db, username, password, sentinel_password)


def _host_port(text: str) -> tuple[str, int]:
    if text.startswith("["):
        host, _, port = text[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    if not host:
        raise RedisUrlError(f"a sentinel has no host: {text!r}")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise RedisUrlError(f"a sentinel's port must be a number from 1 to 65535: {text!r}")
    return host, int(port) if port else SENTINEL_PORT


def check_url(url: str) -> None:
    """Raise :class:`RedisUrlError` unless ``url`` is a URL :func:`connect` takes."""
    if parse_sentinel_url(url) is None:
        try:
            redis.connection.parse_url(url)  # type: ignore[no-untyped-call]
        except ValueError as exc:
            raise RedisUrlError(str(exc)) from None


def describe(url: str) -> str:
    """``url`` without its password, for logs and the CLI."""
    spec = parse_sentinel_url(url)
    if spec is None:
        kwargs = redis.connection.parse_url(url)  # type: ignore[no-untyped-call]
        if "path" in kwargs:
            return f"unix://{kwargs['path']}"
        return (f"redis://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/"
                f"{kwargs.get('db', 0)}")
    hosts = ",".join(f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                     for host, port in spec.sentinels)
    return f"{SENTINEL_SCHEME}://{hosts}/{spec.service}/{spec.db}"


def connect(url: str, *, timeout: float | None, connect_timeout: float,
            retries: bool) -> redis.Redis:
    """A client for ``url``; with Sentinel, one that always talks to the current master.

    :param timeout: seconds a command may take (None: no limit).
    :param connect_timeout: seconds a connection (to a sentinel too) may take.
    :param retries: retry a command that failed on a connection error (redis-py's
        default policy); without, a failure is raised at once.
    """
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": connect_timeout,
        "health_check_interval": 30,
    }
    if not retries:
        options["retry"] = Retry(NoBackoff(), 0)
    spec = parse_sentinel_url(url)
    if spec is None:
        return redis.Redis.from_url(url, **options)
    sentinel_options: dict[str, Any] = {
        "socket_timeout": connect_timeout if timeout is None else timeout,
        "socket_connect_timeout": connect_timeout,
    }
    if spec.sentinel_password is not None:
        sentinel_options["password"] = spec.sentinel_password
    if not retries:
        sentinel_options["retry"] = Retry(NoBackoff(), 0)
    # Typed as Any: redis-py annotated Sentinel in 8.2 and not before, and the same code
    # must type-check against every release our range allows.
    sentinel_class: Any = Sentinel
    manager = sentinel_class(list(spec.sentinels), sentinel_kwargs=sentinel_options, **options)
    client: redis.Redis = manager.master_for(
        spec.service, db=spec.db, username=spec.username, password=spec.password,
        connection_class=_SentinelManagedConnection)
    return client


class _SentinelManagedConnection(SentinelManagedConnection):
    """redis-py's connection to a Sentinel-managed master, except that a read cut short
    by an exception disconnects, as plain connections do.

    redis-py's leaves such a connection open (``disconnect_on_error=False``), so when a
    signal handler raises in the middle of a read (RQ's warm shutdown while the worker
    waits in ``BLPOP``), the answer stays in the socket and the next command on that
    pooled connection reads it as its own: "Wrong number of response items from
    pipeline execution", or a wait for an answer that never comes.
    """

    def read_response(self, disable_decoding: bool = False, *, timeout: Any = SENTINEL,
                      disconnect_on_error: bool | None = True,
                      push_request: bool | None = False) -> Any:
        return super().read_response(disable_decoding=disable_decoding, timeout=timeout,
                                     disconnect_on_error=disconnect_on_error,
                                     push_request=push_request)


class CircuitBreaker:
    """Skips Redis for ``cooldown`` seconds after a failure, then lets one call through.

    Thread-safe; one per app and process. While it is open, callers do without Redis
    (the enqueue leaves the deliveries to the sweeper, the rate limit lets requests
    through). The first call after the cool-down is the probe: if it fails, the breaker
    opens again; while it runs, other callers still skip Redis.
    """

    def __init__(self, cooldown: float) -> None:
        self.cooldown = cooldown
        self._open_until = 0.0
        self._failures = 0
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    @property
    def failures(self) -> int:
        """Calls that failed since Redis last answered one (0 while it answers)."""
        return self._failures

    def allow(self) -> bool:
        """Whether to call Redis now; a call allowed after a cool-down is the probe."""
        now = time.monotonic()
        with self._lock:
            if now < self._open_until:
                return False
            if self._failures:
                # The probe: others keep skipping until it answers or fails.
                self._open_until = now + self.cooldown
            return True

    def succeeded(self) -> None:
        with self._lock:
            if self._failures:
                log.warning("Redis answers again; requests use it again.")
            self._failures = 0
            self._open_until = 0.0

    def failed(self, error: BaseException) -> None:
        with self._lock:
            self._failures += 1
            self._open_until = time.monotonic() + self.cooldown
            first = self._failures == 1
        if first:
            log.warning("Redis failed in a request (%s); requests do without it for %.0f s "
                        "at a time until it answers, and the sweeper sends what they could "
                        "not queue.", error, self.cooldown)

    def call(self, function: Callable[[], T], default: T) -> T:
        """``function()``, or ``default`` if the breaker is open or Redis fails."""
        if not self.allow():
            return default
        try:
            result = function()
        except (redis.RedisError, OSError) as exc:
            self.failed(exc)
            return default
        self.succeeded()
        return result
