"""Fixtures for the dashboard: a host that signs people in, a live server, a browser.

The host app signs a person in at ``/login?as=<owner>`` (kept in Flask's session) and
tells the dashboard who is looking through ``dashboard_owner_loader``, the way a real
host would with its own login.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import redirect, request, session, url_for
from werkzeug.serving import make_server

from ..fixtures import Host, serve_in_thread

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PREFIX = "/settings/api/webhooks"


@dataclass
class Dashboard:
    host: Host

    def url(self, path: str = "/") -> str:
        return PREFIX + path

    def client(self, owner: str | None = "acme") -> Any:
        """A test client signed in as ``owner`` (None: signed out)."""
        client = self.host.app.test_client()
        if owner is not None:
            with client.session_transaction() as sess:
                sess["user"] = owner
        return client


@pytest.fixture
def dashboard(host: Host) -> Dashboard:
    app = host.app
    app.secret_key = "dashboard-tests-only"

    @app.get("/login")
    def login() -> Any:
        session["user"] = request.args["as"]
        return redirect(request.args.get("next") or url_for("clawhooks_dashboard.index"))

    @host.clawhooks.dashboard_owner_loader
    def current_owner() -> str | None:
        return session.get("user")

    return Dashboard(host)


def csrf_token_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


# -- a live server and a browser --------------------------------------------------------


@pytest.fixture
def live_server(dashboard: Dashboard) -> Iterator[str]:
    """The host app served on a free loopback port; yields its base URL."""
    server = make_server("127.0.0.1", 0, dashboard.host.app, threaded=True)
    thread = serve_in_thread(server)
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's package) driven by Playwright; skips without either.

    Package scope: Playwright's sync API keeps an event loop running in the main thread
    while it is open, which breaks ``asyncio.run`` and Django's ``async_to_sync`` in the
    tests of other packages, so it closes when the dashboard's tests are done."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: pip install playwright")
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, live_server: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server, viewport={"width": 1200, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot(page: Any, request: pytest.FixtureRequest) -> Any:
    """``screenshot("webhooks-list")`` saves the whole page under test-artifacts/screenshots/."""
    variant = request.node.callspec.params.get("database_url", "") if hasattr(
        request.node, "callspec") else ""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}{'-' + variant if variant else ''}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture(scope="session")
def axe() -> Path:
    """axe-core's script from tests/dashboard/node, installed with ``npm ci`` if it is not
    yet (as .ci/run does); skips where npm is missing or cannot install it."""
    from .layout import AXE, NODE

    if not AXE.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("axe-core is not installed in tests/dashboard/node and npm is missing "
                        "(.ci/run installs nodejs and npm, then runs `npm ci` there)")
        result = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE,
                                capture_output=True, text=True, timeout=600)
        if result.returncode != 0 or not AXE.is_file():
            pytest.skip(f"`npm ci` in tests/dashboard/node failed, so axe-core is missing: "
                        f"{result.stderr.strip()[-300:]}")
    return AXE
