"""Handing new delivery ids to Redis from a thread, so the emitting request never waits.

After the commit that made them (:func:`flask_clawhooks.enqueue.after_commit`), a
request's new delivery ids go to its process's :class:`Handoff`, which pushes them to the
ready list from a thread of its own: the request pays for appending them to a list, not
for a Redis round trip (a quarter of a millisecond on loopback, up to
``CLAWHOOKS_REDIS_REQUEST_TIMEOUT`` when Redis hangs), and the ids of commits made while
a push is under way go together in the next one.

Nothing is lost if the process dies before a push: the deliveries are committed, and the
sweeper finds those that are due and not queued, as it does while Redis is down. A
process that exits normally pushes what it holds first (an :mod:`atexit` hook, bounded
by :data:`EXIT_SECONDS`). The thread ends after :data:`IDLE_SECONDS` without work and
starts again on the next commit; a forked child starts its own and leaves the parent's
ids to the parent.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable

log = logging.getLogger("flask_clawhooks")

#: Seconds the pushing thread waits for more ids before it ends.
IDLE_SECONDS = 1.0
#: Most seconds an exiting process waits for its last ids to be pushed.
EXIT_SECONDS = 5.0

_live: weakref.WeakSet[Handoff] = weakref.WeakSet()


class Handoff:
    """Calls ``push(ids)`` from a thread with the ids :meth:`put` gathered meanwhile.

    ``push`` reports its own failures; anything it raises is logged and the ids are left
    to the sweeper.
    """

    def __init__(self, push: Callable[[list[str]], None]) -> None:
        self._push = push
        self._reset()
        _live.add(self)

    def _reset(self) -> None:
        self._ids: list[str] = []
        self._pushing = False
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()

    def put(self, delivery_ids: list[str]) -> None:
        """Push ``delivery_ids`` soon; returns at once."""
        with self._cond:
            self._ids.extend(delivery_ids)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="clawhooks-handoff",
                                                daemon=True)
                self._thread.start()
            else:
                self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every id put so far has been pushed (or failed to be); False if
        ``timeout`` seconds passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._ids and not self._pushing, timeout)

    def _run(self) -> None:
        cond = self._cond
        while True:
            with cond:
                if not self._ids:
                    cond.wait_for(lambda: bool(self._ids), IDLE_SECONDS)
                    if not self._ids:
                        self._thread = None
                        return
                ids, self._ids = self._ids, []
                self._pushing = True
            try:
                self._push(ids)
            except Exception:
                log.exception("Could not queue %d deliveries; the sweeper will send them.",
                              len(ids))
            finally:
                with cond:
                    self._pushing = False
                    cond.notify_all()


def _forget_in_child() -> None:
    """A forked child has none of its parent's threads: its hand-offs start afresh, and
    the ids its parent held are the parent's to push."""
    for handoff in list(_live):
        handoff._reset()


@atexit.register
def _flush_at_exit() -> None:
    deadline = time.monotonic() + EXIT_SECONDS  # for all of them together
    for handoff in list(_live):
        if not handoff.flush(max(0.0, deadline - time.monotonic())):
            log.warning("Exiting before queueing every new delivery; the sweeper will "
                        "send the rest.")


os.register_at_fork(after_in_child=_forget_in_child)
