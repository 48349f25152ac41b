"""The suite ignores the settings of the shell it runs in (``FLASK_*``, ``CLAWHOOKS_*``, …)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..conftest import SUITE_KNOBS, scrub_environment
from ..processes import run

ROOT = Path(__file__).resolve().parents[2]

#: Wrong values for what a shell may hold after working with the example app.
WRONG = {
    "FLASK_SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/nowhere",
    "FLASK_CLAWHOOKS_REDIS_URL": "redis://127.0.0.1:1/13",
    "FLASK_CLAWHOOKS_TIMEOUT": "0.001",
    "FLASK_CLAWHOOKS_CONCURRENCY": "not a number",
    "CLAWHOOKS_REDIS_URL": "redis://127.0.0.1:1/13",
    "RECEIVER_KIT_SECRETS": "wrong",
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "DATABASE_URL": "sqlite:////nonexistent/dir/db.sqlite",
}


def test_scrub_removes_host_settings_and_keeps_the_suite_knobs():
    environ = {**WRONG, "PATH": "/bin", **{knob: "x" for knob in SUITE_KNOBS}}
    removed = scrub_environment(environ)
    assert set(removed) == set(WRONG)
    assert environ == {"PATH": "/bin", **{knob: "x" for knob in SUITE_KNOBS}}


def test_the_suite_passes_with_wrong_settings_in_its_environment(redis_url):
    """Tests that build apps in process and tests that start worker processes, run by a
    pytest whose environment holds wrong settings for all of them."""
    env = {**os.environ, **WRONG, "CLAWHOOKS_TEST_REDIS_URL": redis_url}
    result = run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-x", "-n", "0",
         "tests/sender/test_delivery.py::test_200_is_recorded_with_code_and_time_and_signed_as_the_seed_verifies",
         "tests/sender/test_worker_processes.py::"
         "test_processes_n_runs_n_supervised_workers_that_share_the_deliveries"],
        cwd=ROOT, env=env, timeout=240, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
