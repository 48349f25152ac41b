"""Prometheus metrics, scraped over real HTTP and read with prometheus_client's parser:
from a real ``flask clawhooks worker --metrics-port`` process (alone, and sharing its
directory with a second worker process), and from the app's ``/metrics`` view."""

from __future__ import annotations

import socket

import pytest
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.serving import make_server

from flask_clawhooks.embedded_redis import free_port
from flask_clawhooks.metrics import _attempt_labels, scrape_registry
from flask_clawhooks.models import DeliveryStatus
from flask_clawhooks.transport import HttpResult

from ..fixtures import Reply, serve_in_thread
from ..processes import free_ports
from ..worker_process import http_get, wait_until, worker_process

FAST = {"FLASK_CLAWHOOKS_SWEEP_INTERVAL": "0.5", "FLASK_CLAWHOOKS_SWEEP_GRACE": "0",
        "FLASK_CLAWHOOKS_TIMEOUT": "2.0", "FLASK_CLAWHOOKS_LEASE_SECONDS": "4.0",
        "FLASK_CLAWHOOKS_RETRY_DELAYS": "[0.3]"}


def scrape(url: str) -> list:
    text = http_get(url)
    assert text is not None, f"nothing answered at {url}"
    return list(text_string_to_metric_families(text))


def value(families: list, sample: str, **labels: str) -> float:
    """The sum of the samples named ``sample`` whose labels include ``labels``."""
    found = [s.value for family in families for s in family.samples
             if s.name == sample and labels.items() <= s.labels.items()]
    assert found, f"no sample {sample}{labels or ''} was exposed"
    return sum(found)


def settled(host) -> bool:
    deliveries = host.deliveries()
    return bool(deliveries) and all(d.status != DeliveryStatus.PENDING for d in deliveries)


def test_a_worker_serves_metrics_that_count_its_deliveries(
        host, receiver_factory, database_url, redis_url, tmp_path):
    ok, broken = receiver_factory(), receiver_factory()
    broken.default = Reply(500)
    host.add_webhook(ok.url)
    host.add_webhook(broken.url)  # 500, retried once (FAST), then failed
    # nothing listens there: a connection error, retried once
    nowhere, port = free_ports(2)
    host.add_webhook(f"http://127.0.0.1:{nowhere}/hook", events=["ai.error"])
    with worker_process(database_url, redis_url, tmp_path / "worker.log",
                        "--metrics-port", str(port), env=FAST) as worker:
        url = f"http://127.0.0.1:{port}/metrics"
        wait_until(lambda: http_get(url), 30, "the metrics port", worker)
        before = scrape(url)
        assert value(before, "clawhooks_deliveries_due") == 0
        assert value(before, "clawhooks_deliveries_in_flight") == 0

        for n in range(3):
            host.emit("message.received", {"n": n})
        host.emit("ai.error", {"provider": "x"})
        wait_until(lambda: settled(host), 30, "every delivery to end", worker)
        after = scrape(url)

    attempts = "clawhooks_attempts_total"
    assert value(after, attempts, outcome="success", status_class="2xx") == 3
    assert value(after, attempts, outcome="retry", status_class="5xx") == 3
    assert value(after, attempts, outcome="failed", status_class="5xx") == 3
    assert value(after, attempts, outcome="connection_error", status_class="none") == 2
    assert value(after, attempts) == 11
    assert value(after, "clawhooks_attempt_duration_seconds_count") == 11
    assert 0 < value(after, "clawhooks_attempt_duration_seconds_sum") < 11 * 2.0
    # one first attempt per delivery: 3 + 3 + 1, each well within the test's time
    assert value(after, "clawhooks_emit_to_first_attempt_seconds_count") == 7
    assert value(after, "clawhooks_emit_to_first_attempt_seconds_bucket", le="+Inf") == 7
    assert value(after, "clawhooks_emit_to_first_attempt_seconds_sum") < 7 * 30
    assert value(after, "clawhooks_recorder_batch_size_sum") == 11
    assert 1 <= value(after, "clawhooks_recorder_batch_size_count") <= 11
    assert value(after, "clawhooks_deliveries_in_flight") == 0
    assert value(after, "clawhooks_deliveries_due") == 0
    assert value(after, "clawhooks_oldest_due_delivery_age_seconds") == 0
    assert len(ok.requests) == 3 and len(broken.requests) == 6
    # the names follow Prometheus' conventions, and no label carries an id or a URL
    names = {family.name: family.type for family in after if family.name.startswith("clawhooks")}
    assert names["clawhooks_attempts"] == "counter"
    assert names["clawhooks_attempt_duration_seconds"] == "histogram"
    assert names["clawhooks_deliveries_due"] == "gauge"
    labels = {key for family in after if family.name.startswith("clawhooks")
              for sample in family.samples for key in sample.labels}
    assert labels <= {"outcome", "status_class", "kind", "result", "le", "pid"}


def test_worker_processes_sharing_a_directory_are_scraped_as_one(
        host, receiver, database_url, redis_url, tmp_path):
    """What ``--processes`` builds on: every process writes to PROMETHEUS_MULTIPROC_DIR,
    the one with the port adds them up; a process that ends keeps its counts but not its
    in-flight gauge."""
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = {**FAST, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    host.add_webhook(receiver.url)
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    with worker_process(database_url, redis_url, tmp_path / "serving.log",
                        "--metrics-port", str(port), env=env) as serving, \
         worker_process(database_url, redis_url, tmp_path / "other.log", env=env) as other:
        wait_until(lambda: http_get(url), 30, "the metrics port", serving)

        def in_flight_pids() -> set[str]:
            return {s.labels["pid"] for f in scrape(url) for s in f.samples
                    if s.name == "clawhooks_deliveries_in_flight"}

        both = {str(serving.pid), str(other.pid)}
        wait_until(lambda: in_flight_pids() == both, 30, "both workers' series", other)
        for n in range(20):
            host.emit("message.received", {"n": n})
        wait_until(lambda: settled(host), 30, "every delivery to end", serving)
        assert value(scrape(url), "clawhooks_attempts_total", outcome="success") == 20

        assert other.stop() == 0
        assert in_flight_pids() == {str(serving.pid)}
        after = scrape(url)
        assert value(after, "clawhooks_attempts_total", outcome="success") == 20
        # Every outcome of both processes counted once, in the batches too. Once in a
        # suite run the batches held 26 outcomes for the 20 successes: an attempt can
        # fail on a busy machine (the 2 s timeout) and be retried, which both count.
        attempts = value(after, "clawhooks_attempts_total")
        assert value(after, "clawhooks_recorder_batch_size_sum") == attempts
    assert len({request.headers["X-ClawBook-Delivery"] for request in receiver.requests}) == 20
    assert serving.process.returncode is not None


@pytest.mark.clawhooks_config(CLAWHOOKS_METRICS_VIEW="/metrics", CLAWHOOKS_RETRY_DELAYS=[])
def test_the_app_serves_metrics_at_its_metrics_view_over_http(host, receiver):
    server = make_server("127.0.0.1", 0, host.app, threaded=True)
    thread = serve_in_thread(server)
    url = f"http://127.0.0.1:{server.server_port}/metrics"
    try:
        host.add_webhook(receiver.url)
        host.add_webhook(receiver.url, events=["message.received", "ai.error"])
        # counters are per process, and this one runs other tests too: compare
        before = scrape(url)
        host.emit("message.received", {"n": 1})
        host.emit("ai.error", {"n": 2})
        host.emit("system.health", {"n": 3})  # no webhook takes it
        queued = scrape(url)
        host.work()
        worked = scrape(url)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)

    def delta(families: list, sample: str, **labels: str) -> float:
        return value(families, sample, **labels) - value(before, sample, **labels)

    assert delta(queued, "clawhooks_emit_calls_total") == 3
    assert delta(queued, "clawhooks_deliveries_created_total") == 3
    assert value(queued, "clawhooks_deliveries_due") == 3
    assert 0 <= value(queued, "clawhooks_oldest_due_delivery_age_seconds") < 30
    assert delta(worked, "clawhooks_attempts_total", outcome="success", status_class="2xx") == 3
    assert delta(worked, "clawhooks_attempt_duration_seconds_count") == 3
    assert value(worked, "clawhooks_deliveries_due") == 0
    assert value(worked, "clawhooks_deliveries_in_flight") == 0


def test_deliveries_held_back_by_delivery_control_are_counted_per_webhook(host, receiver):
    receiver.default = Reply(503)
    fifo = host.add_webhook(receiver.url, ordering="fifo")
    limited = host.add_webhook(receiver.url, max_per_second=0.01)  # one per 100 s
    registry = scrape_registry(host.app)
    before = list(registry.collect())
    for n in range(4):
        host.emit("message.received", {"n": n})
    host.work()
    after = list(registry.collect())

    def held(webhook_id: str, reason: str) -> float:
        def total(families: list) -> float:
            return sum(s.value for f in families for s in f.samples
                       if s.name == "clawhooks_deliveries_held_total"
                       and s.labels == {"webhook": webhook_id, "reason": reason})
        return total(after) - total(before)

    assert held(fifo.id, "fifo") == 3  # all but the head, once each
    assert held(limited.id, "rate") == 3  # all but the one slot
    assert value(after, "clawhooks_fifo_waiting", webhook=fifo.id) == 3
    assert not [s for f in after for s in f.samples
                if s.name == "clawhooks_fifo_waiting" and s.labels["webhook"] == limited.id]


def test_the_metrics_view_is_off_unless_configured(host):
    assert host.app.test_client().get("/metrics").status_code == 404


@pytest.mark.parametrize(("result", "attempt", "labels"), [
    (HttpResult(200, 5), 1, ("success", "2xx")),
    (HttpResult(503, 5), 1, ("retry", "5xx")),
    (HttpResult(503, 5), 2, ("failed", "5xx")),  # the last of the delays below
    (HttpResult(429, 5), 1, ("retry", "4xx")),
    (HttpResult(404, 5), 1, ("failed", "4xx")),
    (HttpResult(410, 5), 1, ("failed", "4xx")),
    (HttpResult(302, 5), 1, ("retry", "3xx")),
    (HttpResult(None, 2000, error="timeout: no answer within 2 s"), 1, ("timeout", "none")),
    (HttpResult(None, 3, error="connection error: refused"), 1, ("connection_error", "none")),
    (HttpResult(None, 3, error="TLS error: bad cert"), 1, ("connection_error", "none")),
    (HttpResult(None, 0, error="127.0.0.1 is not allowed", refused=True), 1,
     ("refused", "none")),
    (HttpResult(None, 0, error="internal error: boom"), 1, ("error", "none")),
])
def test_each_attempt_gets_an_outcome_and_a_status_class(result, attempt, labels):
    assert _attempt_labels(result, attempt, retry_delays=(60.0,)) == labels


def test_every_metric_defined_is_in_the_table_of_the_metrics_module_and_back():
    from flask_clawhooks import metrics

    documented = {line.split("``")[1].split("{")[0] for line in metrics.__doc__.splitlines()
                  if line.startswith("``clawhooks_")}
    defined = set()
    for attribute in vars(metrics.get()).values():
        describe = getattr(attribute, "describe", None)
        if describe is not None:
            family = describe()[0]
            defined.add(family.name + ("_total" if family.type == "counter" else ""))
    defined |= {"clawhooks_deliveries_due", "clawhooks_oldest_due_delivery_age_seconds",
                "clawhooks_fifo_waiting"}
    assert documented == defined


def test_a_metrics_port_in_use_stops_the_worker_with_a_clear_error(
        host, database_url, redis_url, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with worker_process(database_url, redis_url, tmp_path / "worker.log", "--burst",
                            "--metrics-port", str(port)) as worker:
            assert worker.process.wait(30) == 1
    assert f"Error: Could not serve metrics on 127.0.0.1:{port}: Address already in use" \
        in worker.output()


def _samples(registry: object) -> dict[tuple[str, str], float]:
    from prometheus_client import generate_latest

    families = text_string_to_metric_families(generate_latest(registry).decode())  # type: ignore[arg-type]
    return {(s.name, s.labels.get("le", "")): s.value for f in families for s in f.samples
            if not s.name.endswith("_created")}


def test_observe_all_counts_a_batch_as_observing_each_value_would() -> None:
    from prometheus_client import CollectorRegistry, Histogram

    from flask_clawhooks.metrics import ATTEMPT_BUCKETS, observe_all

    # Values on bucket bounds, between them, below the first and above the last.
    amounts = [0.0, 0.01, 0.0100001, 0.3, 1.0, 29.9, 30.0, 61.0, 1e9, 0.025, 0.025]
    one_by_one, batched = CollectorRegistry(), CollectorRegistry()
    single = Histogram("h", "h", buckets=ATTEMPT_BUCKETS, registry=one_by_one)
    for amount in amounts:
        single.observe(amount)
    observe_all(Histogram("h", "h", buckets=ATTEMPT_BUCKETS, registry=batched), amounts)
    expected = _samples(one_by_one)
    assert expected[("h_bucket", "0.025")] == 5
    assert _samples(batched) == pytest.approx(expected)
