"""Per-key request limits of the JSON API (``CLAWHOOKS_API_RATE_LIMIT``).

A fixed one-minute window counted in Redis (``INCR`` and ``EXPIRE`` in one round trip),
shared by every web process. Past the limit the API answers ``429`` with ``Retry-After``
(seconds to the next window). If Redis cannot be reached the request is let through:
the limit protects the service, it must not take it down.
"""

from __future__ import annotations

import logging
import time

import redis

log = logging.getLogger("flask_clawhooks")

WINDOW_SECONDS = 60


def over_limit(connection: redis.Redis, who: str, limit: int,
               now: float | None = None) -> int | None:
    """Count a request of ``who``; return the seconds to wait if it is over ``limit``."""
    moment = time.time() if now is None else now
    window = int(moment // WINDOW_SECONDS)
    key = f"clawhooks:ratelimit:{who}:{window}"
    try:
        with connection.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS + 5)
            count, _ = pipe.execute()
    except (redis.RedisError, OSError):
        log.warning("Rate limit not checked: Redis is unreachable", exc_info=True)
        return None
    if count <= limit:
        return None
    return max(1, int((window + 1) * WINDOW_SECONDS - moment + 0.999))
