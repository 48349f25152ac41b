"""What an attempt's result means: the status rules and the retry schedule.

The rules (DESIGN.md, Outcome rules):

* 2xx: success.
* 410 Gone: the delivery fails and the webhook is disabled (Standard Webhooks advice).
* 408 and 429: retried; 429 and 503 honour ``Retry-After``.
* other 4xx: permanent failure, no retry.
* 3xx (redirects are not followed), 5xx, timeouts, connection and TLS errors: retried.
* a destination the SSRF guard refuses: permanent failure, the reason in the log.

Retry ``n`` waits ``CLAWHOOKS_RETRY_DELAYS[n - 1]`` seconds after the failed attempt
ended (1 min, 5 min, 30 min, 2 h, 12 h by default), or longer when the receiver's
``Retry-After`` asks for it. After the last delay's attempt fails, the delivery fails.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .disclosure import error_text
from .models import AttemptOutcome, DeliveryStatus
from .transport import HttpResult

#: Longest ``Retry-After`` honoured, in seconds; longer requests are cut to this.
MAX_RETRY_AFTER = 24 * 3600


class Verdict(enum.Enum):
    SUCCESS = "success"
    RETRY = "retry"
    FAIL = "fail"
    GONE = "gone"


def classify(result: HttpResult) -> Verdict:
    if result.refused:
        return Verdict.FAIL
    status = result.status
    if status is None:
        return Verdict.RETRY
    if 200 <= status < 300:
        return Verdict.SUCCESS
    if status == 410:
        return Verdict.GONE
    if status in (408, 429):
        return Verdict.RETRY
    if 400 <= status < 500:
        return Verdict.FAIL
    return Verdict.RETRY


def retry_after_seconds(
    headers: Mapping[str, str], status: int | None, now: dt.datetime
) -> float | None:
    """Seconds asked for by ``Retry-After`` on a 429 or 503, or None."""
    if status not in (429, 503):
        return None
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), MAX_RETRY_AFTER))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    seconds = (when.astimezone(dt.UTC).replace(tzinfo=None) - now).total_seconds()
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


def retry_delay(
    delays: Sequence[float], attempt_number: int, retry_after: float | None = None
) -> float | None:
    """Seconds to wait after failed attempt ``attempt_number`` (1-based), None if none is left."""
    if attempt_number > len(delays):
        return None
    delay = float(delays[attempt_number - 1])
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


@dataclass(frozen=True, slots=True)
class Decision:
    """What one finished attempt means for its attempt row, its delivery and its webhook."""

    #: The attempt row's outcome.
    outcome: AttemptOutcome
    #: The delivery's status: still pending (a retry is due), success, or failed.
    status: DeliveryStatus
    #: When the retry is due, for a pending delivery.
    next_attempt_at: dt.datetime | None
    #: The error text of the attempt and the delivery (None for an answer that says all).
    error: str | None
    #: The receiver answered 410 Gone: the webhook is to be disabled.
    gone: bool = False
    #: The last retry failed: the webhook is marked failed.
    exhausted: bool = False


def decide(result: HttpResult, attempt_number: int, finished_at: dt.datetime,
           retry_delays: Sequence[float], secrets: Sequence[str] = ()) -> Decision:
    """The outcome rules above applied to attempt ``attempt_number`` (1-based) of a
    delivery, which ended at ``finished_at`` (naive UTC). Pure: it reads nothing else
    and writes nothing, so :func:`flask_clawhooks.ledger.record` only stores what it says.

    :param secrets: the webhook's secret custom header values, masked in the error text
        (:func:`flask_clawhooks.disclosure.error_text`).
    """
    verdict = classify(result)
    error = error_text(result, secrets)
    if verdict is Verdict.SUCCESS:
        return Decision(AttemptOutcome.SUCCESS, DeliveryStatus.SUCCESS, None, error)
    if verdict is Verdict.RETRY:
        wait = retry_after_seconds(result.headers, result.status, finished_at)
        delay = retry_delay(retry_delays, attempt_number, wait)
        if delay is None:
            return Decision(AttemptOutcome.FAILED, DeliveryStatus.FAILED, None, error,
                            exhausted=True)
        return Decision(AttemptOutcome.RETRY, DeliveryStatus.PENDING,
                        finished_at + dt.timedelta(seconds=delay), error)
    return Decision(AttemptOutcome.FAILED, DeliveryStatus.FAILED, None, error,
                    gone=verdict is Verdict.GONE)
