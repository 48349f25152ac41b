"""What a process forked by a worker does first: let go of its parent's connections and
die with its parent.

A ``flask clawhooks worker`` forks: RQ starts its scheduler as a forked child, and
``--processes N`` forks the worker processes. A forked child inherits every open file
descriptor of its parent, database sockets included. Two things then go wrong when the
parent is SIGKILLed (the OOM killer, ``kill -9``, a container stop past its grace):

* the child lives on, reparented to init, and
* it still holds the parent's PostgreSQL socket, so the server never sees the connection
  close: a transaction the parent had open stays "idle in transaction" with its row locks
  for as long as the child lives, and every other worker waits on those locks.

SQLAlchemy's advice for pools and multiprocessing is ``engine.dispose(close=False)`` in
the child, so that it never *uses* the parent's connections; that alone does not close
the inherited descriptors (psycopg deliberately leaves a connection created in another
process alone), so the parent's session survives while the child does. :func:`install`
registers an :func:`os.register_at_fork` hook that, in every child forked afterwards,

* closes the descriptors of the parent's database connections (those of the engines
  passed to :func:`protect_engine`; only the child's copy is closed, nothing is sent, the
  parent's connections are unaffected) and disposes of the pools without touching them,
* closes its copies of the sockets of the Redis clients passed to :func:`protect_redis`,
* and arranges for the child to exit when its parent dies (:func:`die_with_parent`).

The hooks also hold SIGTERM and SIGINT while the fork is under way (a stop handler that
raised inside the fork hooks left the logging lock held and hung the worker), and give
the child the default handlers of those two signals, not the parent worker's.

Then a SIGKILLed worker's database sessions end with it, and so do its children.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time
import weakref
from typing import Any

import redis
from sqlalchemy import event
from sqlalchemy.engine import Engine

log = logging.getLogger("flask_clawhooks")

#: Seconds a forked child may take to stop after its parent died before it is ended
#: with :func:`os._exit`. RQ's scheduler stops within a second of SIGTERM.
DEFAULT_GRACE = 3.0
#: Seconds between two looks at the parent's pid (the portable fallback of PDEATHSIG).
PARENT_POLL_INTERVAL = 0.2

_PR_SET_PDEATHSIG = 1

#: Database sockets opened in this process: descriptor -> (pid, st_dev, st_ino). The
#: inode tells the socket apart from a later one that reuses the descriptor number.
_db_sockets: dict[int, tuple[int, int, int]] = {}
_engines: weakref.WeakSet[Engine] = weakref.WeakSet()
_redis_clients: weakref.WeakSet[redis.Redis] = weakref.WeakSet()
#: Pools a child inherited: kept referenced so that nothing ever finalizes (rolls back,
#: closes) a connection of the parent from the child.
_inherited: list[Any] = []
_installed = False
_forking_pid = 0
#: The signals a worker stops on; held while a fork is under way.
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
#: The forking thread's signal mask before :func:`_before_fork` held them.
_mask_before_fork: set[int | signal.Signals] | None = None
_parent_watch: _ParentWatch | None = None


def install() -> None:
    """Register the at-fork hooks of this module (once per process)."""
    global _installed
    if _installed or not hasattr(os, "register_at_fork"):
        return
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)
    _installed = True


def protect_engine(engine: Engine, application_name: str | None = None) -> bool:
    """Record the sockets of ``engine``'s connections so that forked children close them.

    Connections opened before this call are not recorded: call it before the engine
    connects, or dispose of the engine right after (``run_worker`` does).

    :param application_name: on PostgreSQL, the ``application_name`` given to new
        connections that do not set one, so that ``pg_stat_activity`` shows whose they
        are; ``{pid}`` is replaced by the connecting process's id.
    :returns: False if ``engine`` was protected already.
    """
    if engine in _engines:
        return False
    _engines.add(engine)
    event.listen(engine, "connect", _remember_socket)
    if application_name and engine.dialect.name == "postgresql":
        def tag(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
            cparams.setdefault("application_name",
                               application_name.format(pid=os.getpid())[:63])

        event.listen(engine, "do_connect", tag)
    return True


def protect_redis(client: redis.Redis) -> None:
    """Have forked children close their copies of ``client``'s sockets."""
    _redis_clients.add(client)


def _remember_socket(dbapi_connection: Any, record: Any) -> None:
    fileno = getattr(dbapi_connection, "fileno", None)
    if fileno is None:  # sqlite3: a file, and SQLite's locks are not inherited by fork
        return
    try:
        fd = int(fileno())
        stat = os.fstat(fd)
    except (OSError, ValueError, TypeError, AttributeError):
        return
    _db_sockets[fd] = (os.getpid(), stat.st_dev, stat.st_ino)


def _before_fork() -> None:
    global _forking_pid, _mask_before_fork
    _forking_pid = os.getpid()
    # The worker's SIGTERM/SIGINT handlers (RQ's and ours) raise StopRequested. Raised in
    # the middle of the fork hooks, it left the logging module's lock held for good in
    # the parent (its after-fork release never ran), and the next log line hung the
    # worker. Held here, before any other hook (before-hooks run last-registered first),
    # such a signal is handled once the fork is done.
    _mask_before_fork = None
    _mask_before_fork = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def _restore_signal_mask() -> None:
    global _mask_before_fork
    if _mask_before_fork is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, _mask_before_fork)
        _mask_before_fork = None


def _after_fork_in_parent() -> None:
    _restore_signal_mask()


def _after_fork_in_child() -> None:
    # The parent's handlers belong to the parent's worker; in the child (RQ's scheduler,
    # until it installs its own) a stop signal simply ends the process.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _restore_signal_mask()
    try:
        _close_inherited_database_sockets()
        _close_inherited_redis_sockets()
    except Exception:  # never let a hook break the fork
        log.exception("Could not release the connections inherited from the parent")
    die_with_parent(DEFAULT_GRACE, parent=_forking_pid)


def _close_inherited_database_sockets() -> None:
    parent_sockets = list(_db_sockets.items())
    _db_sockets.clear()
    for fd, (_, dev, ino) in parent_sockets:
        try:
            stat = os.fstat(fd)
        except OSError:
            continue
        if (stat.st_dev, stat.st_ino) == (dev, ino):
            os.close(fd)  # the child's copy only: the parent's connection is untouched
    for engine in list(_engines):
        _inherited.append(engine.pool)
        engine.dispose(close=False)


def _close_inherited_redis_sockets() -> None:
    pools = []
    for client in list(_redis_clients):
        pool = client.connection_pool
        pools.append(pool)
        manager = getattr(pool, "sentinel_manager", None)
        for sentinel in getattr(manager, "sentinels", ()):
            pools.append(sentinel.connection_pool)
    for pool in pools:
        connections = [*getattr(pool, "_available_connections", ()),
                       *getattr(pool, "_in_use_connections", ())]
        for connection in connections:
            sock = getattr(connection, "_sock", None)
            if sock is not None:
                # close() without shutdown(): only this process's descriptor goes.
                sock.close()
        # redis-py notices the new pid on the pool's next use and starts afresh.


def die_with_parent(grace: float = DEFAULT_GRACE, *, parent: int | None = None) -> None:
    """Make this process stop when its parent dies: SIGTERM at once, ``os._exit`` after
    ``grace`` seconds if it is still running then.

    On Linux the kernel sends the SIGTERM (``prctl(PR_SET_PDEATHSIG)``); elsewhere, and as
    a fallback, a daemon thread watches the parent's pid. Call it in the child, from the
    thread that will run the child's work; calling it again changes ``grace``.

    :param parent: the pid of the parent as known before the fork; if the parent is
        already gone (it died between the fork and this call), the child stops now.
    """
    global _parent_watch
    parent = os.getppid() if parent is None or parent == 0 else parent
    kernel = _set_pdeathsig(signal.SIGTERM)
    if kernel and os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)  # it died before the kernel was told
    if _parent_watch is not None and _parent_watch.pid == os.getpid():
        _parent_watch.grace = grace
        return
    _parent_watch = _ParentWatch(parent, grace, signal_self=not kernel)
    _parent_watch.start()


def _set_pdeathsig(signum: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        # The process's own symbols include libc's; ctypes.util.find_library would run
        # ldconfig in a subprocess, in a child that may be about to die.
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


class _ParentWatch(threading.Thread):
    """Ends this process once its parent is gone (a new parent pid means reparenting)."""

    def __init__(self, parent: int, grace: float, *, signal_self: bool) -> None:
        super().__init__(name="clawhooks-parent-watch", daemon=True)
        self.pid = os.getpid()
        self.parent = parent
        self.grace = grace
        self.signal_self = signal_self

    def run(self) -> None:
        while os.getppid() == self.parent:
            time.sleep(PARENT_POLL_INTERVAL)
        if self.signal_self:
            os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline:
            time.sleep(PARENT_POLL_INTERVAL)
        os._exit(70)  # EX_SOFTWARE: still running after its parent died and a grace
