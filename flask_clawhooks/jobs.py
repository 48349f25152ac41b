"""RQ job functions. They take delivery ids, never objects, and read fresh state.

They run inside ``flask clawhooks worker``, which provides the app context. Run by any
other RQ worker (one that forks per job), they wait for their POSTs to finish so that
nothing is left in flight when the job's process exits.
"""

from __future__ import annotations

import logging
import time

import redis
from flask import current_app

from .dispatch import process_dispatcher
from .enqueue import DRAIN_SECONDS, hand_on, push_ready, take_ready
from .state import get_state

log = logging.getLogger("flask_clawhooks")


def deliver(delivery_ids: list[str]) -> int:
    """Claim and send the due ones among ``delivery_ids``; return how many were claimed.

    A few rounds at a time: once the worker is asked to stop, the ids not yet claimed
    go back to the ready list for another worker (or, if Redis fails, to the sweeper),
    so that a warm shutdown waits for the POSTs in flight, not for a whole batch.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    state = get_state(app)
    dispatcher = process_dispatcher(app)
    step = 2 * state.settings.concurrency
    claimed = 0
    for start in range(0, len(delivery_ids), step):
        if state.stopping:
            handed_back = delivery_ids[start:]
            try:
                push_ready(state.queue, handed_back, force=True)
            except (redis.RedisError, OSError):
                log.warning("Stopping: %d deliveries are left to the sweeper.",
                            len(handed_back), exc_info=True)
            break
        claimed += int(dispatcher.dispatch(delivery_ids[start:start + step]))
    return claimed


def drain() -> int:
    """Deliver ids from the ready list, a batch at a time, until it is empty.

    One job carries on for up to :data:`~flask_clawhooks.enqueue.DRAIN_SECONDS`, so a
    backlog pays RQ's bookkeeping of a job (a dozen Redis round trips and the job's
    hash) once every few thousand deliveries rather than every 500; a job that stops
    with ids left, out of time or asked to stop, queues the next drain job.
    """
    state = get_state()
    queue = state.queue
    deadline = time.monotonic() + DRAIN_SECONDS
    claimed = 0
    while True:
        delivery_ids = take_ready(queue)
        if not delivery_ids:
            return claimed
        claimed += deliver(delivery_ids)
        if state.stopping or time.monotonic() >= deadline:
            break
    try:
        hand_on(queue)
    except (redis.RedisError, OSError):
        log.warning("Could not queue the next drain job; the sweeper will.", exc_info=True)
    return claimed
