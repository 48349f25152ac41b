"""The shared rate schedule in a real Redis: evenly spaced slots, handed out atomically
to any number of clients, none beyond the horizon."""

from __future__ import annotations

import time

import pytest
import redis

from flask_clawhooks.redisclient import CircuitBreaker
from flask_clawhooks.throttle import HORIZON, MIN_TOLERANCE, RedisSchedule, Slot, window


def test_a_slot_is_missed_once_closer_to_the_next_slot_than_to_itself():
    # 20 a second: slots 50 ms apart, so 25 ms late is the most.
    slot = Slot(100.0, 20.0)
    assert not slot.missed(99.0)  # not yet due
    assert not slot.missed(100.0)
    assert not slot.missed(100.024)
    assert slot.missed(100.026)
    # Slots 0.1 ms apart: the tolerance does not go below what a timer thread is late.
    fast = Slot(100.0, 10_000.0)
    assert not fast.missed(100.0 + MIN_TOLERANCE - 0.0001)
    assert fast.missed(100.0 + MIN_TOLERANCE + 0.0001)
    before = time.monotonic()
    made = Slot.after(0.5, 20.0)
    assert before + 0.5 <= made.at <= time.monotonic() + 0.5


def schedule(redis_url: str) -> RedisSchedule:
    return RedisSchedule(redis.Redis.from_url(redis_url), "clawhooks:test",
                         CircuitBreaker(30.0).call)


def test_slots_are_spaced_evenly_and_shared_by_every_client(redis_url, redis_conn):
    one, other = schedule(redis_url), schedule(redis_url)
    started = time.monotonic()
    first = one.reserve("wh_a", 20.0, 4)
    second = other.reserve("wh_a", 20.0, 4)
    elapsed = time.monotonic() - started
    assert first is not None and second is not None
    # Each answer: four slots 0.05 s apart, the first of a new schedule now.
    for slots in (first, second):
        assert len(slots.delays) == 4
        gaps = [b - a for a, b in zip(slots.delays, slots.delays[1:], strict=False)]
        assert gaps == [pytest.approx(0.05, abs=1e-5)] * 3, slots
        assert slots.next_free == pytest.approx(slots.delays[-1] + 0.05, abs=1e-5)
    assert first.delays[0] == pytest.approx(0, abs=1e-5)
    # The second client goes on where the first stopped: its first slot is the first's
    # next free one, less the time that passed between the two calls in Redis (at most
    # what passed here; a busy machine may take milliseconds between them).
    passed = first.next_free - second.delays[0]
    assert 0 <= passed <= elapsed + 1e-3, (first, second, elapsed)


def test_no_slot_is_given_beyond_the_horizon_and_the_rest_learn_when_to_ask_again(
        redis_url, redis_conn):
    slots = schedule(redis_url).reserve("wh_b", 4.0, 10)
    assert slots is not None
    assert len(slots.delays) == int(HORIZON * 4) + 1  # now, then every 0.25 s up to 0.5 s
    assert max(slots.delays) <= HORIZON
    assert slots.next_free == pytest.approx(len(slots.delays) * 0.25, abs=0.01)
    other_webhook = schedule(redis_url).reserve("wh_c", 4.0, 1)
    assert other_webhook is not None and other_webhook.delays == [pytest.approx(0, abs=0.01)]


def test_an_unreachable_redis_answers_none_so_the_database_decides():
    unreachable = RedisSchedule(redis.Redis(port=9, socket_connect_timeout=0.5),
                                "clawhooks:test", CircuitBreaker(30.0).call)
    assert unreachable.reserve("wh_a", 20.0, 1) is None


@pytest.mark.parametrize(("per_second", "expected"), [
    (20.0, (1.0, 20)), (0.5, (2.0, 1)), (2.5, (1.0, 2)), (0.01, (100.0, 1))])
def test_the_database_fallback_counts_over_a_window_of_at_least_a_second(per_second,
                                                                          expected):
    assert window(per_second) == expected
