"""A hung Redis (SIGSTOPped: it accepts connections and never answers) costs the host's
requests at most one short wait, then nothing; what they could not queue is delivered
once Redis answers again."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from flask_clawhooks.embedded_redis import EmbeddedRedis
from flask_clawhooks.enqueue import ready_key
from flask_clawhooks.models import Base, DeliveryStatus
from flask_clawhooks.state import get_state

from ..fixtures import Host, make_host
from .conftest import make_api_client

REQUEST_TIMEOUT = 0.3
COOLDOWN = 1.0


@pytest.fixture
def own_redis() -> Iterator[EmbeddedRedis]:
    """A Redis server of this test's own, to stop and resume."""
    server = EmbeddedRedis().start()
    try:
        yield server
    finally:
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGCONT)
        server.stop()


@pytest.fixture
def outage_host(database_url: str, own_redis: EmbeddedRedis, tmp_path: Any) -> Iterator[Host]:
    host = make_host(database_url, own_redis.url, str(tmp_path / "instance"),
                     CLAWHOOKS_API_RATE_LIMIT=1000,  # every API call asks Redis
                     CLAWHOOKS_REDIS_REQUEST_TIMEOUT=REQUEST_TIMEOUT,
                     CLAWHOOKS_REDIS_CIRCUIT_COOLDOWN=COOLDOWN)

    @host.app.post("/messages/<int:n>")
    def receive_message(n: int) -> str:
        host.clawhooks.emit("message.received", {"n": n}, owner="acme")
        host.db.session.commit()
        return "ok"

    yield host
    state = get_state(host.app)
    state.reset_redis()
    with host.app.app_context():
        state.close_dispatcher()
        Base.metadata.drop_all(host.db.engine)
        host.db.engine.dispose()


def timed(call: Any) -> tuple[float, Any]:
    started = time.monotonic()
    result = call()
    return time.monotonic() - started, result


def test_api_calls_and_emitting_requests_answer_within_1_s_while_redis_hangs(
    outage_host, own_redis, receiver
):
    host = outage_host
    state = get_state(host.app)
    api = make_api_client(host, "acme")
    web = host.app.test_client()
    api.create_webhook(receiver.url)
    assert web.post("/messages/0").status_code == 200  # Redis answers: queued at once
    assert own_redis.process is not None
    host.flush()
    assert state.request_redis.llen(ready_key(state.queue)) == 1

    os.kill(own_redis.process.pid, signal.SIGSTOP)  # hung: connections accepted, no answer
    times: list[tuple[str, float]] = []
    loop_started = time.monotonic()
    for n in range(1, 11):
        took, response = timed(lambda: api.get("/webhooks"))
        assert response.status_code == 200  # the rate limit fails open
        times.append(("GET /webhooks", took))
        took, response = timed(lambda n=n: web.post(f"/messages/{n}"))
        assert response.status_code == 200  # committed; left to the sweeper
        times.append(("emit + commit", took))
    loop_took = time.monotonic() - loop_started
    slowest = max(took for _, took in times)
    assert slowest < 1.0, times
    # One call per cool-down reached the hung Redis and waited for it (the breaker's
    # probe); the breaker spared the rest. On a quiet machine the loop fits in one
    # cool-down; a busy one may take longer, and each cool-down that ran out allows one
    # more probe. Counted by the breaker, not by the requests' times: on a busy machine
    # a request that never asked Redis can take as long as the request timeout.
    reached = state.breaker.failures
    assert 1 <= reached <= 1 + int(loop_took // COOLDOWN), (reached, loop_took, times)
    assert reached < len(times) // 2, (reached, times)
    print(f"\nwhile Redis hung: slowest request {slowest * 1000:.0f} ms, "
          f"median {sorted(t for _, t in times)[len(times) // 2] * 1000:.1f} ms")

    os.kill(own_redis.process.pid, signal.SIGCONT)
    time.sleep(COOLDOWN + 0.1)  # the breaker's cool-down: the next request probes Redis
    assert web.post("/messages/11").status_code == 200
    host.flush()
    assert state.request_redis.llen(ready_key(state.queue)) == 2  # queued directly again

    deliveries = host.work_until_settled()  # its sweep finds the ten not queued
    assert [d.status for d in deliveries] == [DeliveryStatus.SUCCESS] * 12
    assert len({r.body for r in receiver.requests}) == 12


def test_a_redis_that_refuses_connections_costs_requests_nothing(outage_host, own_redis,
                                                                receiver):
    host = outage_host
    api = make_api_client(host, "acme")
    web = host.app.test_client()
    api.create_webhook(receiver.url)
    own_redis.stop()  # down: connections refused

    times = [timed(lambda: api.get("/webhooks"))[0] for _ in range(5)]
    times += [timed(lambda n=n: web.post(f"/messages/{n}"))[0] for n in range(5)]
    assert max(times) < 1.0, times

    own_redis.start()  # same port, empty: everything queued before is gone
    get_state(host.app).reset_redis()
    deliveries = host.work_until_settled()
    assert [d.status for d in deliveries] == [DeliveryStatus.SUCCESS] * 5


def test_an_emitting_request_does_not_wait_for_a_hung_redis(outage_host, own_redis, receiver):
    host = outage_host
    web = host.app.test_client()
    host.add_webhook(receiver.url)
    assert web.post("/messages/0").status_code == 200
    host.flush()  # the client is connected and the breaker closed
    assert own_redis.process is not None

    os.kill(own_redis.process.pid, signal.SIGSTOP)
    took, response = timed(lambda: web.post("/messages/1"))
    assert response.status_code == 200
    # The push waits out the request timeout in the hand-off's thread, not here.
    assert took < REQUEST_TIMEOUT * 0.8, took
    host.flush()
    os.kill(own_redis.process.pid, signal.SIGCONT)

    deliveries = host.work_until_settled()
    assert [d.status for d in deliveries] == [DeliveryStatus.SUCCESS] * 2
    assert len({r.body for r in receiver.requests}) == 2
