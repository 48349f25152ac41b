"""A worker process's delivery engine: many POSTs in flight, outcomes written in batches.

RQ jobs carry delivery ids. :meth:`Dispatcher.dispatch` claims them a round at a time
and hands each round to the process's :class:`~flask_clawhooks.transport.Sender`, an
event loop that keeps up to ``CLAWHOOKS_CONCURRENCY`` POSTs in flight. Inside
``flask clawhooks worker`` it returns as soon as they are handed over, so the next job
starts while earlier POSTs are still waiting on slow receivers (one receiver that times
out holds one slot, not the worker). A single recorder thread writes finished attempts
in batches (:meth:`Dispatcher._record`, the one place a batch of outcomes is recorded)
and runs the follow-ups (retries on RQ's scheduler, signals, e-mail) after each commit.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import redis
from flask import Flask
from sqlalchemy.exc import IntegrityError

from . import (
    control,
    disclosure,
    ledger,
    metrics,
    notify,
    ordering,
    partitions,
    signals,
    throttle,
    transport,
)
from .enqueue import enqueue_at, push_ready, whole_second_after
from .fairness import DEFER_SECONDS, Fairness
from .ledger import Outcome, Work
from .outcome import Verdict, classify
from .state import State, get_state
from .timeutil import isoformat, utcnow

log = logging.getLogger("flask_clawhooks")

#: Most outcomes written in one transaction.
RECORD_BATCH = 500
#: A batch that found this many outcomes waiting waits :data:`RECORD_LINGER_SECONDS`
#: for more before it is written (unless one is of a FIFO webhook); outcomes that come
#: one at a time are written at once.
RECORD_BUSY = 64
RECORD_LINGER_SECONDS = 0.01
#: Claims closer together than this are a streak: each may be twice the one before.
CLAIM_STREAK_SECONDS = 0.05

def lingers(batch: Sequence[Outcome]) -> bool:
    """Whether the recorder waits for more outcomes before writing ``batch``.

    When they are arriving fast: a recording transaction costs the worker about half a
    millisecond of CPU whatever its size. Not when one is of a FIFO webhook: the next
    delivery of its queue is sent only once it is recorded.
    """
    return (RECORD_BUSY <= len(batch) < RECORD_BATCH
            and not any(outcome.work.fifo for outcome in batch))


class _Slots:
    """A counting semaphore whose holders take many slots at once."""

    def __init__(self, count: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._count = count
        self._free = count
        self._wanted = 0
        self._cond = threading.Condition()
        self._clock = clock
        self._last_taken = 0
        self._last_at = -math.inf

    def take(self, least: int, most: int) -> int:
        """Wait until ``least`` are free, then take up to ``most``; return how many.

        The first take after a pause takes ``least`` (or as many as are held already),
        so that its POSTs go out sooner; while takes keep coming (within
        :data:`CLAIM_STREAK_SECONDS` of each other) each may take twice as many as the
        one before. A busy worker thus claims hundreds at a time, not ``least`` again
        and again: each claim costs it most of a millisecond of CPU whatever its size.
        """
        with self._cond:
            while self._free < least:
                self._wanted = least
                self._cond.wait()
            self._wanted = 0
            now = self._clock()
            grow = self._count - self._free
            if now - self._last_at < CLAIM_STREAK_SECONDS:
                grow = max(grow, 2 * self._last_taken)
            taken = min(most, self._free, max(least, grow))
            self._free -= taken
            self._last_taken, self._last_at = taken, now
            return taken

    def give(self, count: int) -> None:
        with self._cond:
            self._free += count
            if self._wanted and self._free >= self._wanted:
                self._cond.notify()


def _owner(work: Work) -> str:
    return work.owner


class Dispatcher:
    """Sends claimed deliveries for one app. One per process; thread-safe."""

    def __init__(self, app: Flask, state: State) -> None:
        self._app = app
        self._state = state
        self._settings = state.settings
        concurrency = self._settings.concurrency
        self._sender: transport.Sender[Work] = transport.Sender(
            concurrency, self._sent, policy=self._settings.destinations,
            timeout=self._settings.timeout,
            # Read beyond the excerpt kept, so that a secret crossing its end is masked
            # whole before the excerpt is cut (flask_clawhooks.disclosure).
            excerpt_bytes=self._settings.response_excerpt_bytes + disclosure.MARGIN_BYTES,
            # A keep-alive connection carries one owner's requests only.
            partition=_owner,
            connections_per_destination=self._settings.connections_per_destination,
        )
        self._mailer = ThreadPoolExecutor(1, thread_name_prefix="clawhooks-mail")
        # A claimed delivery holds one of these until it is sent. Twice the concurrency,
        # so a round is claimed while the last one is in flight; the lease allows for
        # that wait (see Settings.lease_seconds).
        self._slots = _Slots(2 * concurrency)
        self._outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self._unrecorded = 0
        self._idle = threading.Condition()
        self._recorder = threading.Thread(
            target=self._record_forever, name="clawhooks-recorder", daemon=True
        )
        self._recorder.start()
        self._fairness = Fairness(concurrency)
        # Delivery control (flask_clawhooks.control): the shared rate schedule in Redis
        # (through the circuit breaker: when Redis fails, claims count in the database),
        # the timer of paced sends and of deliveries due again shortly, and the thread
        # that sends the next delivery of a FIFO queue once its head is recorded.
        self._schedule = throttle.RedisSchedule(
            state.request_redis, f"clawhooks:{self._settings.queue}",
            state.breaker.call)
        self._timer = control.Timer()
        self._successors = ThreadPoolExecutor(1, thread_name_prefix="clawhooks-fifo")
        self._closing = False

    def dispatch(self, delivery_ids: Sequence[str], *, wait: bool | None = None) -> int:
        """Claim and send ``delivery_ids``; return how many were claimed.

        Must run inside an app context. With ``wait`` (the default outside the worker)
        it returns only once their outcomes are recorded.
        """
        remaining = list(dict.fromkeys(delivery_ids))
        claimed = 0
        concurrency = self._settings.concurrency
        while remaining:
            # Claim many at a time (a claim is a database round trip or two, too many
            # to pay per delivery), and ahead: once half a round's slots are free, while
            # the sender still has half a round waiting, so that the slots freed during
            # a claim find work instead of waiting for it.
            taken = self._slots.take(min(len(remaining), max(1, concurrency // 2)),
                                     min(len(remaining), 2 * concurrency))
            batch, remaining = remaining[:taken], remaining[taken:]
            try:
                screen, works, deferred = self._claim(batch)
            except BaseException:
                self._slots.give(taken)
                raise
            paced = [work for work in works if work.paced]
            self._slots.give(taken - len(works) + len(paced))
            if works:
                with self._idle:
                    self._unrecorded += len(works)
                metrics.claimed(len(works))
                self._fairness.started(work.url for work in works)
                self._sender.submit((work.url, work.body, work.headers, work)
                                    for work in works if not work.paced)
                for work in paced:
                    slot = screen.pace[work.delivery_id]
                    self._timer.call_at(slot.at, functools.partial(self._send_paced, work, slot))
            self._held(screen)
            claimed += len(works)
            if deferred:
                self._defer(deferred)
        if wait if wait is not None else not self._state.worker_mode:
            self.drain()
        return claimed

    def _claim(self, batch: list[str]) -> tuple[control.Screen, list[Work], list[str]]:
        """:func:`ledger.claim <flask_clawhooks.ledger.claim>`, with the screen of
        delivery control it used.

        On a partitioned install (:mod:`flask_clawhooks.partitions`) where no worker ran
        for longer than the partitions reach ahead, a test send from the web process
        finds no partition for its attempt: the partitions are then made, and the claim
        made again.
        """
        try:
            return self._claim_once(batch)
        except IntegrityError as exc:
            self._state.db.session.rollback()
            if not partitions.lacks_partition(exc):
                raise
        log.warning("No attempt partition covers now (no worker made them ahead): "
                    "making them")
        partitions.create_ahead(self._state.db.engine)
        return self._claim_once(batch)

    def _claim_once(self, batch: list[str]) -> tuple[control.Screen, list[Work], list[str]]:
        screen = control.Screen(self._schedule)
        works, deferred = ledger.claim(self._state.db.session, batch, self._settings,
                                       self._fairness.admitter(), screen)
        return screen, works, deferred

    def _submit(self, work: Work) -> None:
        self._sender.submit([(work.url, work.body, work.headers, work)])

    def _send_paced(self, work: Work, slot: throttle.Slot, reslots: int = 0) -> None:
        """Send ``work`` in its rate-limit slot (on the timer's thread); if the slot was
        missed, take another (:mod:`flask_clawhooks.throttle`)."""
        if reslots < throttle.MAX_RESLOTS and slot.missed(time.monotonic()):
            metrics.held({(work.webhook_id, "late"): 1})
            self._reslot(work, slot.per_second, reslots + 1)
        else:
            self._submit(work)

    def _reslot(self, work: Work, per_second: float, reslots: int) -> None:
        """Ask the schedule for a new slot for ``work``, the ``reslots``-th ask: after
        :data:`~flask_clawhooks.throttle.MAX_RESLOTS` asks it is sent, in a slot or
        not, however busy the schedule."""
        slots = self._schedule.reserve(work.webhook_id, per_second, 1)
        if slots is None:  # Redis is unavailable: no schedule to keep
            self._submit(work)
        elif slots.delays:
            slot = throttle.Slot.after(slots.delays[0], per_second)
            self._timer.call_at(slot.at, functools.partial(self._send_paced, work, slot,
                                                           reslots))
        elif reslots < throttle.MAX_RESLOTS:  # the next half second is taken: ask again
            self._timer.call_later(slots.next_free, functools.partial(
                self._reslot, work, per_second, reslots + 1))
        else:
            self._timer.call_later(slots.next_free, functools.partial(self._submit, work))

    def _held(self, screen: control.Screen) -> None:
        """Count what delivery control held back; hand what is due again soon back to
        the ready list when it is (the sweeper finds it if this process ends first)."""
        if screen.held:
            metrics.held(screen.held)
        by_time: dict[float, list[str]] = {}
        for delivery_id, delay in screen.later:
            by_time.setdefault(round(delay, 2), []).append(delivery_id)
        for delay, ids in by_time.items():
            self._timer.call_later(delay, functools.partial(self._push_ready, ids))

    def _push_ready(self, delivery_ids: list[str]) -> None:
        try:
            push_ready(self._state.queue, delivery_ids)
        except (redis.RedisError, OSError):
            log.warning("Could not queue %d deliveries held back by delivery control; "
                        "the sweeper will send them.", len(delivery_ids), exc_info=True)

    def _defer(self, delivery_ids: list[str]) -> None:
        """Hand deliveries to a host that is being held back to RQ's scheduler for later."""
        try:
            with self._state.redis.pipeline() as pipe:
                enqueue_at(self._state.queue, utcnow() + dt.timedelta(seconds=DEFER_SECONDS),
                           delivery_ids, pipe)
                pipe.execute()
        except (redis.RedisError, OSError):
            log.warning("Could not defer %d deliveries; the sweeper will send them.",
                        len(delivery_ids), exc_info=True)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every claimed delivery has its outcome recorded."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unrecorded == 0, timeout)

    def _sent(self, work: Work, result: transport.HttpResult) -> None:
        """A POST is over (on the sender's loop): free its slot, queue its outcome (the
        recorder tells :class:`Fairness` about it)."""
        if not work.paced:
            self._slots.give(1)
        self._outcomes.put(Outcome(work, result, result.started_at or utcnow(), utcnow()))

    def _record_forever(self) -> None:
        while True:
            batch = [self._outcomes.get()]
            self._take_queued(batch)
            if lingers(batch):
                time.sleep(RECORD_LINGER_SECONDS)
                self._take_queued(batch)
            # Counted here, a batch at a time, rather than on the sender's thread as each
            # POST ends: a destination is busy a few milliseconds longer, and the
            # sender's thread takes no lock per POST.
            self._fairness.finished((outcome.work.url, outcome.result) for outcome in batch)
            self._record(batch)
            metrics.observe_recorded(batch, self._settings.retry_delays)
            with self._idle:
                self._unrecorded -= len(batch)
                self._idle.notify_all()

    def _take_queued(self, batch: list[Outcome]) -> None:
        """Add the outcomes waiting to ``batch``, up to :data:`RECORD_BATCH`."""
        while len(batch) < RECORD_BATCH:
            try:
                batch.append(self._outcomes.get_nowait())
            except queue.Empty:
                return

    def _record(self, batch: list[Outcome]) -> None:
        delay = 0.5
        while True:
            try:
                with self._app.app_context():
                    follow = ledger.record(self._state.db.session, batch, self._settings)
                    log_outcomes(batch, follow)
                    self._after_record(follow)
                    self._wake_fifo(batch, follow)
                return
            except Exception:
                # The database is unreachable or refused the batch. The leases stay, so
                # if this process dies the sweeper resends; keep trying meanwhile.
                log.exception("Recording %d outcomes failed; retrying in %.1f s", len(batch), delay)
                time.sleep(delay)
                delay = min(delay * 2, 30.0)

    def _wake_fifo(self, batch: list[Outcome], follow: ledger.Followups) -> None:
        """Send the next delivery of each FIFO queue whose head this batch finished."""
        fifo = {o.work.delivery_id: o.work.webhook_id for o in batch if o.work.fifo}
        if not fifo:
            return
        done = [o.work.delivery_id for o in follow.succeeded]
        done += [failure.delivery_id for failure in follow.failures]
        webhook_ids = {fifo[i] for i in done if i in fifo}
        if not webhook_ids:
            return
        try:
            heads = ordering.wake(self._state.db.session, webhook_ids, utcnow())
        except Exception:
            self._state.db.session.rollback()
            log.exception("Could not wake the next FIFO deliveries; they go out within "
                          "%g s", ordering.PARK_SECONDS)
            return
        if heads and not self._closing:
            # Once closing, the heads are due and the sweeper (or the next worker) sends them.
            try:
                self._successors.submit(self._dispatch_successors, heads)
            except RuntimeError:  # shut down meanwhile
                pass

    def _dispatch_successors(self, delivery_ids: list[str]) -> None:
        try:
            with self._app.app_context():
                self.dispatch(delivery_ids, wait=False)
        except Exception:
            log.exception("Could not send the next FIFO deliveries; the sweeper will")

    def _after_record(self, follow: ledger.Followups) -> None:
        app = self._app
        if follow.retries:
            by_second: dict[dt.datetime, list[str]] = {}
            for delivery_id, when in follow.retries:
                by_second.setdefault(whole_second_after(when), []).append(delivery_id)
            try:
                with self._state.redis.pipeline() as pipe:
                    for when, ids in by_second.items():
                        enqueue_at(self._state.queue, when, ids, pipe)
                    pipe.execute()
            except (redis.RedisError, OSError):
                log.warning("Could not schedule %d retries; the sweeper will send them.",
                            len(follow.retries), exc_info=True)
        for outcome in follow.succeeded:
            signals.delivery_succeeded.send(
                app, delivery_id=outcome.work.delivery_id, webhook_id=outcome.work.webhook_id,
                response_code=outcome.result.status,
            )
        for webhook_id in follow.recovered_webhooks:
            signals.webhook_recovered.send(app, webhook_id=webhook_id)
        for failure in follow.failures:
            signals.delivery_failed.send(
                app, delivery_id=failure.delivery_id, webhook_id=failure.webhook_id,
                reason=failure.reason,
            )
            if failure.exhausted:
                signals.webhook_failed.send(
                    app, webhook_id=failure.webhook_id, owner=failure.owner,
                    delivery_id=failure.delivery_id,
                )
                self._mailer.submit(self._mail, notify.send_failure_email, failure)

    def _mail(self, send: Callable[[State, ledger.Failure], bool],
              failure: ledger.Failure) -> None:
        try:
            with self._app.app_context():
                send(self._state, failure)
        except Exception:
            log.exception("Could not e-mail the owner of %s", failure.webhook_id)

    def close(self) -> None:
        self._closing = True
        self._successors.shutdown(wait=True)
        self.drain()
        self._timer.close()
        self._sender.close()
        self._mailer.shutdown(wait=True)


def log_outcomes(batch: Sequence[Outcome], follow: ledger.Followups) -> None:
    """One line per recorded attempt: INFO for each that did not succeed (refused by the
    destination guard, failed for good, or failed with a retry scheduled), with the
    webhook and the reason; DEBUG for a success, so a busy worker's log shows trouble."""
    retries = dict(follow.retries)
    debug = log.isEnabledFor(logging.DEBUG)
    for outcome in batch:
        work, result = outcome.work, outcome.result
        success = classify(result) is Verdict.SUCCESS
        if success and not debug:
            continue
        where = (f"Delivery {work.delivery_id} of {work.event_type} to webhook "
                 f"{work.webhook_id}, attempt {work.attempt_number}")
        if success:
            log.debug("%s: succeeded (HTTP %s in %d ms)", where, result.status,
                      result.elapsed_ms)
            continue
        # As stored: the receiver's echo of a secret header value masked.
        reason = disclosure.error_text(result, work.secret_values) or "no answer"
        if result.refused:
            log.info("%s: refused, not sent: %s; not retried", where, reason)
        elif work.delivery_id in retries:
            log.info("%s: failed: %s; retry scheduled for %s", where, reason,
                     isoformat(retries[work.delivery_id]))
        else:
            log.info("%s: failed: %s; not retried", where, reason)


def process_dispatcher(app: Flask) -> Dispatcher:
    """This process's :class:`Dispatcher` for ``app``, made on first use.

    :meth:`State.close_dispatcher <flask_clawhooks.state.State.close_dispatcher>` stops it.
    """
    state = get_state(app)
    with state.lock:
        if state.dispatcher is None:
            state.dispatcher = Dispatcher(app, state)
        return state.dispatcher
