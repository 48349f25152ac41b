"""Where each app's state lives, and the one way to find it: :func:`get_state`.

:meth:`ClawHooks.init_app <flask_clawhooks.ClawHooks.init_app>` puts a :class:`State` in
``app.extensions["clawhooks"]``. Every module below the extension reads it through
:func:`get_state`, never by importing :mod:`flask_clawhooks.extension` (which imports
them), so the package has no import cycle and a typo in the key cannot hide.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis
from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy
from redis import Redis
from rq import Queue

from . import encryption
from .config import Settings
from .encryption import Cipher
from .enqueue import push_ready
from .errors import NotInitialized
from .handoff import Handoff
from .ratelimit import InFlightLimiter, LocalLimiter
from .redisclient import CircuitBreaker, connect

if TYPE_CHECKING:
    from .dispatch import Dispatcher
    from .extension import ClawHooks

#: The key of :class:`State` in ``app.extensions``.
EXTENSION_KEY = "clawhooks"

log = logging.getLogger("flask_clawhooks")


@dataclass
class Loaders:
    """The host's callbacks (see the decorators of :class:`~flask_clawhooks.ClawHooks`)."""

    #: ``owner -> e-mail address`` for failure e-mails, or None.
    owner_email: Callable[[str], str | None] | None = None
    #: ``token -> owner`` for the JSON API, replacing the ``clawhooks_api_key`` table.
    api_key: Callable[[str], str | None] | None = None
    #: ``() -> owner`` viewing the dashboard, or None.
    dashboard_owner: Callable[[], str | None] | None = None


def get_state(app: Flask | None = None) -> State:
    """The :class:`State` of ``app`` (default: the current app).

    :raises NotInitialized: if ClawHooks was not registered on that app.
    """
    target = app if app is not None else current_app
    state = target.extensions.get(EXTENSION_KEY)
    if state is None:
        raise NotInitialized(
            "ClawHooks is not registered on this app: call ClawHooks(app) or "
            "clawhooks.init_app(app) first."
        )
    assert isinstance(state, State)
    return state


class State:
    """What :class:`~flask_clawhooks.ClawHooks` keeps for one app, in
    ``app.extensions["clawhooks"]``; :func:`get_state` finds it."""

    def __init__(self, extension: ClawHooks, db: SQLAlchemy, settings: Settings) -> None:
        #: The extension object, for its operations (``emit``, ``sweep``, ``send_test``…).
        self.extension = extension
        self.db = db
        self.settings = settings
        self._clients: dict[bool, Redis] = {}
        self._queues: dict[bool, Queue] = {}
        #: This process's :class:`~flask_clawhooks.dispatch.Dispatcher`, made on first use
        #: by :func:`flask_clawhooks.dispatch.process_dispatcher` under :attr:`lock`.
        self.dispatcher: Dispatcher | None = None
        self.lock = threading.Lock()
        self._redis_lock = threading.Lock()
        #: True inside ``flask clawhooks worker``: jobs hand deliveries over and return.
        self.worker_mode = False
        #: True once the worker was asked to stop: jobs claim nothing more.
        self.stopping = False
        #: Keeps a hung or dead Redis off the request path (see :mod:`.redisclient`).
        self.breaker = CircuitBreaker(settings.redis_circuit_cooldown)
        #: Bounds the test sends this process makes (see :meth:`ClawHooks.send_test`).
        self.test_sends = InFlightLimiter(settings.test_send_limit_per_owner,
                                          settings.test_send_limit)
        #: Seals and opens webhook secrets at rest (see :mod:`.encryption`).
        self.cipher = Cipher(settings.encryption_keys)
        #: Counts API requests while Redis cannot (see :mod:`.ratelimit`).
        self.local_rate_limit = LocalLimiter()
        #: Pushes the ids of new deliveries to Redis off the request (see :meth:`enqueue`).
        self.handoff = Handoff(self.push)

    @property
    def redis(self) -> Redis:
        """The worker client inside ``flask clawhooks worker``, else the request client.

        The worker's (RQ's) has ordinary timeouts and retries; everywhere else, a web
        request or a command, each Redis call is bounded by
        ``CLAWHOOKS_REDIS_REQUEST_TIMEOUT`` and not retried.
        """
        return self._client(self.worker_mode)

    @property
    def request_redis(self) -> Redis:
        """The client with short timeouts, whatever the mode."""
        return self._client(False)

    def _client(self, worker: bool) -> Redis:
        client = self._clients.get(worker)
        if client is None:
            with self._redis_lock:
                client = self._clients.get(worker)
                if client is None:
                    if worker:
                        client = connect(self.settings.redis_url, timeout=None,
                                         connect_timeout=2.0, retries=True)
                    else:
                        bound = self.settings.redis_request_timeout
                        client = connect(self.settings.redis_url, timeout=bound,
                                         connect_timeout=bound, retries=False)
                    self._clients[worker] = client
        return client

    @property
    def queue(self) -> Queue:
        """The RQ queue on :attr:`redis`."""
        return self._queue(self.worker_mode)

    def _queue(self, worker: bool) -> Queue:
        queue = self._queues.get(worker)
        if queue is None:
            queue = self._queues[worker] = Queue(self.settings.queue,
                                                 connection=self._client(worker))
        return queue

    def reset_redis(self) -> None:
        """Forget the Redis clients (closing their connections); the next use makes new
        ones from the current settings."""
        with self._redis_lock:
            clients, self._clients, self._queues = list(self._clients.values()), {}, {}
        for client in clients:
            client.connection_pool.disconnect()

    def close_dispatcher(self) -> None:
        """Stop this process's dispatcher, if it has one, after its POSTs in flight."""
        with self.lock:
            dispatcher, self.dispatcher = self.dispatcher, None
        if dispatcher is not None:
            dispatcher.close()

    @property
    def loaders(self) -> Loaders:
        """The host's callbacks, registered on the extension object."""
        return self.extension.loaders

    def owner_email(self, owner: str) -> str | None:
        loader = self.loaders.owner_email
        return loader(owner) if loader is not None else None

    def enqueue(self, delivery_ids: list[str]) -> None:
        """Queue deliveries after the commit that made them, from inside a request: they
        go to this process's :class:`~flask_clawhooks.handoff.Handoff`, which pushes
        them from its own thread (:meth:`push`), so the request does not wait for Redis.
        """
        self.handoff.put(delivery_ids)

    def push(self, delivery_ids: list[str]) -> None:
        """Add ``delivery_ids`` to the ready list now (the hand-off's thread calls it).

        Uses the request client through the circuit breaker: while Redis is failing the
        ids are left to the sweeper, which finds them in the database.
        """
        if not self.breaker.allow():
            log.debug("Redis is skipped for now; the sweeper will send %d deliveries.",
                      len(delivery_ids))
            return
        try:
            push_ready(self._queue(False), delivery_ids)
        except (redis.RedisError, OSError) as exc:
            self.breaker.failed(exc)
            # One line, not a traceback: an unreachable Redis is an outage to report,
            # not a bug, and the sweeper makes up for it.
            log.warning("Could not queue %d deliveries (%s); the sweeper will send them.",
                        len(delivery_ids), exc)
            return
        self.breaker.succeeded()


encryption.find_cipher_with(lambda: get_state().cipher)
