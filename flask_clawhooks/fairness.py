"""Fairness between destinations: one slow or dead receiver never takes every sender.

Used by the process's :class:`~flask_clawhooks.dispatch.Dispatcher` when it claims: a
destination whose last attempt timed out or could not connect is held back, and what
would go to it beyond its share is deferred without spending an attempt.
"""

from __future__ import annotations

import collections
import functools
import threading
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from . import transport

#: Seconds before deliveries to a held-back destination are tried again.
DEFER_SECONDS = 2.0
#: Seconds a destination stays held back after a timeout or connection failure.
PENALTY_SECONDS = 60.0


class Fairness:
    """Keeps one slow or dead destination from taking every sender.

    A destination (scheme, host and port) whose attempt timed out or could not connect
    is held back for :data:`PENALTY_SECONDS`: it may have at most an eighth of the
    senders busy, and deliveries beyond that are deferred for :data:`DEFER_SECONDS`
    without using an attempt. Healthy destinations, however slow to answer, may use
    every sender.
    """

    def __init__(self, concurrency: int) -> None:
        self._cap = max(1, concurrency // 8)
        self._busy: collections.Counter[str] = collections.Counter()
        self._held_until: dict[str, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    @functools.lru_cache(maxsize=4096)
    def destination(url: str) -> str:
        """Scheme, host and port of ``url``; parsed once per URL (twice per delivery)."""
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    def admitter(self) -> Callable[[str], bool] | None:
        """A claim filter while any destination is held back, else None (no filtering)."""
        now = time.monotonic()
        with self._lock:
            held = {d for d, until in self._held_until.items() if until > now}
            for gone in [d for d in self._held_until if d not in held]:
                del self._held_until[gone]
            if not held:
                return None
            room = {d: self._cap - self._busy[d] for d in held}

        def admit(url: str) -> bool:
            destination = self.destination(url)
            if destination not in room:
                return True
            room[destination] -= 1
            return room[destination] >= 0

        return admit

    def started(self, urls: Iterable[str]) -> None:
        destinations = [self.destination(url) for url in urls]
        with self._lock:
            self._busy.update(destinations)

    def finished(self, ended: Iterable[tuple[str, transport.HttpResult]]) -> None:
        """POSTs to these URLs are over, with these results (oldest first)."""
        busy = collections.Counter[str]()
        verdicts: dict[str, bool] = {}  # destination: held back (True) or healthy (False)
        for url, result in ended:
            destination = self.destination(url)
            busy[destination] += 1
            if result.status is not None:
                verdicts[destination] = False
            elif not result.refused:
                verdicts[destination] = True
        held_until = time.monotonic() + PENALTY_SECONDS
        with self._lock:
            self._busy.subtract(busy)
            for destination, held in verdicts.items():
                if held:
                    self._held_until[destination] = held_until
                else:
                    self._held_until.pop(destination, None)
