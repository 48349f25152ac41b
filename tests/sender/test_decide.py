"""``outcome.decide``: the outcome rules as a pure function of one attempt's result."""

from __future__ import annotations

import datetime as dt

import pytest

from flask_clawhooks.models import AttemptOutcome, DeliveryStatus
from flask_clawhooks.outcome import decide
from flask_clawhooks.transport import HttpResult

DELAYS = (60.0, 300.0, 1800.0, 7200.0, 43200.0)
ENDED = dt.datetime(2026, 1, 30, 14, 30, 0)


def answer(status: int | None, headers: dict[str, str] | None = None,
           error: str | None = None) -> HttpResult:
    return HttpResult(status=status, headers=headers or {}, excerpt="", elapsed_ms=12,
                      error=error)


def test_2xx_is_success_with_nothing_to_follow():
    decision = decide(answer(204), 1, ENDED, DELAYS)
    assert (decision.outcome, decision.status) == (AttemptOutcome.SUCCESS,
                                                   DeliveryStatus.SUCCESS)
    assert decision.next_attempt_at is None and not decision.gone and not decision.exhausted


@pytest.mark.parametrize("number, wait", [(1, 60), (2, 300), (3, 1800), (4, 7200), (5, 43200)])
def test_a_5xx_is_retried_on_the_seed_schedule(number, wait):
    decision = decide(answer(500), number, ENDED, DELAYS)
    assert decision.outcome == AttemptOutcome.RETRY
    assert decision.status == DeliveryStatus.PENDING
    assert decision.next_attempt_at == ENDED + dt.timedelta(seconds=wait)


def test_the_attempt_after_the_last_retry_fails_the_delivery_and_exhausts_the_webhook():
    decision = decide(answer(None, error="timed out"), 6, ENDED, DELAYS)
    assert (decision.outcome, decision.status) == (AttemptOutcome.FAILED,
                                                   DeliveryStatus.FAILED)
    assert decision.exhausted and decision.error


def test_retry_after_longer_than_the_schedule_is_honoured():
    decision = decide(answer(429, {"retry-after": "600"}), 1, ENDED, DELAYS)
    assert decision.next_attempt_at == ENDED + dt.timedelta(seconds=600)


def test_410_fails_and_marks_the_webhook_gone_other_4xx_only_fail():
    gone = decide(answer(410), 1, ENDED, DELAYS)
    assert gone.status == DeliveryStatus.FAILED and gone.gone and not gone.exhausted
    not_found = decide(answer(404), 1, ENDED, DELAYS)
    assert not_found.status == DeliveryStatus.FAILED and not not_found.gone
