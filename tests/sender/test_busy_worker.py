"""What keeps a busy worker's CPU per delivery down. How many deliveries it claims at a
time (:class:`flask_clawhooks.dispatch._Slots`): few after a pause, so the first POSTs
go out soon, doubling while claims keep coming, so a claim's fixed cost is paid once per
hundreds of deliveries; when its recorder waits for a batch to grow
(:func:`flask_clawhooks.dispatch.lingers`); and what a working process does with the heap
it starts with (:func:`flask_clawhooks.worker.settle_heap`)."""

from __future__ import annotations

import sys
import threading

from flask_clawhooks.dispatch import (
    CLAIM_STREAK_SECONDS,
    RECORD_BATCH,
    RECORD_BUSY,
    _Slots,
    lingers,
)
from flask_clawhooks.ledger import Outcome, Work
from flask_clawhooks.timeutil import utcnow
from flask_clawhooks.transport import HttpResult

from .. import processes


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_claims_double_in_a_streak_and_start_small_again_after_a_pause():
    clock = Clock()
    slots = _Slots(512, clock=clock)

    first = slots.take(128, 512)
    slots.give(first)  # all sent already: nothing is held
    clock.now += CLAIM_STREAK_SECONDS / 2
    second = slots.take(128, 512)
    slots.give(second)
    clock.now += CLAIM_STREAK_SECONDS / 2
    third = slots.take(128, 512)
    slots.give(third)
    clock.now += CLAIM_STREAK_SECONDS * 2
    after_pause = slots.take(128, 512)

    assert (first, second, third, after_pause) == (128, 256, 512, 128)


def test_a_claim_never_takes_more_slots_than_are_free_or_asked_for():
    clock = Clock()
    slots = _Slots(512, clock=clock)

    held = slots.take(128, 512)
    clock.now += 0.001
    more = slots.take(128, 200)  # a streak would allow 256: only 200 asked for
    clock.now += 0.001
    rest = slots.take(1, 512)  # 184 free

    assert (held, more, rest) == (128, 200, 184)


def test_a_take_waits_until_the_least_it_needs_is_free():
    slots = _Slots(4)
    assert slots.take(4, 4) == 4
    taken: list[int] = []
    waiter = threading.Thread(target=lambda: taken.append(slots.take(2, 4)))
    waiter.start()

    slots.give(1)
    waiter.join(0.2)
    still_waiting = waiter.is_alive()
    slots.give(1)
    waiter.join(10)

    assert still_waiting and taken == [2]


def outcomes(count: int, *, fifo_at: int | None = None) -> list[Outcome]:
    now = utcnow()
    made = []
    for n in range(count):
        work = Work(f"del_{n}", f"att_{n}", 1, "token", "wh_1", "acme",
                    "http://127.0.0.1:9/in", f"evt_{n}", "message.received", b"{}", {},
                    fifo=n == fifo_at)
        made.append(Outcome(work, HttpResult(200, 1, started_at=now), now, now))
    return made


def test_the_recorder_waits_for_more_outcomes_only_when_many_came_and_none_is_fifo():
    assert not lingers(outcomes(1))  # one at a time: written at once
    assert lingers(outcomes(RECORD_BUSY))
    assert not lingers(outcomes(RECORD_BUSY, fifo_at=RECORD_BUSY - 1))
    assert not lingers(outcomes(RECORD_BATCH))  # full already


def test_a_working_process_collects_its_garbage_freezes_its_heap_and_collects_less_often():
    # In a process of its own: frozen, the suite's own heap would keep its later garbage.
    code = """
import gc, weakref
from flask_clawhooks.worker import YOUNG_COLLECTION_THRESHOLD, settle_heap
class Node: pass
garbage = Node(); garbage.me = garbage; gone = weakref.ref(garbage); del garbage
settle_heap()
print(gone() is None, gc.get_freeze_count() > 0,
      gc.get_threshold()[0] == YOUNG_COLLECTION_THRESHOLD)
"""
    done = processes.run([sys.executable, "-c", code], timeout=120, capture_output=True,
                         text=True)

    assert done.stdout.split() == ["True", "True", "True"], done.stderr
