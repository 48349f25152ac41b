"""Processes started by tests: each in a process group of its own, the whole group killed
in teardown, so that nothing a test starts outlives it and a failure fails fast instead
of hanging the suite.

* the ``spawn`` fixture starts long-running processes (workers, receivers) and kills their
  groups when the test ends, however it ends;
* :func:`run` is :func:`subprocess.run` with the same care, for commands that finish;
* :func:`group_alive` and :func:`wait_for` help tests that check processes are gone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

#: Seconds a group may take to disappear after SIGKILL before teardown gives up on it.
KILL_WAIT = 10.0


def worker_args(*extra: str) -> list[str]:
    """The command line of ``flask clawhooks worker`` on :mod:`tests.worker_app`."""
    return [sys.executable, "-m", "flask", "--app", "tests.worker_app:create_app()",
            "clawhooks", "worker", *extra]


def worker_env(database_url: str, redis_url: str, **settings: Any) -> dict[str, str]:
    """The environment of a worker process: the test's database and Redis, and
    ``CLAWHOOKS_*`` settings (JSON-encoded, as ``from_prefixed_env`` reads them)."""
    return {**os.environ, "TEST_DATABASE_URL": database_url, "TEST_REDIS_URL": redis_url,
            **{f"FLASK_{key}": json.dumps(value) for key, value in settings.items()}}


def group_alive(pgid: int) -> bool:
    """Whether any process of the process group ``pgid`` still runs (zombies included)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_members(pgid: int) -> list[int]:
    """Pids of the live (not zombie) processes of group ``pgid``, read from /proc."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            members.append(int(entry))
    return members


def parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


def kill_group(process: subprocess.Popen[Any], wait: float = KILL_WAIT) -> None:
    """SIGKILL every process of ``process``'s group and reap ``process``."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        process.wait(wait)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + wait
    while group_members(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def free_ports(count: int) -> list[int]:
    """``count`` different ports free on loopback now. Asked for one at a time while
    the servers given the first ones start, the kernel may give one of theirs again
    (a Sentinel test once got its replica's port for a sentinel, which could not bind
    it, while the replica answered its ping)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def wait_for(condition: Callable[[], Any], timeout: float, what: str,
             interval: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something true; fail naming ``what`` after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)


class Spawner:
    """Starts processes in new sessions (so each leads its own process group)."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[Any]] = []

    def __call__(self, args: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        kwargs["start_new_session"] = True
        process: subprocess.Popen[Any] = subprocess.Popen(list(args), **kwargs)
        self.started.append(process)
        return process

    def stop(self, process: subprocess.Popen[Any], timeout: float = 30.0,
             signum: int = signal.SIGTERM) -> int | None:
        """Send ``signum`` to ``process`` only (not its group) and wait for it to exit;
        SIGKILL its group if it does not within ``timeout``. Returns its exit code, or
        None if it had to be killed."""
        if process.poll() is None:
            process.send_signal(signum)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_group(process)
            return None

    def cleanup(self) -> None:
        for process in self.started:
            kill_group(process)
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    stream.close()


@pytest.fixture
def spawn() -> Iterator[Spawner]:
    """``spawn(args, **popen_kwargs)``: a :class:`subprocess.Popen` in a process group of
    its own; the group is SIGKILLed when the test ends."""
    spawner = Spawner()
    try:
        yield spawner
    finally:
        spawner.cleanup()


def run(args: Sequence[str], *, timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    """:func:`subprocess.run` in a new process group, killed as a whole at the end (and
    on timeout, which raises :class:`subprocess.TimeoutExpired` as ``run`` does)."""
    kwargs["start_new_session"] = True
    input_ = kwargs.pop("input", None)
    if input_ is not None:
        kwargs["stdin"] = subprocess.PIPE
    if kwargs.pop("capture_output", False):
        kwargs["stdout"] = kwargs["stderr"] = subprocess.PIPE
    check = kwargs.pop("check", False)
    with subprocess.Popen(list(args), **kwargs) as process:
        try:
            stdout, stderr = process.communicate(input_, timeout=timeout)
        finally:
            kill_group(process)
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    if check:
        result.check_returncode()
    return result
