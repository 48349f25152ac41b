"""The "Check your receiver" section of receiver.rst: its receiver, run as the page says
(``flask --app receiver run``, on a free port instead of 5000), and its command give
exactly the report the page shows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flask_clawhooks.embedded_redis import free_port

from ..interop.conftest import wait_for_port
from ..processes import run
from .rst import code_blocks

ROOT = Path(__file__).resolve().parents[2]
COMMAND = "$ python -m receiver_kit.check "


def test_the_documented_receiver_gets_the_documented_report(tmp_path, spawn):
    blocks = code_blocks("receiver.rst")
    [receiver] = [b for b in blocks if b.caption == "receiver.py"]
    [console] = [b for b in blocks if b.code.startswith(COMMAND)]
    command, *report = console.code.splitlines()
    assert report[-1] == "10 passed, 0 failed, 0 not applicable"

    port = free_port()
    (tmp_path / "receiver.py").write_text(receiver.code + "\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    with (tmp_path / "server.log").open("wb") as log:
        server = spawn([sys.executable, "-m", "flask", "--app", "receiver", "run",
                        "--port", str(port)], cwd=tmp_path, env=env, stdout=log,
                       stderr=subprocess.STDOUT)
    wait_for_port(port, server)

    args = command.removeprefix("$ python ").replace(":5000/", f":{port}/").split()
    result = run([sys.executable, *args], timeout=120, cwd=tmp_path, env=env,
                 capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    expected = [line.replace(":5000/", f":{port}/") for line in report]
    assert result.stdout.splitlines() == expected
