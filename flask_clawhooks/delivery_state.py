"""The one vocabulary for a delivery's state, used by every view of it.

A delivery is in exactly one of three states, stored as ``Delivery.status`` and said
with the same word by the JSON API (``status``), the search (``status=``), the
dashboard's badges and filters, the CLI and the docs:

``pending``
    Not finished: waiting for its first attempt, being sent right now, or waiting for a
    retry after a failed attempt.
``success``
    The receiver answered 2xx (the seed's word).
``failed``
    Finished without success: an answer that is not retried (4xx other than 408 and
    429), the last retry used up, the webhook disabled, or the destination refused.

The word alone says little about what happens next, so every view puts a *detail*
beside it, worked out here from the attempt count, the last attempt's outcome, the
configured retry delays and ``next_attempt_at``: ``pending · attempt 1 failed, retry 1
of 5 in 57 s``. The detail never contradicts the word: a filter on a word shows exactly
the rows whose badge says it.

.. versionadded:: 0.3.0
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .models import AttemptOutcome, Delivery, DeliveryStatus

#: The words, in the order the filters offer them, with what each one means.
MEANINGS: dict[str, str] = {
    DeliveryStatus.PENDING: "not finished: waiting for an attempt, being sent, or "
                            "waiting for a retry",
    DeliveryStatus.SUCCESS: "the receiver answered 2xx",
    DeliveryStatus.FAILED: "finished without success; no retry follows",
}

#: The words a filter offers: exactly the stored statuses, as plain strings (click and
#: Jinja would show an enum member by its name).
STATUSES: tuple[str, ...] = tuple(str(status) for status in MEANINGS)


@dataclass(frozen=True)
class DeliveryState:
    """What one delivery is doing: its word, a colour, and what happened or happens next."""

    #: One of :data:`STATUSES`: the badge text, the API's ``status``.
    status: str
    #: The badge colour: ``success``, ``failed``, ``retrying`` (pending after a failed
    #: attempt) or ``pending``.
    tone: str
    #: ``attempt 1 failed (HTTP 500), retry 1 of 5``, ``gave up after 6 attempts``…
    detail: str = ""
    #: When the next attempt is due, for a delivery that waits for one.
    due: dt.datetime | None = None

    @property
    def label(self) -> str:
        """The badge text: the status word itself."""
        return self.status

    def text(self, when: str = "") -> str:
        """The whole line as plain text (CLI, e-mails): ``pending · retry 1 of 5 in 57 s``.

        :param when: how to say :attr:`due` (``in 57 s``), or empty to leave it out.
        """
        detail = " ".join(part for part in (self.detail, when if self.due else "") if part)
        return f"{self.status} · {detail}" if detail else self.status


def _last_outcome(delivery: Delivery) -> str | None:
    attempts = delivery.attempts
    return attempts[-1].outcome if attempts else None


def _answer(delivery: Delivery) -> str:
    if delivery.response_code is not None:
        return f" (HTTP {delivery.response_code})"
    return ""


def delivery_state(delivery: Delivery, retry_delays: tuple[float, ...],
                   now: dt.datetime) -> DeliveryState:
    """What ``delivery`` is doing, in the one vocabulary.

    ``attempt_count`` counts the tries made so far (a claimed delivery counts the one in
    flight); the first retry follows the first try, so a delivery waiting after its n-th
    failed try waits for retry n of ``len(retry_delays)``.
    """
    retries = len(retry_delays)
    count = delivery.attempt_count
    if delivery.status == DeliveryStatus.SUCCESS:
        return DeliveryState(DeliveryStatus.SUCCESS, "success",
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
        return DeliveryState(DeliveryStatus.FAILED, "failed", detail)
    pending = DeliveryStatus.PENDING
    if delivery.lease_until is not None and delivery.lease_until > now:
        return DeliveryState(pending, "pending", f"sending attempt {count}" if count else
                             "sending")
    due = delivery.next_attempt_at
    if count == 0:
        return DeliveryState(pending, "pending", "first attempt", due)
    outcome = _last_outcome(delivery)
    if outcome in (AttemptOutcome.INTERRUPTED, AttemptOutcome.SENDING):
        # the worker stopped mid-try
        return DeliveryState(pending, "retrying", "interrupted, will be sent again", due)
    if outcome in (AttemptOutcome.FAILED, AttemptOutcome.SUCCESS):
        # A finished delivery that someone asked to send again.
        return DeliveryState(pending, "pending", "retry requested", due)
    # The last try failed and a retry is scheduled.
    retry = f"retry {count} of {retries}" if count <= retries else "retry"
    return DeliveryState(pending, "retrying",
                         f"attempt {count} failed{_answer(delivery)}, {retry}", due)
