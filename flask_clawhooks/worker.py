"""``flask clawhooks worker``: an RQ worker built for many small, slow-to-answer jobs.

It is RQ's :class:`~rq.worker.SimpleWorker` (no fork per job) with three additions:
each job runs inside the Flask app's context; jobs hand their deliveries to the process's
:class:`~flask_clawhooks.dispatch.Dispatcher` and return at once, so many POSTs are in
flight while the worker takes the next job; and a sweeper thread re-queues deliveries
that are due but lost to Redis (``CLAWHOOKS_SWEEP_INTERVAL``). On shutdown it waits for
the POSTs in flight and their records.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from flask import Flask
from rq.exceptions import StopRequested
from rq.job import Job
from rq.queue import Queue
from rq.worker import SimpleWorker

from . import health
from .extension import EXTENSION_KEY, State

log = logging.getLogger("flask_clawhooks")


class ClawHooksWorker(SimpleWorker):
    """A :class:`~rq.worker.SimpleWorker` that runs jobs in ``flask_app``'s context."""

    def __init__(self, *args: Any, flask_app: Flask, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.flask_app = flask_app
        self._sweeper: Sweeper | None = None
        self._sweep_in_background = False

    def perform_job(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> bool:
        with self.flask_app.app_context():
            return bool(super().perform_job(job, queue, *args, **kwargs))

    def dequeue_job_and_maintain_ttl(self, *args: Any, **kwargs: Any) -> Any:
        # Started here, after RQ has forked its scheduler process, so that process
        # inherits no threads of ours.
        if self._sweep_in_background and self._sweeper is None:
            self._sweeper = Sweeper(self.flask_app)
            self._sweeper.start()
        return super().dequeue_job_and_maintain_ttl(*args, **kwargs)

    def teardown(self) -> None:
        if self._sweeper is not None:
            self._sweeper.stop()
        state: State = self.flask_app.extensions[EXTENSION_KEY]
        state.close_dispatcher()
        super().teardown()


class Sweeper(threading.Thread):
    """Runs :meth:`ClawHooks.sweep` every ``CLAWHOOKS_SWEEP_INTERVAL`` seconds."""

    def __init__(self, app: Flask) -> None:
        super().__init__(name="clawhooks-sweeper", daemon=True)
        self._app = app
        self._stopped = threading.Event()

    def run(self) -> None:
        state: State = self._app.extensions[EXTENSION_KEY]
        while not self._stopped.wait(state.settings.sweep_interval):
            try:
                with self._app.app_context():
                    count = state.extension.sweep()
                if count:
                    log.info("Sweeper re-queued %d deliveries", count)
            except Exception:
                log.exception("Sweep failed; trying again in %.0f s", state.settings.sweep_interval)
            health.run_due_check(self._app)

    def stop(self) -> None:
        self._stopped.set()


def run_worker(
    app: Flask,
    *,
    burst: bool = False,
    with_scheduler: bool = True,
    logging_level: str = "INFO",
    name: str | None = None,
) -> bool:
    """Sweep once, then work the app's queue (until it is empty, with ``burst``).

    RQ's worker quits when it loses Redis; outside burst mode this starts it again,
    waiting 1 s, 2 s, … 30 s between tries, until Redis answers or the worker is told
    to stop. Deliveries queued in a Redis that was lost are found again by the sweep.

    :returns: whether any job was processed.
    """
    state: State = app.extensions[EXTENSION_KEY]
    state.worker_mode = True
    worked = False
    pause = 1.0
    try:
        while True:
            worker: ClawHooksWorker | None = None
            try:
                with app.app_context():
                    state.extension.sweep()
                worker = ClawHooksWorker([state.queue], connection=state.redis, flask_app=app,
                                         name=name)
                worker._sweep_in_background = not burst
                worked |= bool(worker.work(burst=burst, with_scheduler=with_scheduler,
                                           logging_level=logging_level))
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if burst:
                    raise
                log.warning("Redis is unreachable (%s); trying again in %.0f s", exc, pause)
            else:
                # RQ notes the time of a warm shutdown request (SIGINT/SIGTERM); when
                # idle it stops the loop without setting _stop_requested.
                if burst or worker._stop_requested or worker._shutdown_requested_date:
                    return worked
                log.warning("The worker lost Redis; starting again in %.0f s", pause)
            try:
                time.sleep(pause)
            except StopRequested:  # RQ's signal handler, between two runs
                return worked
            pause = min(pause * 2, 30.0)
    finally:
        state.worker_mode = False
