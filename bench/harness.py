"""Shared set-up for the benchmarks: Redis, a database, receivers and worker processes.

Everything is started in a process group of its own and stopped when its ``with`` block
ends, so nothing outlives a benchmark, also one stopped by SIGTERM (:func:`stop_on_sigterm`).
"""

from __future__ import annotations

import compileall
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import sqlalchemy as sa

import bench
import flask_clawhooks
from flask_clawhooks.embedded_redis import EmbeddedRedis, free_port

POSTGRES_URL = os.environ.get(
    "CLAWHOOKS_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
#: ``application_name`` of the workers' PostgreSQL connections (see bench.locks).
WORKER_APPLICATION = "clawhooks_bench_worker"


def stop_on_sigterm() -> None:
    """End this benchmark on SIGTERM (``timeout``, a cancelled CI job) as Ctrl-C does:
    through every ``with`` block, which stops what it started. By default SIGTERM ends
    the process at once, and the workers and receivers in their own process groups ran on.
    """
    def stop(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def compile_bytecode() -> None:
    """Compile the modules of ``flask_clawhooks`` and ``bench`` to bytecode, as ``pip
    install`` does for a package, whatever ``PYTHONDONTWRITEBYTECODE`` says (a process
    started from a checkout without them compiles each module it imports from source)."""
    for package in (flask_clawhooks, bench):
        compileall.compile_dir(package.__path__[0], quiet=1)


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
        sep = "&" if "?" in POSTGRES_URL else "?"
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str,
              interval: float = 0.005) -> float:
    """Poll ``predicate`` until true; return the time.perf_counter() it became true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"benchmark gave up waiting for {what}")
        time.sleep(interval)
    return time.perf_counter()


def _stop(process: subprocess.Popen[Any], grace: float = 60.0) -> None:
    """SIGTERM the process group of ``process``; SIGKILL it after ``grace`` seconds."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


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
    """``bench.receiver`` in a process of its own: answers 200 after ``delay`` seconds."""
    port = free_port()
    args = [sys.executable, "-m", "bench.receiver", "--port", str(port), "--delay", str(delay)]
    if record_times:
        args.append("--record-times")
    process = subprocess.Popen(args, start_new_session=True)
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
        _stop(process, grace=5)


@contextlib.contextmanager
def redis() -> Iterator[str]:
    with EmbeddedRedis() as server:
        yield server.url


def proc_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of ``pid`` so far (all its threads)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for row in status:
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@dataclass
class Workers:
    """``flask --app bench.app clawhooks worker`` processes, one process group each."""

    database_url: str
    redis_url: str
    settings: dict[str, str] = field(default_factory=dict)
    #: Other environment variables of the workers (PYTHONPATH, …).
    environment: dict[str, str] = field(default_factory=dict)
    #: Working directory of the workers (``python -m`` puts it first on sys.path).
    cwd: str | None = None
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _logs: list[IO[bytes]] = field(default_factory=list)

    def start(self, count: int = 1) -> None:
        url = self.database_url
        if url.startswith("postgresql"):
            url += ("&" if "?" in url else "?") + f"application_name={WORKER_APPLICATION}"
        env = {**os.environ, "FLASK_SQLALCHEMY_DATABASE_URI": url,
               "FLASK_CLAWHOOKS_REDIS_URL": self.redis_url,
               **{f"FLASK_CLAWHOOKS_{k}": v for k, v in self.settings.items()},
               **self.environment}
        for _ in range(count):
            log = tempfile.TemporaryFile()
            self._logs.append(log)
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "bench.app", "clawhooks", "worker",
                 "--log-level", "WARNING"],
                env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
                cwd=self.cwd,
            ))

    def check(self) -> None:
        """Stop the benchmark with the worker's own words if one has died."""
        for process, log in zip(self.processes, self._logs, strict=True):
            if process.poll() is not None:
                log.seek(0)
                raise SystemExit(f"a worker exited with {process.returncode}:\n"
                                 f"{log.read().decode(errors='replace')[-3000:]}")

    def cpu_seconds(self) -> float:
        return sum(proc_cpu_seconds(p.pid) for p in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            _stop(process)
        for log in self._logs:
            log.close()
        self.processes.clear()
        self._logs.clear()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
