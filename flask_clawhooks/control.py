"""Delivery control, applied when deliveries are claimed: FIFO ordering
(:mod:`.ordering`), ``max_in_flight`` and ``max_per_second`` (:mod:`.throttle`).

:func:`flask_clawhooks.ledger.claim` leases what is due, then hands the leased
deliveries of webhooks that have a setting on to a :class:`Screen`, in the same
transaction. The screen first takes those webhooks' row locks (``FOR NO KEY UPDATE`` on
PostgreSQL, so an ``emit()`` inserting deliveries is not held up; SQLite's write lock,
already held by the claim, does the same there), so two claims never count the same
webhook's leases at once, on any number of workers. Then, per webhook:

* FIFO: keep the head of the queue if no other claim holds a delivery of the webhook;
  park the others (:data:`.ordering.PARK_SECONDS`).
* ``max_in_flight``: keep as many as the leases held elsewhere leave room for; the
  others are due again after :data:`IN_FLIGHT_RETRY` seconds.
* ``max_per_second``: keep as many as get a slot (:mod:`.throttle`), each held back
  until its slot (:attr:`Screen.pace`); the others are due again at the first free one.

A delivery not kept is given back in the same transaction: lease cleared, attempt
count restored, nothing written to the attempt log. Waiting is not an attempt, not a
failure, and is seen by neither the health check nor ``/stats``.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, bindparam, func, select, update

from .models import Ordering, delivery_table, webhook_table
from .ordering import PARK_SECONDS
from .ordering import pending as pending_of
from .throttle import RedisSchedule, Slot, Slots, database_slots

log = logging.getLogger("flask_clawhooks")

#: Seconds before a delivery held back by ``max_in_flight`` is claimed again.
IN_FLIGHT_RETRY = 0.25

_d = delivery_table.c
_w = webhook_table.c


@dataclass(frozen=True, slots=True)
class Candidate:
    """A delivery a claim has leased, with its webhook's settings."""

    delivery_id: str
    webhook_id: str
    ordering: str
    max_per_second: float | None
    max_in_flight: int | None

    @property
    def controlled(self) -> bool:
        return (self.ordering == Ordering.FIFO or self.max_per_second is not None
                or self.max_in_flight is not None)


@dataclass
class Screen:
    """The delivery control of one claim; made afresh for each.

    ``schedule`` is the shared rate schedule in Redis, or None to count in the database.
    """

    schedule: RedisSchedule | None = None
    #: Kept deliveries to hold back until their rate-limit slot.
    pace: dict[str, Slot] = field(default_factory=dict)
    #: Deliveries given back that are due again soon: ``(id, seconds from now)``.
    later: list[tuple[str, float]] = field(default_factory=list)
    #: Deliveries given back, by webhook and reason (``fifo``, ``in_flight``, ``rate``).
    held: dict[tuple[str, str], int] = field(default_factory=dict)

    def __call__(self, conn: Connection, candidates: Sequence[Candidate],
                 now: dt.datetime) -> set[str]:
        """Screen ``candidates``; give back, in ``conn``'s transaction, those not kept,
        and return their ids."""
        by_webhook: dict[str, list[Candidate]] = {}
        for candidate in candidates:
            if candidate.controlled:
                by_webhook.setdefault(candidate.webhook_id, []).append(candidate)
        if not by_webhook:
            return set()
        webhook_ids = sorted(by_webhook)
        conn.execute(select(_w.id).where(_w.id.in_(webhook_ids)).order_by(_w.id)
                     .with_for_update(key_share=True)).all()
        release: list[tuple[str, float, str]] = []  # (id, seconds from now, reason)
        for webhook_id in webhook_ids:
            mine = sorted(by_webhook[webhook_id], key=lambda c: c.delivery_id)
            settings = mine[0]
            ids = [c.delivery_id for c in mine]
            keep = ids
            if settings.ordering == Ordering.FIFO:
                keep, park = self._fifo(conn, webhook_id, ids, now)
                release += [(i, park, "fifo") for i in ids if i not in keep]
            elif settings.max_in_flight is not None:
                room = settings.max_in_flight - _leased_elsewhere(conn, webhook_id, ids)
                keep = ids[:max(0, room)]
                release += [(i, IN_FLIGHT_RETRY, "in_flight") for i in ids[len(keep):]]
            if settings.max_per_second is not None and keep:
                slots = self._slots(conn, webhook_id, settings.max_per_second, len(keep), now)
                granted = len(slots.delays)
                for delivery_id, delay in zip(keep, slots.delays, strict=False):
                    if delay > 0.001:
                        # Timed from the schedule's answer, not from the end of the claim.
                        self.pace[delivery_id] = Slot.after(delay, settings.max_per_second)
                interval = 1.0 / settings.max_per_second
                release += [(i, slots.next_free + n * interval, "rate")
                            for n, i in enumerate(keep[granted:])]
        if release:
            conn.execute(
                update(delivery_table).where(_d.id == bindparam("b_id")).values(
                    lease_token=None, lease_until=None,
                    attempt_count=_d.attempt_count - 1,
                    next_attempt_at=bindparam("b_when")),
                [{"b_id": i, "b_when": now + dt.timedelta(seconds=delay)}
                 for i, delay, _reason in release])
            webhook_of = {c.delivery_id: c.webhook_id for c in candidates}
            for delivery_id, delay, reason in release:
                key = (webhook_of[delivery_id], reason)
                self.held[key] = self.held.get(key, 0) + 1
                if reason != "fifo":
                    self.later.append((delivery_id, delay))
        return {delivery_id for delivery_id, _delay, _reason in release}

    def _fifo(self, conn: Connection, webhook_id: str, ids: list[str],
              now: dt.datetime) -> tuple[list[str], float]:
        """The head, if this claim holds it and no other claim holds a delivery of the
        webhook; and for how long to park the others: until :data:`PARK_SECONDS` after
        the head is due (a head that keeps failing is not resolved before its retry)."""
        head = conn.execute(
            select(_d.id, _d.next_attempt_at).where(*pending_of(webhook_id))
            .order_by(_d.id).limit(1)).first()
        first, due = (head[0], head[1]) if head is not None else (None, None)
        ahead = max(0.0, (due - now).total_seconds()) if due is not None else 0.0
        park = PARK_SECONDS + ahead
        if first not in ids or _leased_elsewhere(conn, webhook_id, ids):
            return [], park
        return [first], park

    def _slots(self, conn: Connection, webhook_id: str, per_second: float, wanted: int,
               now: dt.datetime) -> Slots:
        found = None
        if self.schedule is not None:
            found = self.schedule.reserve(webhook_id, per_second, wanted)
        if found is None:
            found = database_slots(conn, webhook_id, per_second, wanted, now)
        return found


def _leased_elsewhere(conn: Connection, webhook_id: str, mine: list[str]) -> int:
    """How many pending deliveries of ``webhook_id`` other claims hold."""
    return conn.scalar(select(func.count()).select_from(delivery_table).where(
        *pending_of(webhook_id), _d.lease_until.is_not(None), _d.id.not_in(mine))) or 0


class Timer:
    """Runs callables after a delay on one daemon thread: paced sends and deliveries
    handed back to the ready list when they are due again. What it has not run when the
    process ends is found by the sweeper (the deliveries are due and not leased, or
    their lease runs out)."""

    def __init__(self, name: str = "clawhooks-timer") -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def call_later(self, delay: float, function: Callable[[], None]) -> None:
        self.call_at(time.monotonic() + delay, function)

    def call_at(self, when: float, function: Callable[[], None]) -> None:
        """Run ``function`` at ``when`` (:func:`time.monotonic`)."""
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._order), function))
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (
                        not self._heap or self._heap[0][0] > time.monotonic()):
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                if self._closed:
                    return
                _when, _n, function = heapq.heappop(self._heap)
            try:
                function()
            except Exception:
                log.exception("A delivery timer failed")

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()
