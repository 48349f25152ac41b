"""Every dashboard page on a phone (375 px) and a laptop (1280 px), in Chromium: nothing
clipped, overflowing or overlapping, no serious or critical axe-core violation, no error
in the console (a script or style refused by the Content-Security-Policy shows up there).
Screenshots of each page go to test-artifacts/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest

from flask_clawhooks.samples import SAMPLES

from ..fixtures import Reply
from .conftest import PREFIX
from .layout import check_page, watch_console

pytest.importorskip("playwright.sync_api",
                    reason="Playwright is not installed: pip install playwright")

WIDTHS = (375, 1280)
LONG_PATH = "/webhook/clawbook/incoming/" + "0123456789abcdefghijklmnopqrstuvwxyz" * 2


def make_deliveries(host: Any, receiver: Any, webhook_id: str) -> str:
    """One delivery in each state the log words differently, with bodies long enough to
    scroll on a phone. Returns the id of the first event (failed, to be retried)."""
    page = b"<html><body><h1>502 Bad Gateway</h1>" + b"<p>upstream exploded</p>" * 60
    receiver.default = Reply(500, page, {"Content-Type": "text/html"})
    first = host.emit("message.received", {"message_id": "msg_1", "content": "Hello"})
    host.work()  # failed, a retry in a minute
    receiver.default = Reply(404, b"no such hook")
    host.emit("message.sent", SAMPLES["message.sent"]["data"])
    host.work()  # failed for good
    receiver.default = Reply(200, b"OK")
    host.emit("ai.error", {"model": "claude-3-5-sonnet", "error": "upstream 502"})
    host.work()  # delivered
    host.emit("backup.failed", {"error": "disk full"})  # not sent yet
    return first


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # layout, not storage
def test_every_page_fits_375_and_1280_px_and_passes_axe(axe, dashboard, browser,
                                                          live_server, receiver):
    host = dashboard.host
    receiver_url = receiver.url.replace("/webhook", LONG_PATH)
    events = ["message.received", "message.sent", "ai.error", "backup.failed"]
    busy = host.add_webhook(receiver_url, events, description="CRM sync for the sales team")
    stopped = host.add_webhook("https://hooks.example.com/clawbook", ["system.health"],
                               enabled=False, disabled_reason="5 days of failed deliveries")
    event_id = make_deliveries(host, receiver, busy.id)
    # A FIFO webhook with limits whose head cannot connect (nothing listens on port 9):
    # two deliveries wait behind it.
    queued = host.add_webhook("http://127.0.0.1:9/fifo", ["ai.request"], ordering="fifo",
                              max_per_second=2.5, max_in_flight=4)
    for n in range(3):
        host.emit("ai.request", {"model": "claude-3-5-sonnet", "n": n})
    host.work()

    problems: list[str] = []
    consoles: list[list[str]] = []
    for width in WIDTHS:
        context = browser.new_context(base_url=live_server,
                                      viewport={"width": width, "height": 800})
        context.set_default_timeout(15_000)
        page = context.new_page()
        consoles.append(watch_console(page, f"{width}px: "))

        def check(name: str, page: Any = page, width: int = width) -> None:
            problems.extend(check_page(page, f"{width}px-{name}"))

        # signed out: the 401 page
        page.goto(f"{PREFIX}/")
        check("sign-in-required")

        page.goto(f"/login?as=globex&next={PREFIX}/")  # an owner with no webhooks
        page.get_by_role("heading", name="No webhooks yet").wait_for()
        check("webhooks-empty")

        page.goto(f"/login?as=acme&next={PREFIX}/")
        rows = page.locator("#webhooks tbody tr")
        assert rows.count() >= 2
        labels = rows.first.locator(".ch-label")
        if width == 375:  # stacked rows, each line labelled; no column headers
            assert labels.all_text_contents() == ["Events", "Status", "Last delivery"]
            assert all(label.is_visible() for label in labels.all())
            assert page.locator("#webhooks thead").bounding_box()["height"] <= 1
        else:
            assert all(not label.is_visible() for label in labels.all())
            assert page.locator("#webhooks thead").is_visible()
        check("webhooks")

        page.get_by_role("link", name="Add Webhook").first.click()
        page.get_by_role("button", name="Create").click()
        page.locator("#url-error").wait_for()
        check("add-webhook-errors")

        # the event picker's payloads: an example and a schema, both scrolling blocks
        page.locator("details.ch-payloads > summary").click()
        page.locator("details.ch-payload").first.locator("summary").click()
        page.get_by_label("Schema of message.received data").wait_for()
        check("add-webhook-payload")

        page.fill("#url", receiver_url)
        page.check('input[value="integration.error"]')
        page.get_by_role("button", name="Create").click()
        page.locator("#ch-secret").wait_for()
        check("webhook-created-secret")

        page.goto(f"{PREFIX}/{busy.id}")
        details = page.locator("details.ch-delivery")
        assert details.count() == 4
        for index in range(4):
            details.nth(index).locator("summary").click()
        scrolling = page.locator("pre.ch-pre").evaluate_all(
            "pres => pres.filter(p => p.scrollHeight > p.clientHeight).length")
        assert scrolling >= 1  # a scrolling body is checked for keyboard access
        check("webhook-log")
        delivery_id = details.first.get_attribute("id")
        page.goto(f"{PREFIX}/{busy.id}/deliveries/{delivery_id}")
        page.locator("#delivery-state").wait_for()
        check("delivery")
        page.goto(f"{PREFIX}/{busy.id}")

        # custom headers: the form, its errors, then the saved list (a secret masked)
        page.get_by_role("link", name="Edit headers").click()
        page.get_by_label("Header 1 name").wait_for()
        check("webhook-headers")
        page.get_by_label("Header 1 name").fill("Bad Header")
        page.get_by_label("Header 1 value").fill("x")
        page.get_by_role("button", name="Save headers").click()
        page.locator("#header-0-error").wait_for()
        check("webhook-headers-errors")
        page.get_by_label("Header 1 name").fill("Authorization")
        page.get_by_label("Header 1 value").fill("Bearer " + "0123456789abcdef" * 4)
        page.get_by_label("Header 1 is secret").check()
        page.get_by_label("Header 2 name").fill("X-Route-For-The-Sales-Team")
        page.get_by_label("Header 2 value").fill("eu-west-1." + "very-long-routing-key" * 3)
        page.get_by_role("button", name="Save headers").click()
        page.locator("#custom-headers-list").wait_for()
        check("webhook-with-headers")

        # recover: the confirmation page counts what the range holds
        page.locator("#recover").get_by_role("button", name="Recover…").click()
        page.locator(".ch-recover-count").wait_for()
        check("recover-confirm")
        page.get_by_role("link", name="Cancel").click()

        page.get_by_role("link", name="Edit", exact=True).click()
        page.locator("#url").wait_for()
        check("edit-webhook")

        page.goto(f"{PREFIX}/{busy.id}/delete")
        check("delete-webhook")

        # delivery control: a FIFO queue, then the form's limits refused
        page.goto(f"{PREFIX}/{queued.id}")
        page.locator("#fifo-queue").wait_for()
        queue = page.locator("details.ch-delivery")
        for index in range(queue.count()):
            queue.nth(index).locator("summary").click()
        assert page.get_by_text("Waiting behind").count() == 2
        check("webhook-fifo-queue")
        page.get_by_role("link", name="Edit", exact=True).click()
        page.fill("#max_per_second", "fast")
        page.fill("#max_in_flight", "0")
        page.get_by_role("button", name="Save").click()
        page.locator("#max_in_flight-error").wait_for()
        check("edit-webhook-control-errors")

        page.goto(f"{PREFIX}/{busy.id}?status=pending&event=ai.request")
        page.get_by_text("No deliveries match these filters.").wait_for()
        check("webhook-log-filtered-empty")

        page.goto(f"{PREFIX}/{stopped.id}")  # health says why; recover asks to enable first
        page.locator("#health-disabled").wait_for()
        check("webhook-disabled")

        page.goto(f"{PREFIX}/wh_nosuchwebhook")
        check("not-found")

        # search: the box on the list, the results, the full form and its errors
        page.goto(f"{PREFIX}/")
        page.get_by_role("searchbox").fill(event_id)
        page.get_by_role("button", name="Search").click()
        page.locator("#search-results tbody tr").first.wait_for()
        check("search-results")
        page.goto(f"{PREFIX}/search?since=2000-01-01T00:00:00")
        assert page.locator("#search-results tbody tr").count() >= 4
        check("search-results-all")
        page.goto(f"{PREFIX}/search?event_id=nope&response_code=6xx")
        page.locator(".ch-flash-error").first.wait_for()
        check("search-errors")
        context.close()

    assert not problems, "\n".join(problems)
    console = [error for errors in consoles for error in errors]
    assert not console, "\n".join(console)
