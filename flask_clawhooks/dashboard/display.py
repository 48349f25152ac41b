"""How the dashboard words times and delivery states.

A delivery's state is worded by :mod:`flask_clawhooks.delivery_state` (the one
vocabulary of the API, the search, the CLI and these pages): its badge says the stored
status (``pending``, ``success``, ``failed``) and the detail beside it what happens next
("pending · attempt 2 failed (HTTP 500), retry 2 of 5 in 4 min").

Relative times ("3 min ago", "in 4 min") are computed here for the first render and
again by ``static/clawhooks/dashboard.js`` as the page stays open; both follow
:func:`relative`, and the exact UTC time (:func:`exact`) is the ``title`` shown on hover.
"""

from __future__ import annotations

import datetime as dt
import math

from ..delivery_state import DeliveryState, delivery_state

__all__ = ["DeliveryState", "countdown", "delivery_state", "exact", "relative"]

#: Seconds within which a past moment reads "just now".
JUST_NOW = 10


def exact(moment: dt.datetime) -> str:
    """The one absolute format of the dashboard: ``2026-01-30 14:30:00 UTC``."""
    return moment.strftime("%Y-%m-%d %H:%M:%S") + " UTC"


def _amount(seconds: float, future: bool) -> str:
    if seconds < 60:
        # A countdown rounds up, so "in 1 s" is shown until the moment is due.
        return f"{math.ceil(seconds) if future else int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h"
    days = int(seconds // 86400)
    return f"{days} day{'s' if days != 1 else ''}"


def relative(moment: dt.datetime, now: dt.datetime) -> str:
    """``just now``, ``42 s ago``, ``3 min ago``, ``5 h ago``, ``2 days ago``; for a
    future moment ``in 40 s``, ``in 4 min``, ``in 2 h``; ``due now`` once it has come."""
    seconds = (moment - now).total_seconds()
    if seconds > 0:
        return f"in {_amount(seconds, True)}"
    seconds = -seconds
    if seconds < JUST_NOW:
        return "just now"
    return f"{_amount(seconds, False)} ago"


def countdown(moment: dt.datetime, now: dt.datetime) -> str:
    """Like :func:`relative` for something scheduled: ``in 4 min``, or ``due now``."""
    return relative(moment, now) if moment > now else "due now"
