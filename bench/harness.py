"""Shared set-up for the benchmarks: Redis, a database, receivers and a worker process."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa

from flask_clawhooks.embedded_redis import EmbeddedRedis, free_port

POSTGRES_URL = os.environ.get(
    "CLAWHOOKS_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def postgres_available() -> bool:
    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh database URL of ``kind`` (sqlite or postgresql), removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="clawhooks-bench-") as folder:
            yield f"sqlite:///{folder}/bench.sqlite"
        return
    schema = f"clawhooks_bench_{os.getpid()}_{secrets.token_hex(3)}"
    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@dataclass
class ReceiverProcess:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    def count(self) -> tuple[int, int]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/count", timeout=5) as r:
            posts, distinct = r.read().split()
        return int(posts), int(distinct)

    def arrivals(self) -> list[tuple[float, int]]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/arrivals", timeout=30) as r:
            lines = r.read().decode().splitlines()
        return [(float(t), int(s)) for t, s in (line.split() for line in lines if line)]


@contextlib.contextmanager
def receiver(delay: float = 0.0, record_times: bool = False) -> Iterator[ReceiverProcess]:
    port = free_port()
    args = [sys.executable, "-m", "bench.receiver", "--port", str(port), "--delay", str(delay)]
    if record_times:
        args.append("--record-times")
    process = subprocess.Popen(args)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/count", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield ReceiverProcess(port, process)
    finally:
        process.terminate()
        process.wait()


@contextlib.contextmanager
def redis() -> Iterator[str]:
    with EmbeddedRedis() as server:
        yield server.url


def worker_env(database_url: str, redis_url: str, **settings: str) -> dict[str, str]:
    env = {**os.environ, "TEST_DATABASE_URL": database_url, "TEST_REDIS_URL": redis_url}
    for key, value in settings.items():
        env[f"FLASK_CLAWHOOKS_{key}"] = value
    return env


def start_worker(env: dict[str, str], *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "tests.worker_app:create_app()",
         "clawhooks", "worker", *extra],
        env=env, stdout=subprocess.DEVNULL,
    )
