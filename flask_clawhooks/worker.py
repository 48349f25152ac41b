"""``flask clawhooks worker``: an RQ worker built for many small, slow-to-answer jobs.

It is RQ's :class:`~rq.worker.SimpleWorker` (no fork per job) with three additions:
each job runs inside the Flask app's context; jobs hand their deliveries to the process's
:class:`~flask_clawhooks.dispatch.Dispatcher` and return at once, so many POSTs are in
flight while the worker takes the next job; and a sweeper thread re-queues deliveries
that are due but lost to Redis (``CLAWHOOKS_SWEEP_INTERVAL``). On shutdown it waits for
the POSTs in flight and their records.

Nothing it forks outlives it or keeps its database connections: see
:mod:`flask_clawhooks.forking`. On PostgreSQL its connections are named
``clawhooks-worker-<pid>`` (``application_name``) unless the URL names them, so
``pg_stat_activity`` tells whose they are.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

import redis
from flask import Flask
from rq.exceptions import StopRequested
from rq.job import Job
from rq.queue import Queue
from rq.worker import SimpleWorker

from . import forking, health, partitions, pruning
from .state import get_state

log = logging.getLogger("flask_clawhooks")

#: ``application_name`` of a worker's PostgreSQL connections; ``{pid}`` is its process id.
APPLICATION_NAME = "clawhooks-worker-{pid}"
#: A worker that ran this many seconds before losing Redis starts again after 1 s.
_STABLE_RUN_SECONDS = 60.0
#: How long the thread that listens for RQ's worker commands blocks on one read. Stopping
#: the worker waits for that read to end (redis-py >= 8.2 joins the thread in ``stop()``),
#: so this bounds how long a worker takes to stop on top of its POSTs in flight.
PUBSUB_POLL_SECONDS = 0.2


def rq_logging_level(level: str) -> str:
    """RQ's level for the worker's ``--log-level``: RQ logs three or four lines per job at
    INFO, which would bury the one line per failed attempt this package logs
    (:func:`flask_clawhooks.dispatch.log_outcomes`), so they show only at DEBUG."""
    level = level.upper()
    return level if level in ("DEBUG", "WARNING", "ERROR", "CRITICAL") else "WARNING"


def setup_logging(level: str) -> None:
    """Show this package's log at ``level`` on standard error, unless the host already
    configured a handler for it (or for the root logger)."""
    logger = logging.getLogger("flask_clawhooks")
    logger.setLevel(level.upper())
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)


@dataclass
class WorkerRun:
    """What :func:`run_worker` did."""

    #: Whether any job was processed.
    worked: bool = False
    #: Jobs that raised (RQ moved them to its failed job registry).
    failed_jobs: int = 0


class ClawHooksWorker(SimpleWorker):
    """A :class:`~rq.worker.SimpleWorker` that runs jobs in ``flask_app``'s context."""

    def __init__(self, *args: Any, flask_app: Flask, supervised: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Jobs of this worker that raised: ``--burst`` exits non-zero when there are any.
        self.jobs_failed = 0
        self.flask_app = flask_app
        self._sweeper: Sweeper | None = None
        self._sweep_in_background = False
        self._supervised = supervised
        self._tearing_down = False

    def work(self, *args: Any, **kwargs: Any) -> bool:
        """RQ's :meth:`~rq.worker.Worker.work`, torn down also when stopped while starting.

        RQ registers the worker, subscribes and forks its scheduler process before the
        ``try`` whose ``finally`` tears it all down, and a SIGTERM there raises
        :class:`StopRequested` past it: the worker stayed registered and the scheduler
        process ran on, and since :mod:`multiprocessing` waits for its children when the
        interpreter exits, the worker process never ended.
        """
        try:
            return bool(super().work(*args, **kwargs))
        except StopRequested:
            if not self._tearing_down:
                self.teardown()
            raise
        finally:
            # A second signal can cut the teardown short too; the scheduler must not
            # outlive this worker all the same.
            process = getattr(self.scheduler, "_process", None)
            if process is not None and process.is_alive():
                process.terminate()
                process.join()

    def _install_signal_handlers(self) -> None:
        super()._install_signal_handlers()  # type: ignore[no-untyped-call]  # RQ is untyped
        if self._supervised:
            # Ctrl-C reaches the whole process group; the supervisor alone answers it,
            # with one SIGTERM to each worker.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        if get_state(self.flask_app).stopping:
            # Asked to stop while this worker was starting: the signal went to the
            # handler of the one before it (run_worker starts another after losing Redis).
            self._stop_requested = True

    def subscribe(self) -> None:
        # RQ 3.0 starts this thread with sleep_time=60 (RQ 2 used 0.2), and redis-py 8.2's
        # PubSubWorkerThread.stop() waits for the thread's read to end: every teardown,
        # after --burst or SIGTERM alike, could take a minute. Same thread, short reads.
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        # Any: RQ 3.0 annotates the attribute as None.
        thread: Any = self.pubsub.run_in_thread(
            sleep_time=PUBSUB_POLL_SECONDS, daemon=True,
            exception_handler=self._pubsub_exception_handler,
        )
        self.pubsub_thread = thread

    def handle_warm_shutdown_request(self) -> None:
        # Jobs stop claiming and hand their remaining ids back (flask_clawhooks.jobs).
        get_state(self.flask_app).stopping = True
        super().handle_warm_shutdown_request()  # type: ignore[no-untyped-call]

    def handle_job_failure(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> None:
        self.jobs_failed += 1
        super().handle_job_failure(job, queue, *args, **kwargs)

    def perform_job(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> bool:
        with self.flask_app.app_context():
            return bool(super().perform_job(job, queue, *args, **kwargs))

    def dequeue_job_and_maintain_ttl(self, *args: Any, **kwargs: Any) -> Any:
        # Started here, after RQ has forked its scheduler process, so that process
        # inherits no threads of ours.
        if get_state(self.flask_app).stopping:
            # A stop whose StopRequested was lost (raised where it could only be ignored,
            # e.g. a fork hook) still stops the worker before it takes more work.
            raise StopRequested()
        if self._sweep_in_background and self._sweeper is None:
            self._sweeper = Sweeper(self.flask_app)
            self._sweeper.start()
        return super().dequeue_job_and_maintain_ttl(*args, **kwargs)

    def teardown(self) -> None:
        self._tearing_down = True
        if self._sweeper is not None:
            self._sweeper.stop()
        state = get_state(self.flask_app)
        state.close_dispatcher()
        super().teardown()  # type: ignore[no-untyped-call]


class Sweeper(threading.Thread):
    """Runs :meth:`ClawHooks.sweep` every ``CLAWHOOKS_SWEEP_INTERVAL`` seconds, and after
    it the periodic jobs when their turn comes: the health check
    (:func:`~flask_clawhooks.health.run_due_check`), retention
    (:func:`~flask_clawhooks.pruning.run_due_prune`) and the attempt partitions ahead
    (:func:`~flask_clawhooks.partitions.run_due_maintenance`)."""

    def __init__(self, app: Flask) -> None:
        super().__init__(name="clawhooks-sweeper", daemon=True)
        self._app = app
        self._stopped = threading.Event()

    def run(self) -> None:
        state = get_state(self._app)
        while not self._stopped.wait(state.settings.sweep_interval):
            try:
                with self._app.app_context():
                    count = state.extension.sweep()
                if count:
                    log.info("Sweeper re-queued %d deliveries", count)
            except (redis.RedisError, OSError) as exc:
                log.warning("Sweep failed: %s; trying again in %g s", exc,
                            state.settings.sweep_interval)
            except Exception:
                log.exception("Sweep failed; trying again in %g s", state.settings.sweep_interval)
            health.run_due_check(self._app)
            pruning.run_due_prune(self._app)
            partitions.run_due_maintenance(self._app)

    def stop(self) -> None:
        self._stopped.set()


def prepare_process(app: Flask) -> None:
    """Make ``app``'s connections safe to fork from: every database connection opened
    from now on is recorded (and tagged on PostgreSQL), and children forked from this
    process close their copies and die with it (:mod:`flask_clawhooks.forking`).

    Connections already open are closed first (except SQLite's), so none is missed.
    """
    state = get_state(app)
    forking.install()
    with app.app_context():
        engines = list(state.db.engines.values())
    for engine in engines:
        if forking.protect_engine(engine, APPLICATION_NAME) and engine.dialect.name != "sqlite":
            engine.dispose()
    forking.protect_redis(state.redis)
    forking.protect_redis(state.request_redis)


#: New container objects between two collections of the youngest generation in a worker
#: process (:func:`settle_heap`).
YOUNG_COLLECTION_THRESHOLD = 7000


def settle_heap() -> None:
    """Keep the cyclic garbage collector off what this process holds before it works.

    A worker's heap is mostly what loading the app made (Flask, SQLAlchemy, RQ, the
    app's own modules), and every full collection walked all of it: 50–80 ms each with
    ``bench.app``, a few times a minute at a fast receiver, each as much CPU as about a
    thousand deliveries. :func:`gc.freeze` moves it out of the collector's
    sight, after a collection of the two younger generations, so that what the start
    left behind lately is not kept. Not of the oldest: that walks the whole heap,
    which is what this avoids, before the first POST (after loading ``bench.app`` it
    found nothing to free, in 62 ms; the younger two in 0.8 ms); garbage that had
    already reached the oldest generation is kept for the process's life. Only for processes
    that do nothing but work (``flask clawhooks worker`` and its ``--processes``
    children), not for :func:`run_worker` called from a script or a test, whose later
    garbage in cycles it would keep.

    The youngest generation is collected after :data:`YOUNG_COLLECTION_THRESHOLD` new
    objects rather than Python's 700: a claim makes a few thousand that live until
    their POSTs end, and each young collection walked them all again. With it, one
    worker at a fast receiver ran 4 or 5 collections in 21 000 deliveries instead of
    about 210 (0.01 s in the collector instead of 0.05–0.065 s).
    """
    gc.collect(1)
    gc.freeze()
    young, *older = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_COLLECTION_THRESHOLD), *older)


def run_worker(
    app: Flask,
    *,
    burst: bool = False,
    with_scheduler: bool = True,
    logging_level: str = "INFO",
    name: str | None = None,
    supervised: bool = False,
) -> WorkerRun:
    """Sweep once, then work the app's queue (until it is empty, with ``burst``).

    RQ's worker quits when it loses Redis; outside burst mode this starts it again,
    waiting 1 s, 2 s, … 30 s between tries, until Redis answers or the worker is told
    to stop. Deliveries queued in a Redis that was lost are found again by the sweep.

    :param supervised: run under :class:`~flask_clawhooks.supervisor.Supervisor`, which
        alone answers Ctrl-C.
    :param logging_level: RQ's own level (see :func:`rq_logging_level`).
    :returns: whether any job was processed and how many failed.
    """
    state = get_state(app)
    # What this process committed before (a script or a test that emits, then works)
    # is in Redis before the worker looks there.
    state.handoff.flush()
    state.worker_mode = True
    state.stopping = False
    prepare_process(app)
    run = WorkerRun()
    pause = 1.0
    previous_handlers = _catch_stop_signals(state, supervised)
    try:
        # state.stopping is set by whichever worker's signal handler got SIGTERM/SIGINT,
        # including that of a worker which already lost Redis, between two runs.
        while not state.stopping:
            worker: ClawHooksWorker | None = None
            started = time.monotonic()
            # Outside RQ's work() (the sweep, the pause after losing Redis) the signals
            # are ours again: a stop there must not reach a finished worker's handler.
            _catch_stop_signals(state, supervised)
            try:
                with app.app_context():
                    state.extension.sweep()
                # Before any claim: a claim's attempt needs its partition.
                partitions.maintain(app)
                if state.stopping:
                    break
                worker = ClawHooksWorker([state.queue], connection=state.redis, flask_app=app,
                                         name=name, supervised=supervised)
                worker._sweep_in_background = not burst
                try:
                    run.worked |= bool(worker.work(burst=burst, with_scheduler=with_scheduler,
                                                   logging_level=logging_level))
                finally:
                    run.failed_jobs += worker.jobs_failed
            except StopRequested:  # RQ's signal handler, between two runs
                break
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if burst:
                    raise
                if state.stopping:
                    break  # told to stop; Redis failed on the way out
                if time.monotonic() - started > _STABLE_RUN_SECONDS:
                    pause = 1.0
                log.warning("Redis is unreachable (%s); trying again in %.0f s", exc, pause)
            else:
                # RQ notes the time of a warm shutdown request (SIGINT/SIGTERM); when
                # idle it stops the loop without setting _stop_requested.
                if (burst or state.stopping or worker._stop_requested
                        or worker._shutdown_requested_date):
                    break
                if time.monotonic() - started > _STABLE_RUN_SECONDS:
                    pause = 1.0
                log.warning("The worker lost Redis; starting again in %.0f s", pause)
            try:
                time.sleep(pause)
            except StopRequested:
                break
            pause = min(pause * 2, 30.0)
        return run
    finally:
        state.worker_mode = False
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)


def _catch_stop_signals(state: Any, supervised: bool) -> dict[int, Any]:
    """Answer SIGTERM (and SIGINT, unless a supervisor answers it) outside RQ's own
    handlers: set ``state.stopping`` and raise :class:`StopRequested` where the worker is,
    so a stop during the first sweep or between two runs ends the worker cleanly instead
    of killing it by the signal's default action. Returns the handlers it replaced (none
    off the main thread, where Python allows no handlers)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def stop(signum: int, frame: Any) -> None:
        state.stopping = True
        raise StopRequested()

    signums = [signal.SIGTERM] if supervised else [signal.SIGTERM, signal.SIGINT]
    return {signum: signal.signal(signum, stop) for signum in signums}
