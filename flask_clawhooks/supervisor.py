"""``flask clawhooks worker --processes N``: one parent supervising N worker processes.

A worker process uses one core at most (its POSTs are threads of one Python process);
``--processes`` runs one per core under a parent that

* forks the workers from the app it has loaded, holding no database or Redis connection
  itself, so that no child inherits one (and children close any copy they would get:
  :mod:`flask_clawhooks.forking`);
* starts a worker again when one dies (at once if it ran a while, after 1 s, 2 s, …
  30 s if it keeps dying right after starting);
* on SIGTERM or SIGINT (Ctrl-C) sends each worker one SIGTERM, RQ's warm shutdown: a
  worker takes no new job and waits for the POSTs it has in flight and their records.
  Workers still running after ``CLAWHOOKS_LEASE_SECONDS`` are SIGKILLed (their
  leases have run out by then, so the sweeper recovers whatever they held); a second
  signal SIGKILLs them at once;
* exits when all are gone. If the parent itself is SIGKILLed, each worker receives
  SIGTERM from the kernel (``PR_SET_PDEATHSIG``, or a watch of the parent's pid
  elsewhere) and stops the same way.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from flask import Flask

from . import forking
from .state import State, get_state

log = logging.getLogger("flask_clawhooks")

#: A worker that dies sooner than this after starting is restarted with a growing delay.
QUICK_DEATH_SECONDS = 10.0
MAX_RESTART_DELAY = 30.0
#: Seconds between two looks at the children.
POLL_INTERVAL = 0.1
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def parse_processes(value: str) -> int:
    """``"auto"`` (one per core) or a positive number of processes."""
    if value.strip().lower() == "auto":
        return max(1, os.cpu_count() or 1)
    count = int(value)
    if count < 1:
        raise ValueError("must be at least 1")
    return count


@dataclass
class _Slot:
    """One of the N worker processes, and its restart schedule."""

    index: int
    pid: int = 0
    started: float = 0.0
    delay: float = 0.0
    restart_at: float | None = 0.0
    restarts: int = 0


class Supervisor:
    """Runs ``processes`` workers of ``app`` and keeps them running; see the module.

    :param burst: each worker quits once the queue is empty; none is restarted then.
    :param shutdown_timeout: seconds to wait for the workers after SIGTERM before
        SIGKILLing them (default: ``CLAWHOOKS_LEASE_SECONDS``).
    :param on_exit: called with the pid of each worker process that ended (the metrics
        server forgets its live gauges).
    """

    def __init__(self, app: Flask, processes: int, *, burst: bool = False,
                 name: str | None = None, logging_level: str = "INFO",
                 shutdown_timeout: float | None = None,
                 on_exit: Callable[[int], None] | None = None) -> None:
        self.app = app
        self.on_exit = on_exit
        self.state: State = get_state(app)
        self.processes = processes
        self.burst = burst
        self.name = name
        self.logging_level = logging_level
        self.shutdown_timeout = (self.state.settings.lease_seconds if shutdown_timeout is None
                                 else shutdown_timeout)
        self._slots = [_Slot(index) for index in range(processes)]
        self._signals = 0

    @property
    def pids(self) -> list[int]:
        """The pids of the workers running now."""
        return [slot.pid for slot in self._slots if slot.pid]

    def run(self) -> int:
        """Start the workers and supervise them until told to stop; return an exit code
        (0 after a stop by signal, or when every burst worker finished well)."""
        self._let_go_of_connections()
        previous = {signum: signal.signal(signum, self._on_signal) for signum in _SIGNALS}
        failed = False
        try:
            while not self._signals:
                now = time.monotonic()
                for slot in self._slots:
                    if slot.pid == 0 and slot.restart_at is not None and slot.restart_at <= now:
                        self._start(slot)
                failed |= self._reap()
                if self.burst and all(s.pid == 0 and s.restart_at is None for s in self._slots):
                    return 1 if failed else 0
                time.sleep(POLL_INTERVAL)
            self._stop()
            return 0
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _let_go_of_connections(self) -> None:
        """Close this process's database and Redis connections, so that no child
        inherits one; the parent needs none."""
        forking.install()
        with self.app.app_context():
            self.state.db.session.remove()
            engines = list(self.state.db.engines.values())
        for engine in engines:
            forking.protect_engine(engine)
            engine.dispose()
        self.state.reset_redis()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals == 1:
            log.warning("Stopping %d workers (%s): waiting up to %.0f s for the POSTs in "
                        "flight; signal again to stop at once.", len(self.pids),
                        signal.Signals(signum).name, self.shutdown_timeout)
        else:
            self._kill_all()

    def _start(self, slot: _Slot) -> None:
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                self._child(slot)  # never returns
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        slot.pid, slot.started, slot.restart_at = pid, time.monotonic(), None
        log.info("Worker process %d started (%d of %d)", pid, slot.index + 1, self.processes)

    def _child(self, slot: _Slot) -> None:
        code = 1
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            forking.die_with_parent(self.shutdown_timeout)
            from .worker import rq_logging_level, run_worker, settle_heap

            settle_heap()
            name = f"{self.name}.{os.getpid()}" if self.name else None
            run = run_worker(self.app, burst=self.burst,
                             logging_level=rq_logging_level(self.logging_level),
                             name=name, supervised=True)
            code = 1 if run.failed_jobs and self.burst else 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            log.exception("Worker process %d failed", os.getpid())
        finally:
            os._exit(code)

    def _reap(self) -> bool:
        """Note the workers that ended; schedule their restart. True if one failed."""
        failed = False
        for slot in self._slots:
            if not slot.pid:
                continue
            try:
                pid, status = os.waitpid(slot.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = slot.pid, 0
            if pid == 0:
                continue
            code = os.waitstatus_to_exitcode(status)
            self._ended(slot)
            failed |= code != 0
            if self.burst:
                slot.restart_at = None  # done, or failed: a burst is not repeated
                continue
            lived = time.monotonic() - slot.started
            quick = lived < QUICK_DEATH_SECONDS
            slot.delay = min(max(slot.delay * 2, 1.0), MAX_RESTART_DELAY) if quick else 0.0
            slot.restart_at = time.monotonic() + slot.delay
            slot.restarts += 1
            how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
            log.warning("Worker process %d ended (%s) after %.0f s; starting another in "
                        "%.0f s", pid, how, lived, slot.delay)
        return failed

    def _stop(self) -> None:
        for pid in self.pids:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.shutdown_timeout
        while self.pids and time.monotonic() < deadline:
            self._collect()
            time.sleep(POLL_INTERVAL)
        if self.pids:
            log.warning("%d workers still running after %.0f s; killing them",
                        len(self.pids), self.shutdown_timeout)
            self._kill_all()
        while self.pids:
            self._collect(block=True)
        log.info("All workers stopped.")

    def _collect(self, block: bool = False) -> None:
        for slot in self._slots:
            if not slot.pid:
                continue
            try:
                pid, _ = os.waitpid(slot.pid, 0 if block else os.WNOHANG)
            except ChildProcessError:
                pid = slot.pid
            if pid:
                self._ended(slot)

    def _ended(self, slot: _Slot) -> None:
        if self.on_exit is not None:
            self.on_exit(slot.pid)
        slot.pid = 0

    def _kill_all(self) -> None:
        for pid in self.pids:
            _signal(pid, signal.SIGKILL)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
