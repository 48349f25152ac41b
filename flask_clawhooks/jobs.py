"""RQ job functions. They take delivery ids, never objects, and read fresh state.

They run inside ``flask clawhooks worker``, which provides the app context. Run by any
other RQ worker (one that forks per job), they wait for their POSTs to finish so that
nothing is left in flight when the job's process exits.
"""

from __future__ import annotations

from flask import current_app

from .enqueue import take_ready


def deliver(delivery_ids: list[str]) -> int:
    """Claim and send the due ones among ``delivery_ids``; return how many were claimed."""
    state = current_app.extensions["clawhooks"]
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return int(state.dispatcher(app).dispatch(delivery_ids))


def drain() -> int:
    """Take a batch of ids off the ready list and deliver them."""
    state = current_app.extensions["clawhooks"]
    return deliver(take_ready(state.queue))
