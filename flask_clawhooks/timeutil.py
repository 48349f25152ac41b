"""UTC time as the database stores it (naive) and as payloads show it (ISO-8601 with Z)."""

from __future__ import annotations

import datetime as dt
import time

_EPOCH = dt.datetime(1970, 1, 1)
_MICROSECOND = dt.timedelta(microseconds=1)


def utcnow() -> dt.datetime:
    """The current UTC time, naive, to the microsecond (how every table stores time)."""
    # The worker asks several times per delivery; this is half the CPU of
    # datetime.now(UTC).replace(tzinfo=None), with the same result.
    return _EPOCH + time.time_ns() // 1000 * _MICROSECOND


def isoformat(moment: dt.datetime | None) -> str | None:
    """``2026-01-30T14:30:00Z``: whole seconds, as the ClawBook page shows times."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat() + "Z"
