"""``python -m example_app`` as a newcomer runs it, for tests: started in its own process
group, read from its banner, stopped the way a terminal's Ctrl-C or a service manager's
SIGTERM stops it, and checked for leftovers.

Ctrl-C is simulated as the terminal sends it: SIGINT to the whole foreground process
group, which is the demo's group (the demo puts each child in a group of its own, so the
children do not receive it). Every process seen below the demo before the signal is
recorded, with its process group, and must be gone afterwards.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from example_app.demo import STOPPED, STOPPING

ROOT = Path(__file__).resolve().parents[2]


def _processes() -> dict[int, tuple[int, int, str]]:
    """Every live process: pid → (parent pid, process group, state letter)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        state, ppid, pgrp = stat[stat.rindex(")") + 2:].split()[:3]
        found[int(entry.name)] = (int(ppid), int(pgrp), state)
    return found


def descendants(pid: int) -> dict[int, int]:
    """The processes below ``pid`` (children, grandchildren, …): pid → process group."""
    table = _processes()
    below: dict[int, int] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, pgrp, _) in table.items():
            if ppid == parent and child not in below:
                below[child] = pgrp
                todo.append(child)
    return below


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` that still run (a zombie waiting to be reaped has stopped)."""
    table = _processes()
    return {pid for pid in pids if pid in table and table[pid][2] != "Z"}


def group_alive(pgid: int) -> bool:
    members = [pid for pid, (_, pgrp, state) in _processes().items()
               if pgrp == pgid and state != "Z"]
    return bool(members)


def port_refuses(url: str) -> bool:
    """Whether nothing listens on the port of ``url`` any more."""
    port = int(re.search(r":(\d+)", url.split("//", 1)[1]).group(1))  # type: ignore[union-attr]
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


@dataclass
class Stopped:
    returncode: int | None
    #: Processes (pid → process group) seen below the demo before the signal.
    recorded: dict[int, int]
    #: Recorded processes still running after the demo exited.
    left: set[int]
    #: Process groups (the demo's and its children's) that still have a member.
    groups_left: set[int]
    #: What the demo and its children wrote to stderr after the signal.
    stderr_after: list[str]
    seconds: float


@dataclass
class Demo:
    dashboard: str = ""
    home: str = ""
    api: str = ""
    receiver: str = ""
    redis: str = ""
    process: subprocess.Popen[str] | None = None
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)
    #: Process groups still to kill in teardown (recorded by stop() if any survived).
    leftover_groups: set[int] = field(default_factory=set)

    @classmethod
    def start(cls, instance: Path, *, interval: float = 1.0, timeout: float = 90.0) -> Demo:
        """Start the demo on free ports and wait for its banner."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
        env["PYTHONUNBUFFERED"] = "1"  # no FLASK_CLAWHOOKS_REDIS_URL: the demo embeds Redis
        demo = cls()
        demo.process = subprocess.Popen(
            [sys.executable, "-m", "example_app", "--port", "0", "--receiver-port", "0",
             "--interval", str(interval), "--instance-path", str(instance)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,  # like a shell's job: its own group, the terminal's
        )
        for stream, lines in ((demo.process.stdout, demo.stdout),
                              (demo.process.stderr, demo.stderr)):
            reader = threading.Thread(target=lambda s=stream, out=lines: out.extend(s),
                                      daemon=True)
            reader.start()
            demo.readers.append(reader)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and demo.process.poll() is None:
            banner = "".join(demo.stdout)
            if "Ctrl-C stops everything." in banner:
                demo._read_banner(banner)
                return demo
            time.sleep(0.1)
        demo.kill()
        raise AssertionError(f"no banner within {timeout} s\n{''.join(demo.stdout)}"
                             f"\n{''.join(demo.stderr)}")

    def _read_banner(self, banner: str) -> None:
        def url(label: str) -> str:
            found = re.search(rf"^  {label}\s+(\S+)", banner, flags=re.MULTILINE)
            assert found, f"the banner has no {label} line:\n{banner}"
            return found.group(1)

        self.dashboard, self.home, self.api = url("Dashboard"), url("Home"), url("API")
        self.receiver, self.redis = url("Demo receiver"), url("Redis")

    def stop(self, signum: int, timeout: float = 60.0) -> Stopped:
        """Send ``signum`` as a terminal (SIGINT) or a service manager (SIGTERM) would, wait
        for the demo to exit, then for every process it had started."""
        assert self.process is not None
        recorded = descendants(self.process.pid)
        before = len(self.stderr)
        started = time.monotonic()
        if signum == signal.SIGINT:
            os.killpg(self.process.pid, signal.SIGINT)  # Ctrl-C: the foreground group
        else:
            self.process.send_signal(signum)
        try:
            returncode: int | None = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            returncode = None
        deadline = time.monotonic() + 10
        groups = {self.process.pid, *recorded.values()}
        while time.monotonic() < deadline and (
                alive(set(recorded)) or any(group_alive(g) for g in groups)):
            time.sleep(0.1)
        seconds = time.monotonic() - started
        left = alive(set(recorded))
        groups_left = {g for g in groups if group_alive(g)}
        self.leftover_groups = groups_left
        if returncode is not None:
            for reader in self.readers:  # the pipes are at their end: take the last lines
                reader.join(10)
        return Stopped(returncode, recorded, left, groups_left,
                       [line.rstrip("\n") for line in self.stderr[before:]], seconds)

    def kill(self) -> None:
        """SIGKILL whatever is left of the demo (a test's teardown).

        Only groups known to be the demo's: those below a demo still running, or those
        :meth:`stop` found alive. (Once the demo has exited, its pid may be reused.)
        """
        if self.process is None:
            return
        groups = set(self.leftover_groups)
        if self.process.poll() is None:
            groups |= {self.process.pid, *descendants(self.process.pid).values()}
        for group in groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            pass
        for reader in self.readers:
            reader.join(10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


#: The only lines a clean stop prints to stderr, in this order.
SHUTDOWN_LINES = [STOPPING, STOPPED]
