"""The README's demo command runs the whole stack and the receiver verifies real events."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from flask_clawhooks.embedded_redis import free_port

from ..processes import group_members

ROOT = Path(__file__).resolve().parents[2]


def _process_group_alive(pgid: int) -> bool:
    return bool(group_members(pgid))


def test_python_m_example_app_delivers_verified_events_of_five_types(tmp_path, spawn):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python -m example_app" in readme, "the README's demo command changed"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env["PYTHONUNBUFFERED"] = "1"  # no FLASK_CLAWHOOKS_REDIS_URL: the demo embeds Redis
    demo = spawn(  # its own process group, to find every child afterwards
        [sys.executable, "-m", "example_app", "--port", str(free_port()),
         "--receiver-port", str(free_port()), "--interval", "0.3", "--duration", "120",
         "--instance-path", str(tmp_path / "instance")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(demo.stdout or ()), daemon=True)
    reader.start()
    counts: dict[str, int] = {}
    try:
        deadline = time.monotonic() + 60
        receiver_url = None
        while time.monotonic() < deadline and demo.poll() is None:
            if receiver_url is None:
                found = re.search(r"Demo receiver\s+(http://\S+?)/?\s", "".join(output))
                receiver_url = found.group(1) if found else None
            if receiver_url is not None:
                try:
                    with urllib.request.urlopen(f"{receiver_url}/events.json", timeout=5) as r:
                        counts = json.load(r)["counts"]
                except OSError:
                    pass
                if len(counts) >= 5:
                    break
            time.sleep(0.5)
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)  # Ctrl-C: the demo stops its children
        try:
            returncode = demo.wait(40)
        except subprocess.TimeoutExpired:
            returncode = None
        # Give the children the demo signalled a moment, then look for stragglers.
        deadline = time.monotonic() + 20
        while _process_group_alive(demo.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        leftover = _process_group_alive(demo.pid)
        if leftover or returncode is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(10)
        reader.join(10)
        if demo.stdout is not None:
            demo.stdout.close()

    log = "".join(output)
    assert len(counts) >= 5, f"verified event types after 60 s: {counts}\n{log[-3000:]}"
    assert returncode == 0, f"the demo exited with {returncode}\n{log[-3000:]}"
    assert not leftover, f"demo processes still running after Ctrl-C\n{log[-3000:]}"
    assert (tmp_path / "instance" / "clawbook.sqlite").exists()
