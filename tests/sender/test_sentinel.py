"""Redis Sentinel: ``CLAWHOOKS_REDIS_URL = redis+sentinel://…`` follows a failover of the
master while deliveries flow, and nothing is lost.

Real ``redis-server`` processes on loopback, the binary the suite already uses: a master,
a replica, and three sentinels (``redis-server <conf> --sentinel``) agreeing by a quorum
of two.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from flask_clawhooks.embedded_redis import find_redis_server
from flask_clawhooks.models import Attempt, Base, Delivery, DeliveryStatus
from flask_clawhooks.redisclient import parse_sentinel_url
from flask_clawhooks.state import get_state

from ..fixtures import make_host
from ..processes import Spawner, free_ports, wait_for, worker_args, worker_env

SERVICE = "clawbook"
SETTINGS = {"CLAWHOOKS_TIMEOUT": 2.0, "CLAWHOOKS_LEASE_SECONDS": 6.0,
            "CLAWHOOKS_SWEEP_INTERVAL": 0.5, "CLAWHOOKS_SWEEP_GRACE": 0.5,
            "CLAWHOOKS_CONCURRENCY": 8, "CLAWHOOKS_REDIS_CIRCUIT_COOLDOWN": 1.0}


@dataclass
class SentinelSetup:
    master_port: int
    replica_port: int
    sentinel_ports: list[int]
    processes: dict[int, Any]
    #: Where nothing listens.
    down_port: int

    @property
    def url(self) -> str:
        # The first sentinel listed is down for good: clients must try the next ones.
        hosts = ",".join(f"127.0.0.1:{p}" for p in [self.down_port, *self.sentinel_ports])
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def master_ports_now(self) -> set[int]:
        """The master's port as each sentinel sees it."""
        ports = set()
        for port in self.sentinel_ports:
            with redis.Redis(port=port, socket_timeout=2, decode_responses=True) as client:
                _, master = client.execute_command("SENTINEL", "get-master-addr-by-name",
                                                   SERVICE)
            ports.add(int(master))
        return ports


def redis_server(spawn: Spawner, *args: str) -> Any:
    return spawn([find_redis_server(), *args])


def wait_for_ping(port: int) -> None:
    def answers() -> bool:
        try:
            with redis.Redis(port=port, socket_timeout=0.5) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    wait_for(answers, 10, f"redis on port {port} answering")


@pytest.fixture
def sentinels(spawn: Spawner, tmp_path: Path) -> Iterator[SentinelSetup]:
    master, replica, down, *ports = free_ports(6)
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    processes = {
        master: redis_server(spawn, "--port", str(master), "--dir", str(tmp_path), *common,
                             "--logfile", str(tmp_path / "master.log")),
        replica: redis_server(spawn, "--port", str(replica), "--dir", str(tmp_path), *common,
                              "--logfile", str(tmp_path / "replica.log"),
                              "--replicaof", "127.0.0.1", str(master)),
    }
    for port in ports:
        conf = tmp_path / f"sentinel-{port}.conf"  # a sentinel rewrites its own config
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
            f"logfile {tmp_path / f'sentinel-{port}.log'}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {master} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} 1000\n"
            f"sentinel failover-timeout {SERVICE} 4000\n", encoding="utf-8")
        processes[port] = redis_server(spawn, str(conf), "--sentinel")
    for port in [master, replica, *ports]:
        wait_for_ping(port)
    setup = SentinelSetup(master, replica, ports, processes, down)

    def ready() -> bool:
        # Every sentinel sees the replica in sync and the two other sentinels, so a
        # failover can be agreed on.
        for port in ports:
            with redis.Redis(port=port, socket_timeout=1, decode_responses=True) as client:
                replicas = client.sentinel_slaves(SERVICE)
                others = client.sentinel_sentinels(SERVICE)
            if len(others) < 2 or not any(r.get("is_slave") and not r.get("is_sdown") and
                                          r.get("master-link-status") == "ok"
                                          for r in replicas):
                return False
        return True

    wait_for(ready, 30, "the sentinels know the replica and each other", interval=0.2)
    yield setup


def stop_within(spawn: Spawner, process: Any, seconds: float) -> float:
    """SIGTERM ``process``; assert it exits cleanly within ``seconds``; return how long."""
    started = time.monotonic()
    code = spawn.stop(process, timeout=30)
    took = time.monotonic() - started
    assert code == 0, f"exit status {code} after SIGTERM"
    assert took < seconds, f"the worker took {took:.1f} s to stop after SIGTERM"
    return took


def count_success(host: Any) -> int:
    with host.app.app_context():
        return int(host.db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)
                                          .where(Delivery.status == DeliveryStatus.SUCCESS)))


def test_the_sentinel_url_form_is_parsed_into_sentinels_service_and_db():
    spec = parse_sentinel_url("redis+sentinel://:s3cret@10.0.0.1,[::1]:26380/clawbook/2")
    assert spec is not None
    assert spec.sentinels == (("10.0.0.1", 26379), ("::1", 26380))
    assert (spec.service, spec.db, spec.password) == ("clawbook", 2, "s3cret")


@pytest.mark.timeout(180)
def test_a_sentinel_failover_of_the_master_during_deliveries_loses_nothing(
    sentinels, database_url, receiver, spawn, tmp_path
):
    host = make_host(database_url, sentinels.url, str(tmp_path / "instance"), **SETTINGS)
    state = get_state(host.app)
    try:
        host.add_webhook(receiver.url)
        env = worker_env(database_url, sentinels.url, **SETTINGS)
        # One plain worker and one supervising two: both must live through the failover
        # and stop promptly after it.
        single = spawn(worker_args("--log-level", "WARNING"), env=env)
        supervised = spawn(worker_args("--processes", "2", "--log-level", "WARNING"), env=env)
        total = 0

        def emit_batch(size: int = 50) -> None:
            nonlocal total
            with host.app.app_context():
                for _ in range(size):
                    host.clawhooks.emit("message.received", {"n": total}, owner="acme")
                    total += 1
                host.db.session.commit()

        for _ in range(4):
            emit_batch()
        wait_for(lambda: len(receiver.requests) >= 50, 30, "deliveries flowing")

        sentinels.processes[sentinels.master_port].kill()  # the master dies (SIGKILL)
        failed_at = time.monotonic()
        for _ in range(4):  # the app goes on emitting through the failover
            emit_batch()
            time.sleep(0.25)
        wait_for(lambda: sentinels.master_ports_now() == {sentinels.replica_port}, 30,
                 "the sentinels promoted the replica")
        failover = time.monotonic() - failed_at
        for _ in range(2):
            emit_batch()
        # The request client follows the sentinels to the new master too.
        assert state.request_redis.connection_pool.get_master_address() == (
            "127.0.0.1", sentinels.replica_port)
        assert state.request_redis.ping()

        # Right after the failover, SIGTERM the plain worker: it stops within 5 s, and
        # what it had not sent is the other's to send.
        stopped_in = stop_within(spawn, single, 5.0)
        wait_for(lambda: count_success(host) == total, 90, f"all {total} deliveries made")
        supervised_stopped_in = stop_within(spawn, supervised, 5.0)
        print(f"\nafter the failover: the worker stopped in {stopped_in:.2f} s, the "
              f"supervisor and its 2 workers in {supervised_stopped_in:.2f} s")
        with host.app.app_context():
            sending = host.db.session.scalar(sa.select(sa.func.count()).select_from(Attempt)
                                             .where(Attempt.outcome == "sending"))
        seen = {r.body for r in receiver.requests}
        lost = total - len(seen)
        print(f"\nsentinel failover: {total} deliveries, lost {lost}, duplicates "
              f"{len(receiver.requests) - len(seen)}, failover took {failover:.1f} s")
        assert lost == 0
        assert sending == 0
    finally:
        state.reset_redis()
        with host.app.app_context():
            state.close_dispatcher()
            Base.metadata.drop_all(host.db.engine)
            host.db.engine.dispose()
