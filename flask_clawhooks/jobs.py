"""RQ job functions. They take delivery ids, never objects, and read fresh state.

They run inside ``flask clawhooks worker``, which provides the app context. Run by any
other RQ worker (one that forks per job), :func:`deliver` waits for its POSTs to finish
so that nothing is left in flight when the job's process exits.
"""

from __future__ import annotations

from flask import current_app


def deliver(delivery_ids: list[str]) -> int:
    """Claim and send the due ones among ``delivery_ids``; return how many were claimed."""
    state = current_app.extensions["clawhooks"]
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return int(state.dispatcher(app).dispatch(delivery_ids))
