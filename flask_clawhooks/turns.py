"""One worker's turn per interval for periodic work (the health check, the prune).

Every worker's sweeper asks after each sweep; a Redis key that lives for the interval
lets one of them through. If Redis cannot be reached, each worker goes by its own clock,
so the work must be safe to run twice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import weakref
from typing import Any

import redis
from flask import Flask

from .timeutil import utcnow


class Turns:
    """The turns of one kind of periodic work, named ``name`` in Redis's keys."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._last_local: weakref.WeakKeyDictionary[Flask, dt.datetime] = (
            weakref.WeakKeyDictionary())

    def _key(self, state: Any) -> str:
        return f"clawhooks:{state.settings.queue}:{self.name}"

    def take(self, app: Flask, state: Any, interval: float) -> bool:
        """Whether this worker takes the turn now (no other did within ``interval`` s)."""
        now = utcnow()
        try:
            turn = bool(state.redis.set(self._key(state), 1, nx=True,
                                        px=max(int(interval * 1000), 1)))
        except (redis.RedisError, OSError):
            last = self._last_local.get(app)
            turn = last is None or (now - last).total_seconds() >= interval
        if turn:
            self._last_local[app] = now
        return turn

    def give_back(self, app: Flask, state: Any) -> None:
        """Let the next sweep of any worker take the turn at once (work is left)."""
        self._last_local.pop(app, None)
        with contextlib.suppress(redis.RedisError, OSError):
            state.redis.delete(self._key(state))
