"""Per-webhook rate limits (``max_per_second``), counted across every worker.

A webhook's requests are spaced ``1 / max_per_second`` seconds apart by the generic
cell rate algorithm (GCRA): Redis keeps one number per webhook, the *theoretical arrival
time* of its next request, and one Lua script hands out the next free slots atomically,
so every worker process on every machine shares the same schedule. A claim asks for as
many slots as it has deliveries; it gets those that fall within :data:`HORIZON` seconds
of now, each with the delay until its slot, and the worker holds each of those
deliveries back until its slot comes (:class:`~flask_clawhooks.control.Timer`). The
others are not claimed: they wait, without an attempt, until the first slot the
schedule has not given out, and are claimed again then. A delivery waits for the next
free slot, never for a whole window.

Slots are spaced evenly and no request goes out before its slot; the worker's timer
hands it to the sending thread no later than :meth:`Slot.missed`'s tolerance after it
(half the spacing, at least :data:`MIN_TOLERANCE`): a worker that comes to a slot later
than that, because its machine is busy or it was paused, does not send then but takes a
new slot (:data:`MAX_RESLOTS` times at most, then it sends). So a receiver gets at most
about ``T * max_per_second + 1`` requests in any window of ``T`` seconds, also right
after a late stretch, when the requests held back would otherwise all go out at once
(the sending thread of a very busy worker can still bring a few together).

Redis's own clock (``TIME``) measures the schedule, so workers whose clocks differ still
share it. When Redis cannot be reached (or its circuit breaker is open), the limit is
kept by the database instead (:func:`database_slots`): the attempts the webhook started
in the last second (or ``1 / max_per_second`` seconds, if longer) are counted while the
claim holds the webhook's row lock, and only the rest of the allowance is claimed. That
bound is exact across workers but coarser: requests may come in a burst at the start of
each window instead of evenly spaced.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis import Redis
from sqlalchemy import Connection, func, select

from .models import attempt_table

#: Seconds a request may go out after its slot at the least, however close the slots
#: (a timer thread is often a millisecond or two late; see :meth:`Slot.missed`).
MIN_TOLERANCE = 0.005
#: How many times a late request asks for a new slot before it is sent all the same: a
#: worker too busy to keep any slot still delivers, and keeps its lease.
MAX_RESLOTS = 3

#: Seconds ahead a claim may reserve slots. Deliveries beyond it are left unclaimed: a
#: claimed delivery holds a lease and a place in the worker's memory while it waits.
HORIZON = 0.5

# KEYS[1]: the webhook's key. ARGV: seconds between requests, horizon, slots wanted.
# Returns the delays (seconds, as strings: Lua numbers would be cut to integers) of the
# slots granted, then the delay of the first slot not granted.
_RESERVE = """
local interval = tonumber(ARGV[1])
local horizon = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local out = {}
while #out < wanted and tat - now <= horizon do
  out[#out + 1] = string.format('%.6f', tat - now)
  tat = tat + interval
end
if #out > 0 then
  redis.call('SET', KEYS[1], string.format('%.6f', tat), 'PX',
             math.ceil((tat - now + interval) * 1000) + 1000)
end
out[#out + 1] = string.format('%.6f', tat - now)
return out
"""


@dataclass(frozen=True)
class Slots:
    """The answer to a request for slots."""

    #: Seconds from now to each slot granted, in order (fewer than asked, or none, when
    #: the schedule is full for the next :data:`HORIZON` seconds).
    delays: list[float]
    #: Seconds from now to the first slot not granted: when to ask again.
    next_free: float


@dataclass(frozen=True, slots=True)
class Slot:
    """A paced request's slot, on this process's :func:`time.monotonic` clock."""

    at: float
    per_second: float

    @classmethod
    def after(cls, delay: float, per_second: float) -> Slot:
        """The slot ``delay`` seconds from now (as the schedule has just answered)."""
        return cls(time.monotonic() + delay, per_second)

    def missed(self, now: float) -> bool:
        """Whether ``now`` is too late to send in this slot: more than half the spacing
        (or :data:`MIN_TOLERANCE`) after it, closer to the next slot than to this one."""
        return now - self.at > max(0.5 / self.per_second, MIN_TOLERANCE)


def key(prefix: str, webhook_id: str) -> str:
    return f"{prefix}:throttle:{webhook_id}"


class RedisSchedule:
    """The shared schedule in Redis. ``call`` runs a Redis call through the circuit
    breaker and answers None when Redis is unavailable (then the database decides)."""

    def __init__(self, client: Redis, prefix: str,
                 call: Callable[[Callable[[], Any], None], Any]) -> None:
        self._script = client.register_script(_RESERVE)
        self._prefix = prefix
        self._call = call

    def reserve(self, webhook_id: str, per_second: float, wanted: int) -> Slots | None:
        def run() -> Any:
            return self._script(keys=[key(self._prefix, webhook_id)],
                                args=[repr(1.0 / per_second), repr(HORIZON), wanted])
        answer = self._call(run, None)
        if answer is None:
            return None
        values = [float(value) for value in answer]
        return Slots(values[:-1], values[-1])


def window(per_second: float) -> tuple[float, int]:
    """The database fallback's window (seconds) and how many requests it allows."""
    seconds = max(1.0, 1.0 / per_second)
    return seconds, max(1, math.floor(per_second * seconds))


def database_slots(conn: Connection, webhook_id: str, per_second: float, wanted: int,
                   now: dt.datetime) -> Slots:
    """Slots by counting the webhook's attempts of the last window; the caller holds the
    webhook's row lock, so no other claim counts at the same time. The attempts a claim
    writes carry its time until they are recorded, then their start: never earlier."""
    seconds, allowed = window(per_second)
    since = now - dt.timedelta(seconds=seconds)
    attempts = attempt_table.c
    count, oldest = conn.execute(
        select(func.count(), func.min(attempts.created_at))
        .where(attempts.webhook_id == webhook_id, attempts.created_at > since)
    ).one()
    granted = max(0, min(wanted, allowed - count))
    if count + granted < allowed:
        next_free = 0.0
    elif oldest is not None:
        next_free = max(0.0, (oldest - since).total_seconds())
    else:
        next_free = seconds
    return Slots([0.0] * granted, max(next_free, 1.0 / per_second))
