"""RQ job functions. They take delivery ids, never objects, and read fresh state.

They run inside ``flask clawhooks worker``, which provides the app context. Run by any
other RQ worker (one that forks per job), they wait for their POSTs to finish so that
nothing is left in flight when the job's process exits.
"""

from __future__ import annotations

import logging

import redis
from flask import current_app

from .dispatch import process_dispatcher
from .enqueue import push_ready, take_ready
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
    """Take a batch of ids off the ready list and deliver them."""
    return deliver(take_ready(get_state().queue))
