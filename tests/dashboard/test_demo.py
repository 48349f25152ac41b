"""The first ten minutes, in a real browser: ``python -m example_app`` as a newcomer runs it.

The demo's own sign-in, an API key that works, a webhook added to the demo receiver, a
sample event sent and seen arriving in the delivery log without a reload; then Ctrl-C
(SIGINT to the terminal's process group) or SIGTERM stops every process the demo started,
frees its ports and prints nothing but the two shutdown lines.
"""

from __future__ import annotations

import json
import signal
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from example_app import DEMO_SECRET
from flask_clawhooks.samples import SAMPLES

from .demo import SHUTDOWN_LINES, Demo, port_refuses
from .layout import check_page, watch_console

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed: pip install playwright"
).expect


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    running = Demo.start(tmp_path / "instance", interval=2.0)
    yield running
    running.kill()


def get_json(url: str, **headers: str) -> Any:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def received(demo: Demo) -> list[dict[str, Any]]:
    """The events the demo receiver verified, newest first."""
    return list(get_json(demo.receiver + "events.json")["events"])


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM],
                         ids=["ctrl-c", "sigterm"])
def test_a_newcomer_signs_in_adds_a_webhook_sees_a_test_arrive_live_then_the_demo_stops_clean(
        stop_signal, demo, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors = watch_console(page)

    # -- the home page links the dashboard, the API and the receiver ----------------------
    page.goto(demo.home)
    expect(page.get_by_role("heading", name="ClawBook demo", exact=True)).to_be_visible()
    dashboard_path = "/" + demo.dashboard.split("/", 3)[3]
    assert page.get_by_role("link", name="Open the dashboard").get_attribute("href") == (
        dashboard_path)
    assert page.get_by_role("link", name=demo.receiver).get_attribute("href") == demo.receiver
    assert page.get_by_role("link", name=demo.api + "openapi.json").count() == 1
    assert "try_" not in page.content()

    # -- the dashboard sends a signed-out visitor to the demo's sign-in -------------------
    page.get_by_role("link", name="Open the dashboard").click()
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    key = page.locator("#key-acme").inner_text()
    assert key.startswith("cbk_")
    assert f"Authorization: Bearer {key}" in page.locator("section", has_text="acme").inner_text()
    # the key shown works with the API, for that account only
    assert get_json(demo.api + "webhooks", Authorization=f"Bearer {key}")["data"] == []
    page.get_by_role("button", name="Sign in as acme").click()
    expect(page.get_by_role("heading", name="No webhooks yet")).to_be_visible()
    assert page.url == demo.dashboard

    # -- add a webhook to the demo receiver, with the secret it checks ---------------------
    page.get_by_role("link", name="Add Webhook").first.click()
    page.fill("#url", demo.receiver + "webhook")
    page.check('input[value="message.received"]')
    page.fill("#secret", DEMO_SECRET)
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text("Webhook created.")).to_be_visible()
    assert page.locator("#ch-secret").inner_text() == DEMO_SECRET

    # -- Send test with a sample event: it arrives, and the log shows it, without reload ---
    # The page's script has run (its deferred file can come after the text is shown):
    # a click before that would send the form the way a page without JavaScript does.
    expect(page.get_by_text("Updating live")).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    page.select_option("#test-event-type", "integration.disconnected")
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_text("Sample integration.disconnected event delivered: HTTP 200")
           ).to_be_visible()
    row = page.locator("details.ch-delivery", has_text="integration.disconnected")
    expect(row).to_have_count(1)
    expect(row.locator("summary")).to_contain_text("success")
    [arrived] = [e for e in received(demo) if e["type"] == "integration.disconnected"
                 and e["data"] == SAMPLES["integration.disconnected"]["data"]]
    assert row.get_attribute("open") is not None
    assert arrived["id"] in row.locator("pre.ch-pre").first.inner_text()

    # -- an event the app emits is delivered by the worker and appears by itself ------------
    urllib.request.urlopen(urllib.request.Request(
        demo.home + "demo/event/message.received?owner=acme", method="POST"), timeout=10)
    live = page.locator("details.ch-delivery", has_text="message.received")
    expect(live).to_have_count(1, timeout=30_000)
    expect(live.locator("summary")).to_contain_text("success", timeout=30_000)
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    assert any(e["type"] == "message.received" and e["id"] in live.text_content()
               for e in received(demo))
    context.close()
    assert not errors, "\n".join(errors)

    # -- stop: nothing left, ports free, only the shutdown lines --------------------------
    stopped = demo.stop(stop_signal)
    assert stopped.returncode == 0, (stopped, "".join(demo.stderr))
    assert len(stopped.recorded) >= 4, stopped.recorded  # redis, worker, app, receiver
    assert not stopped.left, f"still running after the demo exited: {stopped.left}"
    assert not stopped.groups_left, f"process groups with members: {stopped.groups_left}"
    assert stopped.stderr_after == SHUTDOWN_LINES
    assert [line.rstrip("\n") for line in demo.stderr] == SHUTDOWN_LINES, "".join(demo.stderr)
    for url in (demo.home, demo.receiver, demo.redis):
        assert port_refuses(url), f"{url} still answers"


def test_the_demo_pages_fit_375_and_1280_px_and_pass_axe(axe, demo, browser):
    problems: list[str] = []
    consoles = []
    for width in (375, 1280):
        context = browser.new_context(viewport={"width": width, "height": 800})
        page = context.new_page()
        consoles.append(watch_console(page, f"{width}px: "))
        page.goto(demo.home)
        problems += check_page(page, f"{width}px-demo-home")
        page.goto(demo.dashboard)  # to the sign-in page
        page.get_by_role("heading", name="Sign in", exact=True).wait_for()
        problems += check_page(page, f"{width}px-demo-sign-in")
        page.get_by_role("button", name="Sign in as demo").click()
        page.locator("#webhooks").wait_for()
        problems += check_page(page, f"{width}px-demo-dashboard")
        page.locator("#webhooks a").first.click()
        page.locator("details.ch-delivery").first.wait_for(timeout=30_000)
        page.locator("details.ch-delivery summary").first.click()
        problems += check_page(page, f"{width}px-demo-webhook")
        # The delivery opened: the demo keeps sending, and the log puts each new
        # delivery, closed, above it while the page is checked.
        page.locator("details.ch-delivery[open] a[data-delivery-link]").first.click()
        page.locator("#delivery-state").wait_for()
        problems += check_page(page, f"{width}px-demo-delivery")
        page.goto(demo.receiver)
        page.get_by_role("heading", name="Verified ClawBook webhooks").wait_for()
        problems += check_page(page, f"{width}px-demo-receiver")
        context.close()
    assert not problems, "\n".join(problems)
    errors = [error for found in consoles for error in found]
    assert not errors, "\n".join(errors)
