"""Prometheus metrics: every one is defined here, with where it is counted.

====================================================  =======  ==============================
metric                                                type     counted
====================================================  =======  ==============================
``clawhooks_emit_calls_total``                        counter  each ``emit()`` / test send
``clawhooks_deliveries_created_total``                counter  deliveries those calls created
``clawhooks_attempts_total{outcome,status_class}``    counter  each recorded attempt
``clawhooks_attempt_duration_seconds``                hist.    each recorded attempt
``clawhooks_emit_to_first_attempt_seconds``           hist.    each first attempt
``clawhooks_deliveries_in_flight``                    gauge    claimed, not yet recorded
``clawhooks_recorder_batch_size``                     hist.    each recorded batch
``clawhooks_sweeper_requeued_total``                  counter  each sweep
``clawhooks_sweeper_interrupted_total``               counter  each sweep
``clawhooks_emails_total{kind,result}``               counter  each owner e-mail
``clawhooks_webhooks_auto_disabled_total``            counter  each health check
``clawhooks_deliveries_due``                          gauge    at scrape time, in the database
``clawhooks_oldest_due_delivery_age_seconds``         gauge    at scrape time, in the database
``clawhooks_deliveries_held_total{webhook,reason}``   counter  each delivery a claim held back
``clawhooks_fifo_waiting{webhook}``                   gauge    at scrape time, in the database
====================================================  =======  ==============================

Labels have a few fixed values each (``outcome``: success, retry, failed, timeout,
connection_error, refused, error; ``status_class``: 1xx to 5xx, or none; ``kind``:
failed, warning, disabled; ``result``: sent, error), never an id, owner or URL, so the
number of series stays bounded however many webhooks an install has.

The two delivery-control metrics (:mod:`flask_clawhooks.control`) are per webhook, as an
operator needs them ("which receiver is being throttled?"), and bounded another way:
only webhooks with delivery control switched on ever appear, and at most
:data:`WEBHOOK_SERIES` webhook ids are used as label values; the held-back counter of a
process puts any further webhook under ``webhook="other"``, and the waiting gauge shows
the :data:`WEBHOOK_SERIES` longest FIFO queues and sums the rest under ``other``.
``reason`` is ``fifo`` (parked behind its queue's head), ``in_flight``
(``max_in_flight`` reached), ``rate`` (no ``max_per_second`` slot free) or ``late`` (a
claimed request that missed its ``max_per_second`` slot and waits for another: a worker
too busy, or paused, to send on time).

The metric objects live in this process (made on first use, in prometheus_client's
default registry) and cost a few uncontended lock operations per attempt, paid in the
recorder thread, not by the sending threads. ``flask clawhooks worker --metrics-port``
switches prometheus_client to its multiprocess mode (:func:`use_multiprocess_dir`): each
process writes its values to files in ``PROMETHEUS_MULTIPROC_DIR`` and the process that
serves the port adds them up, so several worker processes on one machine are scraped as
one. The two database gauges are read by a :class:`QueueCollector` when scraped, with
two queries on the ``ix_clawhooks_delivery_pending_due`` index.
"""

from __future__ import annotations

import bisect
import collections
import datetime as dt
import logging
import math
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from flask import Flask, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, literal_column, or_, select

from .ids import id_seconds
from .models import PENDING, Ordering, delivery_table, webhook_table
from .outcome import Verdict, classify, retry_delay
from .state import get_state
from .timeutil import utcnow

if TYPE_CHECKING:
    from .ledger import Outcome
    from .transport import HttpResult

log = logging.getLogger("flask_clawhooks")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: Seconds; from a fast local receiver to the 30 s timeout.
ATTEMPT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Seconds from emit to the first POST: healthy is well under a second; minutes mean
#: the workers are behind (or Redis was lost and the sweeper found the delivery).
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
#: Outcomes written per transaction by the recorder (at most ``dispatch.RECORD_BATCH``).
BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500)


#: Most webhook ids used as label values by the delivery-control metrics.
WEBHOOK_SERIES = 50

#: The ``clawhooks_attempts_total`` series exposed (at 0) before any attempt.
COMMON_ATTEMPTS = (("success", "2xx"), ("retry", "5xx"), ("failed", "4xx"), ("failed", "5xx"),
                   ("timeout", "none"), ("connection_error", "none"))


class Metrics:
    """The metric objects of this process. Use :func:`get`, which makes them once."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.emit_calls = Counter(
            "clawhooks_emit_calls", "Calls of emit() and test sends (counted at the call, "
            "before the host commits or rolls back).", registry=registry)
        self.deliveries_created = Counter(
            "clawhooks_deliveries_created", "Deliveries created by emit() and test sends, "
            "one per subscribed webhook.", registry=registry)
        self.attempts = Counter(
            "clawhooks_attempts", "Recorded delivery attempts. outcome: success, retry "
            "(answered, retry scheduled), failed (answered, delivery failed), timeout, "
            "connection_error, refused (destination not allowed), error; status_class: "
            "the answer's class (2xx ...) or none.",
            ["outcome", "status_class"], registry=registry)
        self.attempt_duration = Histogram(
            "clawhooks_attempt_duration_seconds", "Time one attempt took, from connecting "
            "to the end of the answer.", buckets=ATTEMPT_BUCKETS, registry=registry)
        self.first_attempt_lag = Histogram(
            "clawhooks_emit_to_first_attempt_seconds", "Time from emit() creating a "
            "delivery to its first attempt starting.", buckets=LAG_BUCKETS,
            registry=registry)
        self.in_flight = Gauge(
            "clawhooks_deliveries_in_flight", "Deliveries this worker process has claimed "
            "and not yet recorded (a pid label per process in multiprocess mode).",
            multiprocess_mode="liveall", registry=registry)
        self.recorder_batch = Histogram(
            "clawhooks_recorder_batch_size", "Outcomes written in one recorder "
            "transaction.", buckets=BATCH_BUCKETS, registry=registry)
        self.requeued = Counter(
            "clawhooks_sweeper_requeued", "Due deliveries the sweeper queued again.",
            registry=registry)
        self.interrupted = Counter(
            "clawhooks_sweeper_interrupted", "Deliveries whose worker died mid-attempt "
            "(lease ran out), found by the sweeper.", registry=registry)
        self.emails = Counter(
            "clawhooks_emails", "E-mails to owners. kind: failed, warning, disabled; "
            "result: sent, error.", ["kind", "result"], registry=registry)
        self.auto_disabled = Counter(
            "clawhooks_webhooks_auto_disabled", "Webhooks the health check switched off.",
            registry=registry)
        self.held = Counter(
            "clawhooks_deliveries_held", "Deliveries a claim held back for delivery "
            "control, without an attempt. reason: fifo (waiting behind the head of its "
            "FIFO queue), in_flight (max_in_flight reached), rate (max_per_second), late "
            "(missed its max_per_second slot, waits for another); "
            f"webhook: its id, for up to {WEBHOOK_SERIES} webhooks, then other.",
            ["webhook", "reason"], registry=registry)
        self._held_webhooks: set[str] = set()
        self._attempt_children: dict[tuple[str, str], Any] = {}
        # Series that exist from the start, at 0, so that rate() and ratios over them
        # work before the first attempt of their kind.
        for labels in COMMON_ATTEMPTS:
            self.attempt_child(labels)
        for kind in ("failed", "warning", "disabled"):
            for result in ("sent", "error"):
                self.emails.labels(kind, result)

    def webhook_label(self, webhook_id: str) -> str:
        """``webhook_id``, or ``other`` once :data:`WEBHOOK_SERIES` others are in use."""
        with _lock:
            if webhook_id in self._held_webhooks:
                return webhook_id
            if len(self._held_webhooks) < WEBHOOK_SERIES:
                self._held_webhooks.add(webhook_id)
                return webhook_id
        return "other"

    def attempt_child(self, labels: tuple[str, str]) -> Any:
        """The pre-bound series of ``labels``; ``labels()`` takes a lock, this a dict."""
        child = self._attempt_children.get(labels)
        if child is None:
            child = self._attempt_children[labels] = self.attempts.labels(*labels)
        return child


_metrics: Metrics | None = None
_lock = threading.Lock()


def get() -> Metrics:
    """This process's metrics, made (and registered in the default registry) on first use."""
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                _metrics = Metrics(REGISTRY)
    return _metrics


def _is_multiprocess() -> bool:
    return bool(getattr(values.ValueClass, "_multiprocess", False))


def use_multiprocess_dir(directory: str) -> None:
    """Write this process's values (and its children's) to files in ``directory``.

    prometheus_client picks its mode from ``PROMETHEUS_MULTIPROC_DIR`` when it is first
    imported, which in ``flask clawhooks worker`` is long before the command runs (the
    host app imports it), so the value class is chosen again here. Metrics made before
    cannot move: hence the error if ours already exist in single-process mode.
    """
    os.environ[MULTIPROC_ENV] = directory
    with _lock:
        if _is_multiprocess():
            return
        if _metrics is not None:
            raise RuntimeError(
                "flask-clawhooks metrics were already used in this process before "
                f"{MULTIPROC_ENV} was set; set it in the environment before starting.")
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def process_exited(pid: int) -> None:
    """Forget the live gauges (in flight) of a worker process that ended.

    For a parent running worker processes, after each one exits; its counters stay
    counted, as Prometheus expects of counters.
    """
    directory = os.environ.get(MULTIPROC_ENV)
    if directory and os.path.isdir(directory):
        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


# -- the call sites: one call each ------------------------------------------------------


def _attempt_labels(result: HttpResult, attempt_number: int,
                    retry_delays: Sequence[float]) -> tuple[str, str]:
    if result.refused:
        return "refused", "none"
    status = result.status
    if status is None:
        error = result.error or ""
        if error.startswith("timeout"):
            return "timeout", "none"
        if error.startswith("internal error"):
            return "error", "none"
        return "connection_error", "none"
    status_class = f"{status // 100}xx"
    verdict = classify(result)
    if verdict is Verdict.SUCCESS:
        return "success", status_class
    if verdict is Verdict.RETRY and retry_delay(retry_delays, attempt_number) is not None:
        return "retry", status_class
    return "failed", status_class


#: Naive, as attempt times are: a difference is cheaper than an aware ``timestamp()``.
_EPOCH = dt.datetime(1970, 1, 1)


def observe_recorded(outcomes: Sequence[Outcome], retry_delays: Sequence[float]) -> None:
    """The recorder committed ``outcomes``: count them, their durations and lags.

    Counted per batch: one lock operation per series or bucket touched, not per outcome.
    """
    metrics = get()
    metrics.recorder_batch.observe(len(outcomes))
    metrics.in_flight.dec(len(outcomes))
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    durations: list[float] = []
    lags: list[float] = []
    for outcome in outcomes:
        work, result = outcome.work, outcome.result
        counts[_attempt_labels(result, work.attempt_number, retry_delays)] += 1
        durations.append(result.elapsed_ms / 1000)
        if work.attempt_number == 1:
            try:
                created = id_seconds(work.delivery_id)
            except ValueError:
                continue
            started = (outcome.started_at - _EPOCH).total_seconds()
            lags.append(max(started - created, 0.0))
    for labels, count in counts.items():
        metrics.attempt_child(labels).inc(count)
    observe_all(metrics.attempt_duration, durations)
    observe_all(metrics.first_attempt_lag, lags)


def observe_all(histogram: Histogram, amounts: Sequence[float]) -> None:
    """``histogram.observe`` each of ``amounts``, adding to each bucket once.

    prometheus_client has no call for many observations, so this adds to the values a
    histogram keeps (its buckets, not yet cumulative, and its sum); should a version of
    prometheus_client keep them otherwise, it observes them one by one.
    """
    if not amounts:
        return
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if (not isinstance(bounds, list) or not isinstance(buckets, list) or total is None
            or len(bounds) != len(buckets) or bounds[-1] != math.inf):
        for amount in amounts:
            histogram.observe(amount)
        return
    total.inc(math.fsum(amounts))
    for index, count in collections.Counter(
            bisect.bisect_left(bounds, amount) for amount in amounts).items():
        buckets[index].inc(count)


def claimed(count: int) -> None:
    """A dispatcher claimed ``count`` deliveries: they are in flight until recorded."""
    if count:
        get().in_flight.inc(count)


def held(counts: dict[tuple[str, str], int]) -> None:
    """Delivery control held back deliveries: ``{(webhook id, reason): count}``."""
    metrics = get()
    for (webhook_id, reason), count in counts.items():
        metrics.held.labels(metrics.webhook_label(webhook_id), reason).inc(count)


def emitted(deliveries: int) -> None:
    metrics = get()
    metrics.emit_calls.inc()
    if deliveries:
        metrics.deliveries_created.inc(deliveries)


def swept(requeued: int, interrupted: int) -> None:
    metrics = get()
    if requeued:
        metrics.requeued.inc(requeued)
    if interrupted:
        metrics.interrupted.inc(interrupted)


def emailed(kind: str, sent: bool) -> None:
    get().emails.labels(kind, "sent" if sent else "error").inc()


def auto_disabled(count: int) -> None:
    if count:
        get().auto_disabled.inc(count)


# -- reading the queue at scrape time -----------------------------------------------------


def queue_lag(app: Flask, now: dt.datetime | None = None) -> tuple[int, float]:
    """Deliveries due and not in flight, and how many seconds the oldest has waited.

    Both queries walk the partial ``next_attempt_at`` index of pending deliveries from
    its due end; the lease test filters what that range holds. Every pending delivery has a
    ``next_attempt_at`` (emit, retries and the sweeper all set it).
    """
    now = now or utcnow()
    table = delivery_table
    due = (
        PENDING,  # as a literal: the condition of the partial index
        table.c.next_attempt_at <= now,
        or_(table.c.lease_until.is_(None), table.c.lease_until < now),
    )
    with app.app_context():
        engine = get_state(app).db.engine
        with engine.connect() as conn:
            count = conn.scalar(select(func.count()).select_from(table).where(*due)) or 0
            oldest = conn.scalar(select(table.c.next_attempt_at).where(*due)
                                 .order_by(table.c.next_attempt_at).limit(1))
    age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    return int(count), age


def fifo_waiting(app: Flask) -> list[tuple[str, int]]:
    """Deliveries waiting behind the head of each FIFO webhook's queue: the
    :data:`WEBHOOK_SERIES` longest queues, then the rest summed as ``other``."""
    d, w = delivery_table.c, webhook_table.c
    with app.app_context():
        engine = get_state(app).db.engine
        with engine.connect() as conn:
            rows = conn.execute(
                select(d.webhook_id, func.count()).join_from(
                    delivery_table, webhook_table, d.webhook_id == w.id)
                .where(w.ordering == Ordering.FIFO, d.status == literal_column("'pending'"))
                .group_by(d.webhook_id)).all()
    queues = sorted(((webhook_id, count - 1) for webhook_id, count in rows),
                    key=lambda item: -item[1])
    shown = queues[:WEBHOOK_SERIES]
    rest = sum(count for _webhook_id, count in queues[WEBHOOK_SERIES:])
    return shown + ([("other", rest)] if len(queues) > WEBHOOK_SERIES else [])


class QueueCollector(Collector):
    """The queue gauges of one app, read from its database when Prometheus scrapes.

    If the database cannot be read the gauges are left out of that scrape (and the
    error logged), so an outage shows as missing data rather than a zero queue.
    """

    def __init__(self, app: Flask) -> None:
        self._app = app

    def describe(self) -> Iterable[Metric]:
        return []  # read nothing when registered

    def collect(self) -> Iterator[Metric]:
        try:
            due, age = queue_lag(self._app)
        except Exception:
            log.warning("Could not read the delivery queue for metrics", exc_info=True)
            return
        yield GaugeMetricFamily(
            "clawhooks_deliveries_due", "Pending deliveries that are due and not in "
            "flight (the backlog the workers have not reached).", value=due)
        yield GaugeMetricFamily(
            "clawhooks_oldest_due_delivery_age_seconds", "How long the oldest due "
            "delivery has been due; 0 when none is.", value=age)
        try:
            queues = fifo_waiting(self._app)
        except Exception:
            log.warning("Could not read the FIFO queues for metrics", exc_info=True)
            return
        waiting = GaugeMetricFamily(
            "clawhooks_fifo_waiting", "Deliveries waiting behind the head of a FIFO "
            f"webhook's queue; the {WEBHOOK_SERIES} longest queues, then other.",
            labels=["webhook"])
        for webhook_id, count in queues:
            waiting.add_metric([webhook_id], count)
        yield waiting


class _Forward(Collector):
    """Everything in another registry (the default one, single-process mode)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        return iter(self._registry.collect())


def scrape_registry(app: Flask) -> CollectorRegistry:
    """A registry of this process's metrics (all processes', in multiprocess mode) and
    the app's queue gauges."""
    get()  # so that every metric is listed, at 0, before anything happened
    registry = CollectorRegistry()
    directory = os.environ.get(MULTIPROC_ENV)
    if directory and _is_multiprocess():
        multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward(REGISTRY))
    registry.register(QueueCollector(app))
    return registry


def register_view(app: Flask, path: str) -> None:
    """Serve the metrics at ``path`` of ``app`` (``CLAWHOOKS_METRICS_VIEW``).

    With several web processes (gunicorn), set ``PROMETHEUS_MULTIPROC_DIR`` for all of
    them so that any one answers for all.
    """
    def metrics_view() -> Response:
        body = generate_latest(scrape_registry(app))
        return Response(body, content_type=CONTENT_TYPE_LATEST)

    app.add_url_rule(path, "clawhooks_metrics", metrics_view, methods=["GET"])


class WorkerMetricsServer:
    """The ``--metrics-port`` HTTP server of ``flask clawhooks worker``.

    It runs in the process that starts the workers (with ``--processes``, the parent),
    in a thread, and reads the files every worker process writes; the queue gauges are
    read from the database by this process alone, once per scrape.
    """

    def __init__(self, app: Flask, port: int, host: str = "127.0.0.1") -> None:
        directory = os.environ.get(MULTIPROC_ENV)
        self._owned = not directory
        if not directory:
            directory = tempfile.mkdtemp(prefix="clawhooks-metrics-")
        os.makedirs(directory, exist_ok=True)
        self.directory = directory
        use_multiprocess_dir(directory)
        try:
            self._server, self._thread = start_http_server(
                port, addr=host, registry=scrape_registry(app))
        except OSError:
            self._cleanup()
            raise
        self.port = int(self._server.server_port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        self._cleanup()

    def _cleanup(self) -> None:
        process_exited(os.getpid())
        if self._owned:
            shutil.rmtree(self.directory, ignore_errors=True)
            os.environ.pop(MULTIPROC_ENV, None)
