"""The dashboard in a real browser (headless Chromium), against a live server, real
receivers and real workers: add, test, fail, retry, disable, enable, delete."""

from __future__ import annotations

import re
import time

import pytest

from flask_clawhooks.models import DeliveryStatus

from ..fixtures import Reply
from .conftest import PREFIX

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed: pip install playwright"
).expect

pytestmark = pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[])  # fail at once


def delivery_row(page, index: int = 0):
    return page.locator("details.ch-delivery").nth(index)


def test_the_whole_flow_in_a_browser(dashboard, page, screenshot, receiver):
    host = dashboard.host
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))

    page.goto(f"/login?as=acme&next={PREFIX}/")
    page.get_by_role("heading", name="No webhooks yet").wait_for()
    screenshot("01-webhooks-empty")

    # -- Add Webhook, first with mistakes ------------------------------------------------
    page.get_by_role("link", name="Add Webhook").first.click()
    page.get_by_role("heading", name="Add Webhook").wait_for()
    page.fill("#url", "not a url")
    page.get_by_role("button", name="Create").click()
    assert page.locator("#url-error").inner_text().startswith("URL must")
    assert page.locator("#events-error").inner_text() == "Select at least one event."
    assert page.input_value("#url") == "not a url"
    screenshot("02-add-webhook-errors")

    page.fill("#url", receiver.url)
    message = page.locator("fieldset.ch-group", has_text="Message")
    message.locator("[data-select-all]").check()  # select-all works with JS
    assert message.locator('input[name="events"]:checked').count() == 4
    message.locator('input[value="message.failed"]').uncheck()
    assert message.locator("[data-select-all]").evaluate("box => box.indeterminate")
    page.check('input[value="ai.error"]')
    page.fill("#description", "CRM sync")
    screenshot("03-add-webhook-form")
    page.get_by_role("button", name="Create").click()

    # -- the secret, once ------------------------------------------------------------------
    secret = page.locator("#ch-secret").inner_text()
    assert secret.startswith("whsec_")
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    expect(page.get_by_text("Webhook created.")).to_be_visible()
    screenshot("04-webhook-created-secret")
    webhook_id = page.url.rsplit("/", 1)[-1]
    webhook = host.webhook(webhook_id)
    assert webhook.secret == secret
    assert webhook.events == ["message.received", "message.sent", "message.delivered",
                              "ai.error"]
    page.reload()
    assert page.locator("#ch-secret").count() == 0
    assert secret not in page.content()

    # -- listed --------------------------------------------------------------------------
    page.get_by_role("link", name="Webhooks", exact=True).click()
    row = page.locator(f'tr[data-webhook="{webhook_id}"]')
    assert receiver.url in row.inner_text()
    assert row.locator(".ch-badge").first.inner_text() == "active"
    assert "No deliveries yet" in row.inner_text()

    # -- Send test to a live receiver ----------------------------------------------------
    row.get_by_role("link", name=receiver.url).click()
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_text("Test event delivered: HTTP 200")).to_be_visible()
    [request] = receiver.requests
    assert request.headers["X-ClawBook-Event"] == "webhook.test"
    test_row = delivery_row(page)
    assert test_row.get_attribute("open") is not None  # opened on the test's outcome
    summary = test_row.locator("summary").inner_text()
    assert "success" in summary and "webhook.test" in summary and "200" in summary
    attempt = test_row.locator("article.ch-attempt")
    assert "X-ClawBook-Signature" in attempt.inner_text()
    assert request.headers["X-ClawBook-Signature"] in attempt.inner_text()
    assert '"type": "webhook.test"' in test_row.locator("pre.ch-pre").first.inner_text()
    assert secret not in page.content()
    screenshot("05-test-delivered")

    # -- a failed delivery and its attempts -----------------------------------------------
    receiver.default = Reply(500, b"upstream exploded")
    host.emit("message.received", {"message_id": "msg_1", "content": "Hello"})
    host.work()
    page.reload()
    failed = delivery_row(page)
    failed.locator("summary").click()
    summary = failed.locator("summary").inner_text()
    assert "failed" in summary and "message.received" in summary and "500" in summary
    attempt = failed.locator("article.ch-attempt")
    assert attempt.count() == 1
    assert "upstream exploded" in attempt.inner_text()
    assert page.locator("#webhook-status").inner_text() == "failed"
    screenshot("06-delivery-failed")

    # -- Retry: the receiver is fixed, a worker sends it again ---------------------------
    receiver.default = Reply(200, b"thanks")
    failed_id = failed.get_attribute("id")
    failed.get_by_role("button", name="Retry").click()
    # the retried delivery's own page, its message at the top, in view
    expect(page.get_by_text("Retry queued")).to_be_in_viewport()
    assert page.url.endswith(f"/{webhook_id}/deliveries/{failed_id}")
    host.work()
    page.reload()
    expect(page.locator("#delivery-state")).to_contain_text("success · after 2 attempts")
    expect(page.locator("article.ch-attempt")).to_have_count(2)
    page.get_by_role("link", name=webhook_id).click()
    assert page.locator("#webhook-status").inner_text() == "active"
    [last] = [d for d in host.deliveries() if d.event_type == "message.received"]
    assert (last.status, last.attempt_count) == (DeliveryStatus.SUCCESS, 2)
    screenshot("07-delivery-retried")

    # -- filters ---------------------------------------------------------------------------
    page.select_option('select[name="event"]', "webhook.test")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("details.ch-delivery")).to_have_count(1)
    assert "webhook.test" in delivery_row(page).locator("summary").inner_text()
    page.get_by_role("link", name="Clear").click()
    expect(page.locator("details.ch-delivery")).to_have_count(2)

    # -- Disable, Enable -----------------------------------------------------------------
    page.get_by_role("button", name="Disable").click()
    expect(page.locator("#webhook-status")).to_have_text("disabled")
    assert host.webhook(webhook_id).enabled is False
    screenshot("08-webhook-disabled")
    page.get_by_role("button", name="Enable").click()
    expect(page.locator("#webhook-status")).to_have_text("active")
    assert host.webhook(webhook_id).enabled is True

    # -- Rotate secret (asks first) ----------------------------------------------------------
    page.get_by_role("button", name="Rotate secret").click()
    rotated = page.locator("#ch-secret").inner_text()
    assert dialogs and "new secret" in dialogs[-1]
    assert rotated.startswith("whsec_") and rotated != secret
    assert host.webhook(webhook_id).secret == rotated

    # -- list shows the last delivery ----------------------------------------------------------
    page.get_by_role("link", name="Webhooks", exact=True).click()
    assert "success" in page.locator(f'tr[data-webhook="{webhook_id}"] .ch-last').inner_text()
    screenshot("09-webhooks-list")

    # -- Delete, through the confirmation page -----------------------------------------------
    page.get_by_role("link", name=receiver.url).click()
    page.get_by_role("link", name="Delete").click()
    page.get_by_role("heading", name="Delete this webhook?").wait_for()
    screenshot("10-delete-confirm")
    page.get_by_role("button", name="Delete webhook").click()
    expect(page.get_by_text(f"Webhook {receiver.url} deleted.")).to_be_visible()
    page.get_by_role("heading", name="No webhooks yet").wait_for()
    assert host.deliveries() == []


def test_pages_work_without_javascript(browser, live_server, dashboard, receiver):
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"/login?as=acme&next={PREFIX}/new")
        expect(page.locator(".ch-select-all").first).to_be_hidden()
        page.fill("#url", receiver.url)
        page.check('input[value="backup.failed"]')
        page.get_by_role("button", name="Create").click()
        assert page.locator("#ch-secret").inner_text().startswith("whsec_")
        assert page.get_by_role("button", name="Copy").count() == 0  # hidden without JS
        page.get_by_role("button", name="Send test").click()
        expect(page.get_by_text("Test event delivered")).to_be_visible()
        # the log cannot update itself: a Reload link instead of "Updating live"
        expect(page.get_by_role("link", name="Reload")).to_be_visible()
        expect(page.get_by_text("Updating live")).to_be_hidden()
        page.get_by_role("link", name="Reload").click()
        expect(page.locator("details.ch-delivery")).to_have_count(1)
        page.get_by_role("link", name="Delete").click()
        page.get_by_role("button", name="Delete webhook").click()
        page.get_by_role("heading", name="No webhooks yet").wait_for()
    finally:
        context.close()


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[60])
def test_the_log_shows_deliveries_and_retries_as_they_happen_without_a_reload(
        dashboard, page, receiver):
    host = dashboard.host
    webhook = host.add_webhook(receiver.url)
    page.goto(f"/login?as=acme&next={PREFIX}/{webhook.id}")
    expect(page.get_by_text("No deliveries yet")).to_be_visible()
    expect(page.get_by_text("Updating live")).to_be_visible()
    expect(page.get_by_role("link", name="Reload")).to_be_hidden()
    page.evaluate("window.__sameDocument = true")

    receiver.default = Reply(500, b"upstream exploded")
    emitted = time.monotonic()
    host.emit("message.received", {"message_id": "msg_1"})
    host.work()
    summary = delivery_row(page).locator("summary")
    expect(summary).to_contain_text("pending · attempt 1 failed (HTTP 500), retry 1 of 1 in",
                                    timeout=10_000)
    countdown = summary.locator("time[data-relative=countdown]")
    first = countdown.inner_text()
    # 60 s after the attempt, less what passed since (at most what passed here: a busy
    # machine takes seconds to send, record and show it).
    waited = time.monotonic() - emitted
    shown = re.fullmatch(r"in (\d+) s|in 1 min", first)
    assert shown, first
    seconds = int(shown[1]) if shown[1] else 60
    assert 60 - waited - 1 <= seconds <= 60, (first, waited)
    expect(countdown).not_to_have_text(first, timeout=5_000)  # it counts down
    assert countdown.get_attribute("title").endswith(" UTC")
    expect(page.locator("#webhook-status")).to_have_text("active")

    [delivery] = host.deliveries()
    with host.app.app_context():
        host.clawhooks.retry(delivery.id)  # the retry fails too: no retries left
    host.work()
    expect(summary).to_contain_text("failed · gave up after 2 attempts", timeout=10_000)
    expect(page.locator("#webhook-status")).to_have_text("failed", timeout=10_000)

    receiver.default = Reply(200, b"thanks")
    with host.app.app_context():
        host.clawhooks.retry(delivery.id)
    host.work()
    expect(summary).to_contain_text("success · after 3 attempts", timeout=10_000)
    expect(page.locator("#webhook-status")).to_have_text("active", timeout=10_000)
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    assert len(receiver.requests) == 3
