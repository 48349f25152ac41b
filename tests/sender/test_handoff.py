"""The hand-off of new delivery ids to Redis from a thread (flask_clawhooks.handoff): the
caller never waits for a push, every id is pushed once and in order, a failing push
loses nothing else, the thread comes and goes, an exiting process pushes first, and a
forked child pushes only its own ids."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time

from flask_clawhooks import handoff
from flask_clawhooks.handoff import Handoff


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_put_returns_while_a_push_waits_and_every_id_goes_once_in_order():
    pushed: list[list[str]] = []
    release = threading.Event()

    def push(ids: list[str]) -> None:
        release.wait(10)  # a hung Redis, until released
        pushed.append(ids)

    gate = Handoff(push)
    gate.put(["first"])
    wait_until(lambda: not gate._ids)  # taken by the thread, which now waits

    def emitter(name: str) -> None:
        for n in range(200):
            gate.put([f"{name}-{n}"])

    threads = [threading.Thread(target=emitter, args=(f"t{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)  # none of them waits for the push under way
    assert not any(thread.is_alive() for thread in threads)
    assert pushed == []
    assert not gate.flush(0.05)

    release.set()
    assert gate.flush(10)
    flat = [i for ids in pushed for i in ids]
    assert flat[0] == "first" and sorted(flat[1:]) == sorted(
        f"t{i}-{n}" for i in range(8) for n in range(200))
    for i in range(8):  # each emitter's ids in the order it put them
        mine = [x for x in flat if x.startswith(f"t{i}-")]
        assert mine == [f"t{i}-{n}" for n in range(200)]
    assert len(pushed) < 200  # gathered: the ids put during a push go in the next one


def test_a_push_that_raises_is_logged_and_the_next_ids_still_go(caplog):
    pushed: list[list[str]] = []

    def push(ids: list[str]) -> None:
        if ids == ["bad"]:
            raise RuntimeError("boom")
        pushed.append(ids)

    gate = Handoff(push)
    with caplog.at_level(logging.ERROR, logger="flask_clawhooks"):
        gate.put(["bad"])
        assert gate.flush(10)
        gate.put(["good"])
        assert gate.flush(10)
    assert pushed == [["good"]]
    assert "Could not queue 1 deliveries; the sweeper will send them." in caplog.text


def test_the_thread_ends_when_idle_and_starts_again(monkeypatch):
    monkeypatch.setattr(handoff, "IDLE_SECONDS", 0.05)
    pushed: list[str] = []
    gate = Handoff(pushed.extend)
    gate.put(["a"])
    assert gate.flush(10)
    wait_until(lambda: gate._thread is None)
    gate.put(["b"])
    assert gate.flush(10)
    assert pushed == ["a", "b"]


def test_a_process_that_exits_right_after_a_put_pushes_first(tmp_path):
    out = tmp_path / "pushed"
    script = (
        "import time\n"
        "from flask_clawhooks.handoff import Handoff\n"
        "def push(ids):\n"
        "    time.sleep(0.5)  # a slow Redis\n"
        f"    open({str(out)!r}, 'w').write(','.join(ids))\n"
        "Handoff(push).put(['a', 'b'])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], timeout=60, check=False,
                          capture_output=True, text=True, start_new_session=True)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == "a,b"


def test_a_forked_child_pushes_its_own_ids_only():
    pushed: list[list[str]] = []
    release = threading.Event()

    def push(ids: list[str]) -> None:
        if ids == ["parent"]:
            release.wait(10)
        pushed.append(ids)

    gate = Handoff(push)
    gate.put(["parent"])
    wait_until(lambda: not gate._ids)  # the parent's push is under way, its lock free
    gate.put(["parent-later"])  # held for the parent's next push
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it pushed, then leave at once
        code = 1
        try:
            gate.put(["child"])
            ok = gate.flush(10)
            os.write(write, repr((ok, pushed)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as reader:
        said = reader.read()
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert said == repr((True, [["child"]]))
    release.set()
    assert gate.flush(10)
    assert pushed == [["parent"], ["parent-later"]]
