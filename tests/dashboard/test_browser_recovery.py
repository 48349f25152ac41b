"""Recover (with its confirmation), custom headers (masked secret) and search, in a real
browser (headless Chromium) against a live server, real receivers and real workers."""

from __future__ import annotations

import json

import pytest

from flask_clawhooks.custom_headers import MASK

from ..fixtures import Reply
from .conftest import PREFIX

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed: pip install playwright"
).expect

pytestmark = pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[])  # fail at once

SECRET = "Bearer browser-secret-7f3a"


def test_recover_failed_deliveries_after_an_outage_with_a_confirmation(
        dashboard, page, screenshot, receiver):
    host = dashboard.host
    hook = host.add_webhook(receiver.url)
    receiver.default = Reply(503, b"maintenance")
    for n in range(3):
        host.emit("message.received", {"n": n})
    host.work_until_settled()
    receiver.default = Reply(200)
    receiver.requests.clear()

    page.goto(f"/login?as=acme&next={PREFIX}/{hook.id}")
    form = page.locator("#recover")
    expect(form.get_by_text("Recover failed deliveries since")).to_be_visible()
    screenshot("recover-1-form")

    # Cancel on the confirmation sends nothing
    form.get_by_role("button", name="Recover…").click()
    expect(page.locator(".ch-recover-count")).to_contain_text(
        "3 failed deliveries will be sent again")
    page.get_by_role("link", name="Cancel").click()
    host.work()
    assert receiver.requests == []

    form.get_by_role("button", name="Recover…").click()
    screenshot("recover-2-confirm")
    page.get_by_role("button", name="Recover 3 failed deliveries").click()
    expect(page.get_by_text("Re-queued 3 failed deliveries")).to_be_visible()
    screenshot("recover-3-requeued")
    host.work_until_settled()
    assert sorted(json.loads(r.body)["data"]["n"] for r in receiver.requests) == [0, 1, 2]
    page.reload()
    rows = page.locator("details.ch-delivery")
    expect(rows).to_have_count(3)
    for index in range(3):
        summary = rows.nth(index).locator("summary")
        assert "success" in summary.inner_text()
        # the cell reads "Attempts 2": its label is for narrow screens and screen readers
        assert summary.locator(".ch-attempt-count").inner_text().split()[-1] == "2"


def test_custom_headers_reach_the_receiver_and_the_secret_stays_masked(
        dashboard, page, screenshot, receiver):
    hook = dashboard.host.add_webhook(receiver.url)
    page.goto(f"/login?as=acme&next={PREFIX}/{hook.id}")
    page.get_by_role("link", name="Edit headers").click()
    page.get_by_label("Header 1 name").fill("Authorization")
    page.get_by_label("Header 1 value").fill(SECRET)
    page.get_by_label("Header 1 is secret").check()
    page.get_by_label("Header 2 name").fill("X-Route")
    page.get_by_label("Header 2 value").fill("eu-west")
    screenshot("headers-1-form")
    page.get_by_role("button", name="Save headers").click()

    expect(page.get_by_text("Custom headers saved (2).")).to_be_visible()
    listed = page.locator("#custom-headers-list")
    expect(listed).to_contain_text(f"Authorization{MASK} (secret)")
    expect(listed).to_contain_text("X-Routeeu-west")
    assert "browser-secret" not in page.content()

    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_text("Test event delivered: HTTP 200")).to_be_visible()
    [request] = receiver.requests
    assert request.headers["Authorization"] == SECRET
    assert request.headers["X-Route"] == "eu-west"
    attempt = page.locator("details.ch-delivery").first.locator("article.ch-attempt")
    assert f"Authorization{MASK}" in attempt.inner_text().replace("\t", "").replace("\n", "")
    assert "browser-secret" not in page.content()
    screenshot("headers-2-masked-in-log")

    page.get_by_role("link", name="Edit headers").click()
    assert page.get_by_label("Header 1 value").input_value() == ""
    assert MASK in page.get_by_label("Header 1 value").get_attribute("placeholder")
    assert "browser-secret" not in page.content()


def test_the_search_box_finds_an_events_deliveries(dashboard, page, screenshot,
                                                   receiver_factory):
    host = dashboard.host
    first, second = receiver_factory(), receiver_factory()
    second.default = Reply(500)
    one = host.add_webhook(first.url)
    two = host.add_webhook(second.url)
    host.emit("message.received", {"n": 0})
    event = host.emit("message.received", {"n": 1})
    host.work_until_settled()

    page.goto(f"/login?as=acme&next={PREFIX}/")
    page.get_by_role("searchbox").fill(event)
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#search-results tbody tr")
    expect(rows).to_have_count(2)
    text = page.locator("#search-results").inner_text()
    assert first.url in text and second.url in text and event in text
    screenshot("search-1-results")

    failed = page.locator("#search-results tbody tr", has_text="failed")
    # the result opens its delivery's own page, however old the delivery is
    failed.locator("a[data-delivery-link]").click()
    expect(page.locator("h1")).to_contain_text(second.url)
    expect(page.locator("#delivery-state .ch-badge")).to_have_text("failed")
    assert event in page.locator("#delivery").inner_text() or event in page.content()
    assert f"/{two.id}/deliveries/del_" in page.url and one.id not in page.url
    # and its webhook link the webhook's page
    page.go_back()
    failed.get_by_role("link", name=second.url).click()
    expect(page.locator("h1")).to_have_text(second.url)
