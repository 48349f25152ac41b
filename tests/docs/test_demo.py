"""The README's demo: ``python -m example_app`` runs the whole stack, the receiver verifies
real events, a visitor can sign in and get an API key, and it stops cleanly.

The browser side of the demo (sign in, add a webhook, see a test arrive live, Ctrl-C) is
tests/dashboard/test_demo.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from ..dashboard.demo import (
    ROOT,
    SHUTDOWN_LINES,
    Demo,
    alive,
    descendants,
    group_alive,
    port_refuses,
)
from ..processes import run

README = ROOT / "README.md"
QUICKSTART = ROOT / "docs" / "quickstart.rst"


def test_python_m_example_app_delivers_verified_events_of_five_types_and_stops_on_sigterm(
        tmp_path):
    assert "python -m example_app" in README.read_text(encoding="utf-8"), (
        "the README's demo command changed")
    demo = Demo.start(tmp_path / "instance", interval=0.3)
    counts: dict[str, int] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(counts) < 5:
            try:
                with urllib.request.urlopen(demo.receiver + "events.json", timeout=5) as r:
                    counts = json.load(r)["counts"]
            except OSError:
                pass
            time.sleep(0.5)
        stopped = demo.stop(signal.SIGTERM)  # as a service manager stops it
    finally:
        demo.kill()
    assert len(counts) >= 5, f"verified event types after 60 s: {counts}"
    assert stopped.returncode == 0, "".join(demo.stderr)
    assert not stopped.left and not stopped.groups_left, stopped
    assert [line.rstrip("\n") for line in demo.stderr] == SHUTDOWN_LINES, "".join(demo.stderr)
    assert all(port_refuses(url) for url in (demo.home, demo.receiver, demo.redis))
    assert (tmp_path / "instance" / "clawbook.sqlite").exists()


def test_the_readmes_emit_command_reaches_a_running_demo_within_5_s(tmp_path):
    """The README's own command line, word for word, beside a running demo: it reads the
    Redis URL and the database the demo wrote to its instance folder, so the demo
    receiver gets the event at once. (The banner prints the same command.)"""
    readme = README.read_text(encoding="utf-8")
    tail = ("clawhooks emit system.health "
            "'{\"status\": \"ok\", \"checked_at\": \"2026-01-30T14:30:00Z\"}' --owner demo")
    [readme_line] = [line.split("#")[0].strip() for line in readme.splitlines()
                     if line.startswith("flask --app example_app ") and line.endswith(tail)]
    # example_app's default instance folder is the one beside the package; a copy of the
    # package in a folder of this test's own gives it one here (flask --app resolves links),
    # so the README's command runs as written without touching the checkout's instance/.
    shutil.copytree(ROOT / "example_app", tmp_path / "example_app",
                    ignore=shutil.ignore_patterns("__pycache__"))
    instance = tmp_path / "instance"
    demo = Demo.start(instance, interval=3600)  # no simulated events in the way
    try:
        assert any(line.strip().endswith(tail) for line in demo.stdout), demo.stdout
        assert (instance / "demo-settings.json").exists()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
        env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])  # the copy first
        done = run([sys.executable, "-m", *shlex.split(readme_line)], cwd=tmp_path, env=env,
                   capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        event_id = re.search(r"evt_\w+", done.stdout).group()
        deadline = time.monotonic() + 5
        got: list[str] = []
        while time.monotonic() < deadline and event_id not in got:
            with urllib.request.urlopen(demo.receiver + "events.json", timeout=5) as r:
                got = [e["id"] for e in json.load(r)["events"]]
            time.sleep(0.1)
        assert event_id in got, f"the demo receiver did not get {event_id} within 5 s"
        stopped = demo.stop(signal.SIGTERM)
    finally:
        demo.kill()
    assert stopped.returncode == 0
    assert not (instance / "demo-settings.json").exists(), "left behind by a stopped demo"


def test_a_demo_killed_with_sigkill_leaves_no_process_behind(tmp_path):
    """The kernel stops the children of a demo that could not stop them itself."""
    demo = Demo.start(tmp_path / "instance", interval=0.5)
    try:
        recorded = descendants(demo.process.pid)
        assert len(recorded) >= 4, recorded  # redis, worker, app, receiver
        os.kill(demo.process.pid, signal.SIGKILL)
        demo.process.wait(10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (
                alive(set(recorded)) or any(group_alive(g) for g in recorded.values())):
            time.sleep(0.1)
        left = alive(set(recorded))
        groups = {g for g in recorded.values() if group_alive(g)}
        demo.leftover_groups = groups  # killed in teardown if the test fails
    finally:
        demo.kill()
    assert not left and not groups, (left, groups)
    assert all(port_refuses(url) for url in (demo.home, demo.receiver, demo.redis))


def test_every_demo_option_is_documented_in_the_readme_and_the_quickstart():
    result = subprocess.run([sys.executable, "-m", "example_app", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    options = set(re.findall(r"(--[a-z][a-z-]+)", result.stdout)) - {"--help"}
    assert {"--port", "--receiver-port", "--interval", "--duration",
            "--instance-path"} <= options
    for page in (README, QUICKSTART):
        text = page.read_text(encoding="utf-8")
        missing = sorted(option for option in options if option not in text)
        assert not missing, f"{page.name} does not mention {missing}"


# -- the demo app's own pages, through Flask's test client -----------------------------


@pytest.fixture
def demo_app(database_url: str, redis_url: str, tmp_path) -> Iterator[Any]:
    from example_app import clawhooks, create_app, db
    from flask_clawhooks.models import Base

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "CLAWHOOKS_REDIS_URL": redis_url,
                      "DEMO_RECEIVER_URL": "http://127.0.0.1:5051", "TESTING": True},
                     instance_path=str(tmp_path / "instance"))
    with app.app_context():
        clawhooks.create_all()
    yield app
    with app.app_context():
        Base.metadata.drop_all(db.engine)
        db.engine.dispose()


def test_the_home_page_is_html_that_links_the_dashboard_the_api_and_the_receiver(demo_app):
    response = demo_app.test_client().get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert 'href="/settings/api/webhooks/"' in html
    assert 'href="http://localhost/api/v1/openapi.json"' in html
    assert 'href="http://127.0.0.1:5051/"' in html
    assert "try_" not in html
    assert "script-src" not in response.headers["Content-Security-Policy"]  # none at all
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_visitor_signs_in_on_the_demo_page_and_the_api_key_shown_works(demo_app):
    client = demo_app.test_client()
    response = client.get("/settings/api/webhooks/new")
    assert response.status_code == 302
    assert response.headers["Location"] == "/demo/sign-in?next=/settings/api/webhooks/new"

    page = client.get(response.headers["Location"]).get_data(as_text=True)
    keys = dict(re.findall(r'<code class="key" id="key-(\w+)">(cbk_[\w-]+)</code>', page))
    assert set(keys) == {"demo", "acme"}
    assert f'Authorization: Bearer {keys["acme"]}' in page
    again = client.get("/demo/sign-in").get_data(as_text=True)
    assert keys["acme"] in again, "the demo shows the same key again"

    signed_in = client.post("/demo/sign-in", data={
        "owner": "acme", "next": "/settings/api/webhooks/new"})
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"] == "/settings/api/webhooks/new"
    cookie = signed_in.headers["Set-Cookie"]
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie
    dashboard = client.get("/settings/api/webhooks/new")
    assert dashboard.status_code == 200
    page = dashboard.get_data(as_text=True)
    assert '<span class="ch-owner">acme · <a href="/demo/sign-in?next=' in page
    assert ">Switch account</a>" in page

    api = client.post("/api/v1/webhooks", headers={"Authorization": f"Bearer {keys['acme']}"},
                      json={"url": "http://127.0.0.1:5051/webhook", "events": ["ai.error"]})
    assert api.status_code == 201, api.get_json()
    mine = client.get("/api/v1/webhooks", headers={"Authorization": f"Bearer {keys['acme']}"})
    theirs = client.get("/api/v1/webhooks", headers={"Authorization": f"Bearer {keys['demo']}"})
    assert [w["id"] for w in mine.get_json()["data"]] == [api.get_json()["id"]]
    assert theirs.get_json()["data"] == []

    client.post("/demo/sign-out")
    assert client.get("/settings/api/webhooks/").status_code == 302


def test_the_demo_sign_in_refuses_unknown_accounts_and_foreign_redirects(demo_app):
    client = demo_app.test_client()
    assert client.post("/demo/sign-in", data={"owner": "mallory"}).status_code == 400
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = client.post("/demo/sign-in", data={"owner": "demo", "next": target})
        assert response.headers["Location"] == "/settings/api/webhooks/", target


def test_the_demo_says_when_it_takes_another_port(capsys):
    from example_app.demo import _port

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        port = _port(busy, "demo receiver")
    assert port != busy
    assert capsys.readouterr().err == (
        f"Port {busy} is taken; the demo receiver listens on {port} instead.\n")
