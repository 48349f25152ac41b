"""Idempotency by event id: process each ClawBook event once, though it may arrive again.

ClawBook delivers at least once: a retry after a timeout, a manual redelivery or the same
event sent to two webhooks with the same URL all carry the same ``id``. A store remembers
ids in two states:

``processing``
    :meth:`~IdempotencyStore.claim` took the id; it lasts ``processing_ttl`` seconds, so an
    id claimed by a process that died is free again for the sender's next retry.
``done``
    :meth:`~IdempotencyStore.complete` recorded success; it lasts ``ttl`` seconds, which
    should outlive the sender's retry window (about 15 hours for ClawBook) and any manual
    redelivery you expect.

:meth:`~IdempotencyStore.release` forgets a claim whose handler failed, so the retry runs
it again. Claiming is atomic: of two concurrent requests for one id, exactly one gets
:attr:`Claim.CLAIMED`.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from collections import OrderedDict
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from .errors import ConfigurationError, EventInProgress

if TYPE_CHECKING:
    import redis

#: Default lifetime of a ``done`` record, in seconds (7 days).
DEFAULT_TTL = 7 * 24 * 3600
#: Default lifetime of a ``processing`` claim, in seconds. ClawBook gives up on a request
#: after 30 s and retries one minute later, so a claim left by a crashed process is gone
#: by the first retry.
DEFAULT_PROCESSING_TTL = 60


class Claim(enum.Enum):
    """What :meth:`IdempotencyStore.claim` found."""

    #: The id was free and is now claimed by the caller, who must complete or release it.
    CLAIMED = "claimed"
    #: Another request holds the id and has not finished yet.
    IN_PROGRESS = "in_progress"
    #: The event was processed successfully before.
    DONE = "done"


@runtime_checkable
class IdempotencyStore(Protocol):
    """The interface of idempotency stores; implement these three methods for your own."""

    def claim(self, event_id: str) -> Claim:
        """Atomically take ``event_id`` unless it is processing or done."""
        ...

    def complete(self, event_id: str) -> None:
        """Record ``event_id`` as processed successfully."""
        ...

    def release(self, event_id: str) -> None:
        """Forget a claim whose processing failed, unless the id is already done."""
        ...


def _check_ttl(name: str, value: float) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise ConfigurationError(f"{name} must be a positive number of seconds, not {value!r}.")
    return value


class MemoryIdempotencyStore:
    """Event ids kept in this process's memory: bounded, expiring, thread-safe.

    Good for a single process (tests, one-process deployments). Several worker processes
    each have their own memory, so they need :class:`RedisIdempotencyStore` instead.

    :param max_entries: when full, the oldest records are dropped first.
    :param ttl: seconds a ``done`` record is kept.
    :param processing_ttl: seconds a claim is kept if it is neither completed nor released.
    """

    def __init__(
        self,
        max_entries: int = 100_000,
        ttl: float = DEFAULT_TTL,
        *,
        processing_ttl: float = DEFAULT_PROCESSING_TTL,
    ) -> None:
        if not isinstance(max_entries, int) or isinstance(max_entries, bool) or max_entries < 1:
            raise ConfigurationError(f"max_entries must be a positive int, not {max_entries!r}.")
        self.max_entries = max_entries
        self.ttl = _check_ttl("ttl", ttl)
        self.processing_ttl = _check_ttl("processing_ttl", processing_ttl)
        self._lock = threading.Lock()
        #: event id -> (state, expiry on the monotonic clock), oldest write first.
        self._entries: OrderedDict[str, tuple[Claim, float]] = OrderedDict()

    def __len__(self) -> int:
        with self._lock:
            self._purge(time.monotonic())
            return len(self._entries)

    def _purge(self, now: float) -> None:
        # Entries are in write order; expiries are nearly so, and anything expired that
        # hides behind a live entry is dropped when read or when the store is full.
        while self._entries:
            _, expires = next(iter(self._entries.values()))
            if expires > now:
                break
            self._entries.popitem(last=False)

    def _set(self, event_id: str, state: Claim, ttl: float, now: float) -> None:
        self._entries.pop(event_id, None)
        while len(self._entries) >= self.max_entries:
            self._entries.popitem(last=False)
        self._entries[event_id] = (state, now + ttl)

    def claim(self, event_id: str) -> Claim:
        with self._lock:
            now = time.monotonic()
            self._purge(now)
            entry = self._entries.get(event_id)
            if entry is not None and entry[1] > now:
                return entry[0]
            self._set(event_id, Claim.IN_PROGRESS, self.processing_ttl, now)
            return Claim.CLAIMED

    def complete(self, event_id: str) -> None:
        with self._lock:
            self._set(event_id, Claim.DONE, self.ttl, time.monotonic())

    def release(self, event_id: str) -> None:
        with self._lock:
            entry = self._entries.get(event_id)
            if entry is not None and entry[0] is Claim.IN_PROGRESS:
                del self._entries[event_id]


_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

_PROCESSING = "processing"
_DONE = "done"


def _millis(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class RedisIdempotencyStore:
    """Event ids kept in Redis, shared by every process that uses the same Redis.

    A claim is ``SET key processing NX PX processing_ttl``; completing overwrites it with
    ``done`` for ``ttl`` seconds; releasing deletes the key only while it still says
    ``processing`` (a Lua script, so a concurrent completion is never undone). Works with
    Redis 6.2 and later.

    :param client: a :class:`redis.Redis` client, or a URL (``redis://host:6379/0``) for one.
    :param prefix: put in front of every event id to form the key.
    :param ttl: seconds a ``done`` record is kept.
    :param processing_ttl: seconds a claim is kept if it is neither completed nor released.
    """

    def __init__(
        self,
        client: redis.Redis | str,
        *,
        prefix: str = "receiver_kit:event:",
        ttl: float = DEFAULT_TTL,
        processing_ttl: float = DEFAULT_PROCESSING_TTL,
    ) -> None:
        if isinstance(client, str):
            import redis as redis_module  # only this store needs the redis package

            client = redis_module.Redis.from_url(client)
        self.client: redis.Redis = client
        self.prefix = prefix
        self.ttl = _check_ttl("ttl", ttl)
        self.processing_ttl = _check_ttl("processing_ttl", processing_ttl)
        self._release = self.client.register_script(_RELEASE_SCRIPT)

    def __repr__(self) -> str:
        return f"RedisIdempotencyStore({self.client!r}, prefix={self.prefix!r})"

    def key(self, event_id: str) -> str:
        """The Redis key for ``event_id``."""
        return self.prefix + event_id

    def claim(self, event_id: str) -> Claim:
        key = self.key(event_id)
        if self.client.set(key, _PROCESSING, nx=True, px=_millis(self.processing_ttl)):
            return Claim.CLAIMED
        state: Any = self.client.get(key)
        if state in (_DONE, _DONE.encode()):
            return Claim.DONE
        # Still processing, or released or expired between the two calls: the sender's
        # retry will find out which.
        return Claim.IN_PROGRESS

    def complete(self, event_id: str) -> None:
        self.client.set(self.key(event_id), _DONE, px=_millis(self.ttl))

    def release(self, event_id: str) -> None:
        self._release(keys=[self.key(event_id)], args=[_PROCESSING])


class EventClaim:
    """Context manager that runs the claim, complete-or-release cycle for one event.

    ::

        with claim_event(store, event["id"]) as claim:
            if claim.duplicate:
                return "already processed", 200
            handle(event)          # raises: released, a retry runs it again
            claim.complete()       # only now is the event marked processed

    Entering raises :class:`~receiver_kit.errors.EventInProgress` (503, retried by the
    sender) while another request holds the id. Leaving without :meth:`complete` releases
    the claim.
    """

    def __init__(self, store: IdempotencyStore, event_id: str) -> None:
        self.store = store
        self.event_id = event_id
        self.result: Claim | None = None
        self._finished = False

    @property
    def duplicate(self) -> bool:
        """True when the event was already processed and must not be handled again."""
        return self.result is Claim.DONE

    def __enter__(self) -> EventClaim:
        self.result = self.store.claim(self.event_id)
        if self.result is Claim.IN_PROGRESS:
            raise EventInProgress(retry_after=retry_after(self.store))
        return self

    def complete(self) -> None:
        """Mark the event processed. Call it only once the handler has succeeded."""
        if self.result is Claim.CLAIMED and not self._finished:
            self.store.complete(self.event_id)
            self._finished = True

    def release(self) -> None:
        """Give the claim up now, so a retry processes the event again."""
        if self.result is Claim.CLAIMED and not self._finished:
            self._finished = True
            self.store.release(self.event_id)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


IdempotencySpec = IdempotencyStore | str | Literal[False] | None


def make_store(spec: IdempotencySpec) -> IdempotencyStore | None:
    """Turn an ``idempotency`` setting into a store: ``False`` is none, a string a Redis URL.

    ``None`` gives a new :class:`MemoryIdempotencyStore`.
    """
    if spec is False:
        return None
    if spec is None:
        return MemoryIdempotencyStore()
    if isinstance(spec, str):
        return RedisIdempotencyStore(spec)
    if isinstance(spec, IdempotencyStore):
        return spec
    raise ConfigurationError(
        f"idempotency must be a store with claim, complete and release, "
        f"a Redis URL or False, not {spec!r}."
    )


def retry_after(store: IdempotencyStore) -> int:
    """Seconds after which an event claimed in ``store`` is surely completed or free again."""
    seconds = getattr(store, "processing_ttl", DEFAULT_PROCESSING_TTL)
    return max(1, math.ceil(seconds))


def claim_event(store: IdempotencyStore, event_id: str) -> EventClaim:
    """Return an :class:`EventClaim` for ``event_id`` in ``store``; use it in ``with``."""
    return EventClaim(store, event_id)
