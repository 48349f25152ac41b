"""UTC time as the database stores it (naive) and as payloads show it (ISO-8601 with Z)."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """The current UTC time, naive, to the microsecond (how every table stores time)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def isoformat(moment: dt.datetime | None) -> str | None:
    """``2026-01-30T14:30:00Z``: whole seconds, as the ClawBook page shows times."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat() + "Z"
