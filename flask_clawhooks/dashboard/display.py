"""How the dashboard words times and delivery states.

A delivery's stored status is one of three (``pending``, ``success``, ``failed``), which
says little about what happens next: a ``pending`` delivery may be on its first try,
being sent right now, or waiting 30 minutes for its third retry after a 500. Owners
read :func:`delivery_state` instead ("failed · retry 2 of 5 in 4 min"), worked out from
the attempt count, the configured retry delays and ``next_attempt_at``.

Relative times ("3 min ago", "in 4 min") are computed here for the first render and
again by ``static/clawhooks/dashboard.js`` as the page stays open; both follow
:func:`relative`, and the exact UTC time (:func:`exact`) is the ``title`` shown on hover.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from ..models import AttemptOutcome, Delivery, DeliveryStatus

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


@dataclass(frozen=True)
class DeliveryState:
    """What a delivery's status line says.

    Rendered as a badge (``label``, coloured by ``tone``), then `` · detail`` and, when
    ``due`` is set, the countdown to it.
    """

    #: The badge text: ``success``, ``failed``, ``pending``, ``sending``, ``interrupted``.
    label: str
    #: The badge colour: ``success``, ``failed``, ``retrying`` or ``pending``.
    tone: str
    #: What happened or happens next: ``retry 2 of 5``, ``gave up after 6 attempts``.
    detail: str = ""
    #: When the next attempt is due, for a delivery that waits for one.
    due: dt.datetime | None = None


def _last_outcome(delivery: Delivery) -> str | None:
    attempts = delivery.attempts
    return attempts[-1].outcome if attempts else None


def delivery_state(delivery: Delivery, retry_delays: tuple[float, ...],
                   now: dt.datetime) -> DeliveryState:
    """What ``delivery`` is doing, in the owner's words.

    ``attempt_count`` counts the tries made so far (a claimed delivery counts the one in
    flight); the first retry follows the first try, so a delivery waiting after its n-th
    failed try waits for retry n of ``len(retry_delays)``.
    """
    retries = len(retry_delays)
    count = delivery.attempt_count
    if delivery.status == DeliveryStatus.SUCCESS:
        return DeliveryState("success", "success",
                             f"after {count} attempts" if count > 1 else "")
    if delivery.status == DeliveryStatus.FAILED:
        code = delivery.response_code
        if count == 0:
            detail = "not sent"
        elif code is not None and 400 <= code < 500 and code not in (408, 429):
            detail = f"not retried (HTTP {code})"
        elif count > retries:
            detail = f"gave up after {count} attempt{'s' if count != 1 else ''}"
        else:
            detail = "not retried"
        return DeliveryState("failed", "failed", detail)
    if delivery.lease_until is not None and delivery.lease_until > now:
        return DeliveryState("sending", "pending", f"attempt {count}" if count else "")
    due = delivery.next_attempt_at
    if count == 0:
        return DeliveryState("pending", "pending", "first attempt", due)
    outcome = _last_outcome(delivery)
    # the worker stopped mid-try
    if outcome in (AttemptOutcome.INTERRUPTED, AttemptOutcome.SENDING):
        return DeliveryState("interrupted", "retrying", "will be sent again", due)
    if outcome in (AttemptOutcome.FAILED, AttemptOutcome.SUCCESS):
        # A finished delivery that someone asked to send again.
        return DeliveryState("pending", "pending", "retry requested", due)
    # The last try failed and a retry is scheduled.
    detail = f"retry {count} of {retries}" if count <= retries else "retry"
    return DeliveryState("failed", "retrying", detail, due)
