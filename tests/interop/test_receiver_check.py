"""``python -m receiver_kit.check`` and ``flask clawhooks check-receiver`` against real
receivers on loopback, graded as a receiver author would read the report.

The receivers: a receiver_kit Flask app (one werkzeug server for the module, with a
receiver that accepts anything and one that verifies but does not deduplicate beside it),
the Django and FastAPI apps of ``tests/interop/apps`` (each one process for the module,
started in its own process group and killed with it), and the ClawBook page's own Python
handler under Flask's ``app.run``. The checker always runs as a real process, as a user
runs it; its exit status and report lines are asserted.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from flask_clawhooks.destinations import DestinationPolicy
from flask_clawhooks.embedded_redis import free_port
from receiver_kit.flask import verify_webhook

from ..fixtures import serve_in_thread
from ..processes import Spawner, run
from .apps import LOOPBACK
from .conftest import SECRET, wait_for_port
from .test_receiver_frameworks import command
from .test_seed_receivers import PYTHON_PRELUDE, PYTHON_RUN, SEED_PYTHON

ROOT = Path(__file__).resolve().parents[2]

ALL_CHECKS = [
    "valid delivery", "same delivery again", "forged signature",
    "body changed after signing", "missing signature", "stale timestamp",
    "future timestamp", "replayed id, different body", "oversized body", "non-JSON body",
]


def check(url: str, *args: str) -> tuple[int, str, dict[str, tuple[str, str]]]:
    """Run the checker; its exit status, its output, and each check's grade and detail."""
    result = run([sys.executable, "-m", "receiver_kit.check", url, "--secret", SECRET,
                  "--pause", "0", *args], timeout=180, cwd=ROOT, capture_output=True,
                 text=True)
    return result.returncode, result.stdout, graded(result.stdout)


def graded(output: str) -> dict[str, tuple[str, str]]:
    """``{check: (grade, detail)}`` read from the report's lines."""
    grades = {}
    for line in output.splitlines():
        match = re.fullmatch(r"(PASS|FAIL|N/A) +(.+?)  +(.*)", line)
        if match:
            grades[match[2]] = (match[1], match[3])
    return grades


def handler_runs(probe: str) -> int:
    with urllib.request.urlopen(probe, timeout=10) as answer:
        return int(json.load(answer)["count"])


def passed_all(grades: dict[str, tuple[str, str]]) -> None:
    assert list(grades) == ALL_CHECKS
    assert {name: grade for name, (grade, _) in grades.items()} == dict.fromkeys(
        ALL_CHECKS, "PASS")


# -- receivers ----------------------------------------------------------------------------


class Counter:
    def __init__(self) -> None:
        self.value = 0
        self.lock = threading.Lock()

    def add(self) -> None:
        with self.lock:
            self.value += 1


@pytest.fixture(scope="module")
def flask_receivers() -> Iterator[str]:
    """One werkzeug server with three receivers and a probe for each; its base URL."""
    app = Flask("receivers")
    runs = {"kit": Counter(), "anything": Counter(), "no-dedupe": Counter()}

    @app.post("/kit")
    @verify_webhook(secret=SECRET, allowlist=LOOPBACK)
    def kit() -> tuple[str, int]:
        runs["kit"].add()
        return "", 204

    @app.post("/anything")
    def anything() -> str:
        runs["anything"].add()
        return "OK"

    @app.post("/no-dedupe")
    @verify_webhook(secret=SECRET, allowlist=LOOPBACK, idempotency=False)
    def no_dedupe() -> str:
        runs["no-dedupe"].add()
        return "OK"

    @app.get("/<name>/count")
    def count(name: str) -> dict[str, Any]:
        return {"count": runs[name].value}

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = serve_in_thread(server)
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def spawner() -> Iterator[Spawner]:
    spawner = Spawner()
    yield spawner
    spawner.cleanup()


@pytest.fixture(scope="module", params=["django", "fastapi"])
def framework_receiver(request: pytest.FixtureRequest, spawner: Spawner,
                       tmp_path_factory: pytest.TempPathFactory) -> str:
    """A receiver_kit Django or FastAPI app in a server process; its base URL."""
    framework: str = request.param
    folder = tmp_path_factory.mktemp(f"check_{framework}")
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "PYTHONUNBUFFERED": "1",
        "RECEIVER_SECRET": SECRET,
        "RECEIVER_HANDLED": str(folder / "handled.txt"),
        "RECEIVER_TOLERANCE": "300",
        "DJANGO_SETTINGS_MODULE": "tests.interop.apps.django_site",
    }
    with (folder / "server.log").open("wb") as log:
        process = spawner(command(framework, port), cwd=ROOT, env=env, stdout=log,
                          stderr=subprocess.STDOUT)
    wait_for_port(port, process)
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def seed_receiver(spawner: Spawner, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The ClawBook page's Python handler under ``app.run``; its URL."""
    folder = tmp_path_factory.mktemp("check_seed")
    port = free_port()
    handler = folder / "seed_handler.py"
    handler.write_text(PYTHON_PRELUDE + SEED_PYTHON + PYTHON_RUN.format(port=port),
                       encoding="utf-8")
    with (folder / "output.log").open("wb") as log:
        process = spawner([sys.executable, handler.name], cwd=folder, stdout=log,
                          stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    wait_for_port(port, process)
    return f"http://127.0.0.1:{port}/webhook"


# -- receivers that pass ------------------------------------------------------------------


def test_a_receiver_kit_flask_receiver_passes_every_check_the_probe_proves_no_rerun(
        flask_receivers):
    status, output, grades = check(f"{flask_receivers}/kit",
                                   "--probe", f"{flask_receivers}/kit/count")
    assert status == 0, output
    passed_all(grades)
    assert grades["valid delivery"] == ("PASS", "204")
    assert re.fullmatch(r"200; the handler did not run again \(probe (\d+) -> (\d+) -> \2\)",
                        grades["same delivery again"][1])
    assert grades["forged signature"] == ("PASS", "401")
    assert grades["stale timestamp"] == ("PASS", "401")
    assert grades["oversized body"] == (
        "PASS", "401 (4194304 bytes, not signed with the secret)")
    assert grades["non-JSON body"] == ("PASS", "400")
    assert output.splitlines()[0] == f"Checking {flask_receivers}/kit (headers: both)"
    assert output.splitlines()[-1] == "10 passed, 0 failed, 0 not applicable"


def test_without_a_probe_the_kits_duplicate_header_proves_no_rerun_and_clawbook_headers_skip_the_clock(  # noqa: E501
        flask_receivers):
    status, output, grades = check(f"{flask_receivers}/kit", "--header-style", "clawbook")
    assert status == 0, output
    assert grades["same delivery again"] == (
        "PASS", "200; the receiver answered Webhook-Duplicate: true")
    assert grades["stale timestamp"] == (
        "N/A", "X-ClawBook-Signature covers no time; use --header-style standard or both")
    assert grades["future timestamp"][0] == "N/A"
    assert output.splitlines()[-1] == "8 passed, 0 failed, 2 not applicable"


def test_receiver_kit_django_and_fastapi_receivers_pass_every_check(framework_receiver):
    status, output, grades = check(f"{framework_receiver}/webhook",
                                   "--probe", f"{framework_receiver}/count")
    assert status == 0, output
    passed_all(grades)
    assert grades["valid delivery"] == ("PASS", "200")
    assert re.fullmatch(r"200; the handler did not run again \(probe (\d+) -> (\d+) -> \2\)",
                        grades["same delivery again"][1])
    assert re.fullmatch(r"200; the handler did not run again \(probe \d+ -> (\d+) -> \1 -> "
                        r"\1\)", grades["replayed id, different body"][1])


def test_the_seed_python_receiver_passes_what_applies_to_clawbook_signatures(seed_receiver):
    status, output, grades = check(seed_receiver, "--header-style", "clawbook")
    assert status == 0, output
    assert {name: grade for name, (grade, _) in grades.items()} == {
        "valid delivery": "PASS", "same delivery again": "N/A", "forged signature": "PASS",
        "body changed after signing": "PASS", "missing signature": "PASS",
        "stale timestamp": "N/A", "future timestamp": "N/A",
        "replayed id, different body": "N/A", "oversized body": "PASS",
        "non-JSON body": "PASS"}
    assert grades["same delivery again"][1] == (
        "200; not verifiable: give --probe URL, or answer duplicates with "
        "Webhook-Duplicate: true")
    assert grades["forged signature"] == ("PASS", "401")
    assert grades["non-JSON body"] == ("PASS", "400")
    assert output.splitlines()[-1] == "6 passed, 0 failed, 4 not applicable"


def test_the_seed_python_receiver_fails_the_clock_checks_with_the_headers_clawbook_sends(
        seed_receiver):
    """It checks only X-ClawBook-Signature, so a captured delivery replayed an hour later
    is accepted: the checker says so."""
    status, _output, grades = check(seed_receiver)
    assert status == 1
    assert grades["stale timestamp"] == (
        "FAIL", "200; accepted; it must be refused with a 4xx")
    assert grades["future timestamp"][0] == "FAIL"
    assert grades["forged signature"] == ("PASS", "401")


# -- receivers that fail ------------------------------------------------------------------


def test_a_receiver_that_accepts_anything_fails_forged_and_every_other_refusal(
        flask_receivers):
    status, output, grades = check(f"{flask_receivers}/anything")
    assert status == 1
    accepted = ("FAIL", "200; accepted; it must be refused with a 4xx")
    assert grades["valid delivery"] == ("PASS", "200")
    for name in ("forged signature", "body changed after signing", "missing signature",
                 "stale timestamp", "future timestamp", "non-JSON body"):
        assert grades[name] == accepted, name
    assert grades["oversized body"] == (
        "FAIL", "200; accepted; it must be refused with a 4xx (4194304 bytes, not signed "
        "with the secret)")
    assert output.splitlines()[-1] == "1 passed, 7 failed, 2 not applicable"


def test_a_receiver_that_verifies_but_does_not_deduplicate_fails_the_duplicate_via_the_probe(
        flask_receivers):
    status, _output, grades = check(f"{flask_receivers}/no-dedupe",
                                    "--probe", f"{flask_receivers}/no-dedupe/count")
    assert status == 1
    first, second = grades["same delivery again"], grades["replayed id, different body"]
    assert first[0] == "FAIL"
    assert re.fullmatch(r"200; the handler ran again \(probe (\d+) -> \d+ -> \d+\)", first[1])
    counts = [int(n) for n in re.findall(r"\d+", first[1].split("probe")[1])]
    assert counts[1] == counts[0] + 1 and counts[2] == counts[1] + 1
    assert second[0] == "FAIL" and "the handler ran again" in second[1]
    assert grades["forged signature"] == ("PASS", "401")
    assert grades["stale timestamp"] == ("PASS", "401")


def test_an_unreachable_receiver_fails_the_valid_delivery_and_grades_nothing_else():
    status, output, grades = check(f"http://127.0.0.1:{free_port()}/webhook")
    assert status == 1
    assert grades["valid delivery"][0] == "FAIL"
    assert grades["valid delivery"][1].startswith("no answer (ConnectionRefusedError")
    assert grades["forged signature"] == (
        "N/A", "the valid delivery was not accepted, so a refusal proves nothing")
    assert output.splitlines()[-1] == "0 passed, 1 failed, 9 not applicable"


def test_a_usage_error_exits_2_and_says_what_is_missing():
    result = run([sys.executable, "-m", "receiver_kit.check", "http://127.0.0.1:1/"],
                 timeout=60, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert "--secret" in result.stderr


# -- flask clawhooks check-receiver --------------------------------------------------------


def test_check_receiver_uses_the_webhooks_url_and_secret(host, flask_receivers):
    hook = host.add_webhook(f"{flask_receivers}/kit", secret=SECRET)
    result = host.app.test_cli_runner().invoke(args=[
        "clawhooks", "check-receiver", hook.id, "--pause", "0",
        "--probe", f"{flask_receivers}/kit/count"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"Checking {flask_receivers}/kit (headers: both)"
    assert result.output.splitlines()[-1] == "10 passed, 0 failed, 0 not applicable"


def test_check_receiver_exits_1_when_a_check_fails(host, flask_receivers):
    hook = host.add_webhook(f"{flask_receivers}/anything", secret=SECRET)
    result = host.app.test_cli_runner().invoke(args=[
        "clawhooks", "check-receiver", hook.id, "--pause", "0"])
    assert result.exit_code == 1
    assert "FAIL  forged signature" in result.output


def test_check_receiver_obeys_the_ssrf_policy_and_sends_nothing(host, flask_receivers):
    hook = host.add_webhook(f"{flask_receivers}/anything", secret=SECRET)
    before = handler_runs(f"{flask_receivers}/anything/count")
    host.configure(destinations=DestinationPolicy())
    result = host.app.test_cli_runner().invoke(args=[
        "clawhooks", "check-receiver", hook.id, "--pause", "0"])
    assert result.exit_code == 1
    assert handler_runs(f"{flask_receivers}/anything/count") == before
    assert "Not checked: destination refused: 127.0.0.1 is a loopback address" in result.output
    assert "CLAWHOOKS_ALLOW_PRIVATE_DESTINATIONS" in result.output


def test_check_receiver_names_an_unknown_webhook(host):
    result = host.app.test_cli_runner().invoke(args=[
        "clawhooks", "check-receiver", "wh_01jkq8m3z5v6w7x8y9a0b1c2d3"])
    assert result.exit_code == 1
    assert "No webhook wh_01jkq8m3z5v6w7x8y9a0b1c2d3" in result.output
