"""One word for a delivery's state in every view, in a real browser: the log's badge and
filter, the search, the API and the CLI agree; a search result opens the delivery's own
page; the health card follows the live log."""

from __future__ import annotations

import pytest

from flask_clawhooks.apikeys import create_key
from flask_clawhooks.dashboard.forms import PAGE_SIZE

from ..fixtures import Reply
from .conftest import PREFIX

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed: pip install playwright"
).expect

pytestmark = pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[600])


def _one_delivery_per_state(host, receiver) -> tuple[str, dict[str, str]]:
    """A webhook with a delivered, a refused (404, not retried) and a retrying (500)
    delivery; returns its id and ``{status word: delivery id}``."""
    webhook = host.add_webhook(receiver.url)
    for reply in (Reply(200, b"ok"), Reply(404, b"gone"), Reply(500, b"upstream exploded")):
        receiver.default = reply
        host.emit("message.received", {"message_id": f"msg_{reply.status}"})
        host.work()
    by_status = {d.status: d.id for d in host.deliveries()}
    assert set(by_status) == {"success", "failed", "pending"}, by_status
    return webhook.id, by_status


def test_badge_filter_search_api_and_cli_say_the_same_word_for_each_state(
        dashboard, page, receiver):
    host = dashboard.host
    webhook_id, by_status = _one_delivery_per_state(host, receiver)
    with host.app.app_context():
        _, token = create_key(host.db.session, "acme")
        host.db.session.commit()
    api = host.app.test_client()
    cli = host.app.test_cli_runner()
    page.goto(f"/login?as=acme&next={PREFIX}/{webhook_id}")

    for word, delivery_id in by_status.items():
        # the log's badge, in the page as first shown
        page.goto(f"{PREFIX}/{webhook_id}")
        badge = page.locator(f"details#{delivery_id} summary .ch-badge")
        expect(badge).to_have_text(word)
        # the log's filter shows exactly the rows whose badge says the word
        page.goto(f"{PREFIX}/{webhook_id}?status={word}")
        rows = page.locator("details.ch-delivery")
        expect(rows).to_have_count(1)
        assert rows.first.get_attribute("id") == delivery_id
        expect(rows.first.locator("summary .ch-badge")).to_have_text(word)
        # the search
        page.goto(f"{PREFIX}/search?status={word}")
        results = page.locator("#search-results tbody tr")
        expect(results).to_have_count(1)
        assert results.first.get_attribute("data-delivery") == delivery_id
        expect(results.first.locator(".ch-badge")).to_have_text(word)
        # the API
        answer = api.get(f"/api/v1/webhooks/{webhook_id}/deliveries?status={word}",
                         headers={"Authorization": f"Bearer {token}"})
        assert [d["id"] for d in answer.json["data"]] == [delivery_id], answer.json
        assert answer.json["data"][0]["status"] == word
        # the CLI
        said = cli.invoke(args=["clawhooks", "deliveries", webhook_id, "--status", word])
        assert said.exit_code == 0, said.output
        [line] = [line for line in said.output.splitlines() if delivery_id in line]
        assert line.split("  ")[-1].split(" · ")[0] == word, line

    # the retrying delivery's detail is beside the word, not instead of it
    page.goto(f"{PREFIX}/{webhook_id}")
    pending = page.locator(f"details#{by_status['pending']} summary")
    expect(pending).to_contain_text("pending · attempt 1 failed (HTTP 500), retry 1 of 1 in")

    # -- a search result opens its delivery's own page -----------------------------------
    page.goto(f"{PREFIX}/search?status=pending")
    page.locator("#search-results tbody tr").first.locator("a[data-delivery-link]").click()
    expect(page).to_have_url(f"{page.url.split('/settings')[0]}{PREFIX}/{webhook_id}"
                             f"/deliveries/{by_status['pending']}")
    expect(page.locator("#delivery-state .ch-badge")).to_have_text("pending")
    expect(page.locator("article.ch-attempt")).to_have_count(1)
    expect(page.locator("article.ch-attempt")).to_contain_text("upstream exploded")


def test_the_health_card_follows_a_test_send_and_an_opened_delivery_stays_put(
        dashboard, page, receiver):
    host = dashboard.host
    webhook = host.add_webhook(receiver.url)
    receiver.default = Reply(500, b"upstream exploded")
    host.emit("message.received", {"message_id": "msg_1"})
    host.work()
    page.goto(f"/login?as=acme&next={PREFIX}/{webhook.id}")
    expect(page.locator("#health-rate-24h")).to_contain_text("(0 of 1)")
    expect(page.locator("#health-consecutive")).to_have_text("1")
    page.evaluate("window.__sameDocument = true")

    receiver.default = Reply(200, b"ok")
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_text("Test event delivered: HTTP 200")).to_be_visible()
    expect(page.locator("#health-rate-24h")).to_contain_text("(1 of 2)", timeout=15_000)
    expect(page.locator("#health-consecutive")).to_have_text("0")
    expect(page.locator("#health-last-success")).not_to_contain_text("—")

    # -- the live log brings a page of newer deliveries: the opened one stays put ------
    opened = page.locator("details.ch-delivery[open]")
    expect(opened).to_have_count(1)  # the test delivery, opened on its outcome
    opened_id = opened.get_attribute("id")
    top = opened.bounding_box()["y"]
    for n in range(PAGE_SIZE):
        host.emit("message.received", {"message_id": f"msg_{n + 2}"})
    host.work()
    rows = page.locator("details.ch-delivery")
    expect(rows).to_have_count(PAGE_SIZE + 1, timeout=15_000)  # the newest page, and it
    kept = page.locator(f"details#{opened_id}")
    assert kept.get_attribute("open") is not None
    assert abs(kept.bounding_box()["y"] - top) <= 2, (top, kept.bounding_box())
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
