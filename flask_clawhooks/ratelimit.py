"""Limits on what one API key or one owner may ask of a web process.

* :func:`over_limit`: requests a minute per API key (``CLAWHOOKS_API_RATE_LIMIT``), a
  fixed one-minute window counted in Redis (``INCR`` and ``EXPIRE`` in one round trip),
  shared by every web process. Past the limit the API answers ``429`` with
  ``Retry-After`` (seconds to the next window). If Redis fails or is slow, or the
  circuit breaker says it is failing, the limit does not fail open: each process counts
  in its own :class:`LocalLimiter` instead, allowing its share of the limit
  (``CLAWHOOKS_API_RATE_LIMIT`` divided by ``CLAWHOOKS_API_RATE_LIMIT_PROCESSES``), and
  says so in the log once.
* :class:`InFlightLimiter`: test sends in flight at once per owner and in all, in this
  process (``CLAWHOOKS_TEST_SEND_LIMIT_PER_OWNER``, ``CLAWHOOKS_TEST_SEND_LIMIT``). A
  test send holds a request thread and a sender until the receiver answers or the
  attempt times out, so without a bound one owner aiming many at a receiver that never
  answers would make every other owner's test wait for a free sender.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from .redisclient import CircuitBreaker

log = logging.getLogger("flask_clawhooks")

WINDOW_SECONDS = 60


class LocalLimiter:
    """Fixed one-minute windows counted in this process: the rate limit while Redis
    cannot count. Only the current window is kept, so it holds one number per API key
    used this minute."""

    def __init__(self) -> None:
        self._window = -1
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self.active = False

    def count(self, who: str, window: int) -> int:
        with self._lock:
            if window != self._window:
                self._window = window
                self._counts.clear()
            count = self._counts.get(who, 0) + 1
            self._counts[who] = count
            return count

    def use(self, active: bool) -> None:
        """Say in the log when counting moves into this process, and back to Redis."""
        if active == self.active:
            return
        with self._lock:
            if active == self.active:
                return
            self.active = active
        if active:
            log.warning("API rate limit counted in this process: Redis is unreachable or "
                        "slow. Each process allows its share of CLAWHOOKS_API_RATE_LIMIT "
                        "until Redis answers again.")
        else:
            log.warning("API rate limit counted in Redis again.")


def over_limit(connection: redis.Redis, who: str, limit: int,
               now: float | None = None, breaker: CircuitBreaker | None = None,
               fallback: LocalLimiter | None = None, processes: int = 1) -> int | None:
    """Count a request of ``who``; return the seconds to wait if it is over ``limit``.

    :param fallback: counts instead when Redis cannot, against ``limit // processes``
        (at least 1); without one, such a request is let through.
    """
    moment = time.time() if now is None else now
    window = int(moment // WINDOW_SECONDS)
    key = f"clawhooks:ratelimit:{who}:{window}"

    def count_request() -> int:
        with connection.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS + 5)
            count, _ = pipe.execute()
        return int(count)

    count: int | None
    if breaker is not None:
        count = breaker.call(count_request, None)
    else:
        try:
            count = count_request()
        except (redis.RedisError, OSError):
            count = None
    if count is None:
        if fallback is None:
            log.warning("Rate limit not checked: Redis is unreachable")
            return None
        fallback.use(True)
        count = fallback.count(who, window)
        limit = max(1, limit // max(1, processes))
    elif fallback is not None:
        fallback.use(False)
    if count <= limit:
        return None
    return max(1, int((window + 1) * WINDOW_SECONDS - moment + 0.999))


class LimitReached(Exception):
    """The in-flight limit of an owner, or of the process, is reached."""

    def __init__(self, message: str, *, per_owner: bool) -> None:
        super().__init__(message)
        self.per_owner = per_owner


class InFlightLimiter:
    """At most ``per_owner`` calls of one owner and ``total`` in all at once.

    Refuses rather than queues: a caller over the limit learns it at once, and those
    within it never wait for a slot.
    """

    def __init__(self, per_owner: int, total: int) -> None:
        self.per_owner = per_owner
        self.total = total
        self._busy: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def in_flight(self, owner: str | None = None) -> int:
        with self._lock:
            return self._busy[owner] if owner is not None else sum(self._busy.values())

    @contextmanager
    def slot(self, owner: str) -> Iterator[None]:
        """Hold one of ``owner``'s slots for the ``with`` block.

        :raises LimitReached: if ``owner`` already has ``per_owner`` calls in flight, or
            the process ``total``.
        """
        with self._lock:
            if self._busy[owner] >= self.per_owner:
                raise LimitReached(f"{self.per_owner} test send(s) of this owner are "
                                   "still waiting for their receivers", per_owner=True)
            if sum(self._busy.values()) >= self.total:
                raise LimitReached(f"{self.total} test sends are in flight on this server",
                                   per_owner=False)
            self._busy[owner] += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy[owner] -= 1
                if not self._busy[owner]:
                    del self._busy[owner]
