"""``flask clawhooks worker`` as a real process, for tests that need one running.

Each worker runs in its own process group (``start_new_session``) with its output in a
log file, and the group is killed when the test is done, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM (a warm shutdown), then SIGKILL for the whole group if it lingers."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the worker ignored SIGTERM:\n{self.output()}") from None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


@contextlib.contextmanager
def worker_process(database_url: str, redis_url: str, log: Path, *args: str,
                   env: dict[str, str] | None = None) -> Iterator[WorkerProcess]:
    """Run ``flask clawhooks worker ARGS`` on ``tests.worker_app`` until the block ends."""
    environment = {**os.environ, "TEST_DATABASE_URL": database_url,
                   "TEST_REDIS_URL": redis_url, **(env or {})}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "tests.worker_app:create_app()",
             "clawhooks", "worker", "--log-level", "WARNING", *args],
            env=environment, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    worker = WorkerProcess(process, log)
    try:
        yield worker
    finally:
        worker.kill()


def wait_until(condition: Callable[[], Any], timeout: float, what: str,
               worker: WorkerProcess | None = None) -> Any:
    """Poll ``condition`` until it is true; fail saying ``what`` (and the worker's log)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if worker is not None and not worker.alive():
            raise AssertionError(f"the worker exited while waiting for {what}:\n"
                                 f"{worker.output()}")
        if time.monotonic() > deadline:
            log = f"\n{worker.output()}" if worker is not None else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{log}")
        time.sleep(0.05)


def http_get(url: str) -> str | None:
    """The body of ``url``, or None while nothing answers there."""
    try:
        with _direct.open(url, timeout=5) as response:
            return str(response.read().decode())
    except OSError:
        return None


#: No proxy from the environment: tests talk to loopback only.
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
