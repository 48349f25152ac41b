"""The dashboard's wording of times and delivery states (flask_clawhooks.dashboard.display)."""

from __future__ import annotations

import datetime as dt

import pytest

from flask_clawhooks.dashboard.display import countdown, delivery_state, exact, relative
from flask_clawhooks.delivery_state import STATUSES
from flask_clawhooks.models import Attempt, Delivery

NOW = dt.datetime(2026, 1, 30, 14, 30, 0)
SEED_DELAYS = (60.0, 300.0, 1800.0, 7200.0, 43200.0)


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "just now"), (-9, "just now"), (-10, "10 s ago"), (-59.5, "59 s ago"),
    (-60, "1 min ago"), (-3599, "59 min ago"), (-3600, "1 h ago"), (-47 * 3600, "47 h ago"),
    (-48 * 3600, "2 days ago"), (-86400 * 40, "40 days ago"),
    (0.2, "in 1 s"), (40, "in 40 s"), (60, "in 1 min"), (4 * 60 + 59, "in 4 min"),
    (7200, "in 2 h"), (3 * 86400, "in 3 days"),
])
def test_relative_times_read_the_same_way_everywhere(seconds, text):
    assert relative(NOW + dt.timedelta(seconds=seconds), NOW) == text


def test_a_countdown_that_has_run_out_says_due_now():
    assert countdown(NOW - dt.timedelta(seconds=5), NOW) == "due now"
    assert countdown(NOW, NOW) == "due now"
    assert countdown(NOW + dt.timedelta(minutes=4, seconds=1), NOW) == "in 4 min"


def test_the_exact_time_has_one_format():
    assert exact(dt.datetime(2026, 1, 30, 14, 30, 0, 999)) == "2026-01-30 14:30:00 UTC"


def delivery(status: str, count: int, outcomes: list[str] = (), *, code: int | None = None,
             next_in: float | None = None, leased: bool = False) -> Delivery:
    made = Delivery(id="del_x", status=status, attempt_count=count, response_code=code,
                    next_attempt_at=NOW + dt.timedelta(seconds=next_in) if next_in is not None
                    else None,
                    lease_until=NOW + dt.timedelta(seconds=30) if leased else None)
    made.attempts = [Attempt(number=i + 1, outcome=o) for i, o in enumerate(outcomes)]
    return made


def said(d: Delivery, delays: tuple[float, ...] = SEED_DELAYS) -> str:
    state = delivery_state(d, delays, NOW)
    due = f" {countdown(state.due, NOW)}" if state.due else ""
    return f"{state.label}/{state.tone} · {state.detail}{due}".rstrip(" ·")


def test_a_delivery_waiting_for_its_second_retry_says_which_and_when():
    d = delivery("pending", 2, ["retry", "retry"], code=500, next_in=4 * 60 + 30)
    assert said(d) == "pending/retrying · attempt 2 failed (HTTP 500), retry 2 of 5 in 4 min"


def test_the_number_of_retries_comes_from_the_configured_delays():
    d = delivery("pending", 1, ["retry"], code=503, next_in=20)
    assert said(d, (30.0, 60.0)) == (
        "pending/retrying · attempt 1 failed (HTTP 503), retry 1 of 2 in 20 s")
    overdue = delivery("pending", 1, ["retry"], code=503, next_in=-3)
    assert said(overdue) == (
        "pending/retrying · attempt 1 failed (HTTP 503), retry 1 of 5 due now")


@pytest.mark.parametrize(("made", "text"), [
    (delivery("pending", 0, next_in=0), "pending/pending · first attempt due now"),
    (delivery("pending", 3, ["retry", "retry", "sending"], leased=True),
     "pending/pending · sending attempt 3"),
    (delivery("pending", 2, ["retry", "interrupted"], next_in=30),
     "pending/retrying · interrupted, will be sent again in 30 s"),
    (delivery("pending", 1, ["failed"], code=404, next_in=0),
     "pending/pending · retry requested due now"),
    (delivery("success", 1, ["success"], code=200), "success/success"),
    (delivery("success", 3, ["retry", "retry", "success"], code=200),
     "success/success · after 3 attempts"),
    (delivery("failed", 1, ["failed"], code=404), "failed/failed · not retried (HTTP 404)"),
    (delivery("failed", 6, ["retry"] * 5 + ["failed"], code=500),
     "failed/failed · gave up after 6 attempts"),
    (delivery("failed", 1, ["failed"], code=410), "failed/failed · not retried (HTTP 410)"),
    (delivery("failed", 0), "failed/failed · not sent"),
])
def test_every_delivery_state_says_what_happened_and_what_happens_next(made, text):
    assert said(made) == text


@pytest.mark.parametrize("made", [
    delivery("pending", 0, next_in=0),
    delivery("pending", 3, ["retry", "retry", "sending"], leased=True),
    delivery("pending", 2, ["retry", "interrupted"], next_in=30),
    delivery("pending", 1, ["retry"], code=500, next_in=60),
    delivery("pending", 1, ["failed"], code=404, next_in=0),
    delivery("success", 3, ["retry", "retry", "success"], code=200),
    delivery("failed", 6, ["retry"] * 5 + ["failed"], code=500),
    delivery("failed", 0),
])
def test_the_badge_says_the_stored_status_so_a_filter_matches_its_badges(made):
    state = delivery_state(made, SEED_DELAYS, NOW)
    assert state.label == state.status == made.status
    assert state.status in STATUSES
    assert state.text().split(" · ")[0] == made.status


def test_the_plain_text_line_puts_the_detail_and_countdown_beside_the_word():
    waiting = delivery("pending", 1, ["retry"], code=500, next_in=57)
    state = delivery_state(waiting, SEED_DELAYS, NOW)
    assert state.text(countdown(state.due, NOW)) == (
        "pending · attempt 1 failed (HTTP 500), retry 1 of 5 in 57 s")
    assert delivery_state(delivery("success", 1, ["success"]), SEED_DELAYS, NOW).text() == (
        "success")
