"""The health card of a webhook's page: figures and the SVG chart of the last 24 hours,
drawn on the server, seen in Chromium (also with JavaScript off) and through the test
client."""

from __future__ import annotations

import pytest

from ..fixtures import Reply
from .conftest import PREFIX

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed: pip install playwright"
).expect

pytestmark = pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[])  # fail at once


def deliver(host, receiver, *statuses: int) -> None:
    """One delivery per status, each sent before the next, so that they keep this order."""
    for n, status in enumerate(statuses):
        receiver.replies = [Reply(status)]
        host.emit("message.received", {"n": n})
        host.work_until_settled()


def test_the_chart_shows_the_last_hour_of_attempts_in_a_browser(
        dashboard, browser, live_server, receiver, screenshot, page):
    host = dashboard.host
    webhook = host.add_webhook(receiver.url)
    deliver(host, receiver, 200, 200, 200, 404)

    page.goto(f"/login?as=acme&next={PREFIX}/{webhook.id}")
    chart = page.locator("svg.ch-health-chart")
    expect(chart).to_be_visible()
    assert chart.bounding_box()["height"] > 40
    # the newest hour holds all four: three green on top of one red, each a real shape
    expect(chart.locator("g.ch-health-hour")).to_have_count(24)
    last = chart.locator("g.ch-health-hour").last
    assert last.locator("title").text_content().endswith("UTC: 3 succeeded, 1 failed")
    success, failure = last.locator("rect.ch-bar-success"), last.locator("rect.ch-bar-failure")
    assert success.bounding_box()["height"] == pytest.approx(
        3 * failure.bounding_box()["height"], rel=0.05)
    assert success.evaluate("r => getComputedStyle(r).fill") == "rgb(46, 125, 50)"
    expect(chart.locator("rect.ch-bar-success")).to_have_count(1)
    expect(page.locator("#health-rate-24h")).to_have_text("75.0 % in 24 h (3 of 4)")
    expect(page.locator("#health-rate-7d")).to_contain_text("75.0 %")
    expect(page.locator("#health-consecutive")).to_have_text("1")
    expect(page.locator("#health-failing")).to_contain_text("1 failed attempt in a row")
    expect(page.locator("#health-times-24h")).to_contain_text("p50 ")
    screenshot("11-webhook-health")


def test_the_chart_needs_no_javascript(browser, live_server, dashboard, receiver):
    host = dashboard.host
    webhook = host.add_webhook(receiver.url)
    deliver(host, receiver, 200)
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"/login?as=acme&next={PREFIX}/{webhook.id}")
        expect(page.locator("svg.ch-health-chart rect.ch-bar-success")).to_have_count(1)
        expect(page.locator("#health-rate-24h")).to_contain_text("100.0 %")
    finally:
        context.close()


def test_a_webhook_without_attempts_has_an_empty_chart(dashboard):
    webhook = dashboard.host.add_webhook("https://your-server.com/webhook")
    html = dashboard.client().get(dashboard.url(f"/{webhook.id}")).get_data(as_text=True)
    assert '<svg class="ch-health-chart"' in html
    assert html.count('class="ch-health-hour"') == 24
    assert "ch-bar-success" not in html and "ch-bar-failure" not in html
    assert "no attempts in 24 h" in html and "no answers in 7 days" in html
    assert "<script" not in html.split('id="health"')[1].split("</section>")[0]


def test_a_webhook_disabled_by_the_health_check_says_why(dashboard):
    host = dashboard.host
    webhook = host.add_webhook("https://your-server.com/webhook", enabled=False,
                               disabled_reason="3 deliveries in a row failed")
    html = dashboard.client().get(dashboard.url(f"/{webhook.id}")).get_data(as_text=True)
    assert "Disabled automatically: 3 deliveries in a row failed." in html
