"""Limits on what one API key or one owner may ask of a web process.

* :func:`over_limit`: requests a minute per API key (``CLAWHOOKS_API_RATE_LIMIT``), a
  fixed one-minute window counted in Redis (``INCR`` and ``EXPIRE`` in one round trip),
  shared by every web process. Past the limit the API answers ``429`` with
  ``Retry-After`` (seconds to the next window). If Redis fails, or the circuit breaker
  says it is failing, the request is let through: the limit protects the service, it
  must not take it down.
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


def over_limit(connection: redis.Redis, who: str, limit: int,
               now: float | None = None, breaker: CircuitBreaker | None = None) -> int | None:
    """Count a request of ``who``; return the seconds to wait if it is over ``limit``."""
    moment = time.time() if now is None else now
    window = int(moment // WINDOW_SECONDS)
    key = f"clawhooks:ratelimit:{who}:{window}"

    def count_request() -> int:
        with connection.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS + 5)
            count, _ = pipe.execute()
        return int(count)

    if breaker is not None:
        count = breaker.call(count_request, 0)
    else:
        try:
            count = count_request()
        except (redis.RedisError, OSError):
            log.warning("Rate limit not checked: Redis is unreachable", exc_info=True)
            return None
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
