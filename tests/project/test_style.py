"""ruff and ``mypy --strict`` pass on the code, as part of the suite that CI runs.

Their settings live in ``ruff.toml`` and ``setup.cfg`` (``[mypy]``); ``tox -e style`` and
``tox -e typing`` run the same commands.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=240, start_new_session=True)


def test_ruff_finds_nothing():
    done = run("ruff", "check", "flask_clawhooks", "receiver_kit", "example_app", "tests",
               "bench")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_finds_nothing():
    done = run("mypy")  # files and strict = True come from setup.cfg's [mypy]
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success" in done.stdout
