"""The dashboard's recover, custom headers and search pages through Flask's test client,
with real deliveries: counts, CSRF, masking, another owner's things."""

from __future__ import annotations

import re

import pytest

from flask_clawhooks.custom_headers import MASK

from ..fixtures import Reply
from .conftest import csrf_token_of

pytestmark = pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[])  # fail at once


@pytest.fixture
def down(dashboard, receiver):
    """An acme webhook whose receiver failed three events and is back up now."""
    host = dashboard.host
    hook = host.add_webhook(receiver.url)
    receiver.default = Reply(500)
    for n in range(3):
        host.emit("message.received", {"n": n})
    host.work_until_settled()
    receiver.default = Reply(200)
    receiver.requests.clear()
    return hook.id


def test_recover_asks_with_the_count_then_requeues_on_post(dashboard, receiver, down):
    client = dashboard.client()
    page = client.get(dashboard.url(f"/{down}")).get_data(as_text=True)
    assert "Recover failed deliveries since" in page
    confirm = client.get(dashboard.url(f"/{down}/recover?since=2000-01-01T00:00"))
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200
    assert 'data-count="3"' in html and "Recover 3 failed deliveries</button>" in html
    assert receiver.requests == [] and all(
        d.status == "failed" for d in dashboard.host.deliveries())  # asking changes nothing

    form = {"since": re.search(r'name="since" value="([^"]+)"', html).group(1), "until": ""}
    refused = client.post(dashboard.url(f"/{down}/recover"), data=form)
    assert refused.status_code == 400  # no CSRF token
    done = client.post(dashboard.url(f"/{down}/recover"),
                       data={**form, "csrf_token": csrf_token_of(html)}, follow_redirects=True)
    assert "Re-queued 3 failed deliveries made since 2000-01-01 00:00:00 UTC" in done.get_data(
        as_text=True)
    dashboard.host.work_until_settled()
    assert len(receiver.requests) == 3

    nothing = client.get(dashboard.url(f"/{down}/recover?since=2000-01-01T00:00"))
    assert "There is nothing to recover in this range." in nothing.get_data(as_text=True)
    assert 'data-count="3"' in client.get(dashboard.url(
        f"/{down}/recover?since=2000-01-01T00:00&all=1")).get_data(as_text=True)


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[], CLAWHOOKS_RECOVER_LIMIT=2)
def test_recover_over_the_limit_says_so_and_offers_no_button(dashboard, down):
    html = dashboard.client().get(dashboard.url(
        f"/{down}/recover?since=2000-01-01T00:00")).get_data(as_text=True)
    assert "This range holds 3 failed deliveries, more than the 2" in html
    assert "Recover 3" not in html


def test_recover_of_a_bad_time_or_another_owners_webhook(dashboard, down):
    client = dashboard.client()
    bad = client.get(dashboard.url(f"/{down}/recover?since=whenever"), follow_redirects=True)
    assert "Cannot recover: &#39;whenever&#39; is not a time" in bad.get_data(as_text=True)
    assert dashboard.client("globex").get(
        dashboard.url(f"/{down}/recover?since=2000-01-01T00:00")).status_code == 404


@pytest.mark.parametrize("path", [
    "/{down}/recover?since=9999999d",
    "/{down}/recover?since=1d&until=99999999999999999999w",
    "/search?since=9999999d",
    "/search?until=9999999999h",
    "/search?since=0001-01-01T00:00:00%2B01:00",
])
def test_an_age_or_time_out_of_range_is_a_form_error_not_a_500(dashboard, down, path):
    answer = dashboard.client().get(dashboard.url(path.format(down=down)),
                                    follow_redirects=True)
    html = answer.get_data(as_text=True)
    assert answer.status_code in (200, 422), answer.status_code
    assert "too long an age" in html or "out of range" in html


def test_headers_page_saves_masks_and_keeps_a_secret_left_empty(dashboard, receiver, down):
    client = dashboard.client()
    page = client.get(dashboard.url(f"/{down}/headers"))
    html = page.get_data(as_text=True)
    token = csrf_token_of(html)
    saved = client.post(dashboard.url(f"/{down}/headers"), follow_redirects=True, data={
        "csrf_token": token,
        "header-0-name": "Authorization", "header-0-value": "Bearer hunter2-secret",
        "header-0-secret": "1",
        "header-1-name": "X-Route", "header-1-value": "eu",
        "header-2-name": "", "header-2-value": ""})
    html = saved.get_data(as_text=True)
    assert "Custom headers saved (2)." in html and "hunter2" not in html and MASK in html
    edit = client.get(dashboard.url(f"/{down}/headers")).get_data(as_text=True)
    assert "hunter2" not in edit and "Authorization" in edit and "eu" in edit

    kept = client.post(dashboard.url(f"/{down}/headers"), follow_redirects=True, data={
        "csrf_token": token, "header-0-name": "Authorization", "header-0-value": "",
        "header-0-secret": "1", "header-1-name": "", "header-1-value": ""})
    assert "Custom headers saved (1)." in kept.get_data(as_text=True)
    with dashboard.host.app.app_context():
        from flask_clawhooks.models import Webhook

        hook = dashboard.host.db.session.get(Webhook, down)
        assert hook.custom_headers == [{"name": "Authorization",
                                        "value": "Bearer hunter2-secret", "secret": True}]

    wrong = client.post(dashboard.url(f"/{down}/headers"), data={
        "csrf_token": token, "header-0-name": "Content-Type", "header-0-value": "text/plain",
        "header-1-name": "X-Ok", "header-1-value": "a\u00e9", "header-1-secret": "1"})
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 422
    assert "&#39;Content-Type&#39; is reserved" in html
    assert 'value="a\u00e9"' not in html  # a secret typed in is not echoed back


def test_search_box_finds_an_events_deliveries_across_webhooks(dashboard, receiver_factory):
    host = dashboard.host
    first, second = receiver_factory(), receiver_factory()
    one = host.add_webhook(first.url)
    two = host.add_webhook(second.url, events=["message.received", "message.sent"])
    theirs = host.add_webhook(first.url, owner="globex")
    event = host.emit("message.received", {"n": 1})
    host.emit("message.received", {"n": 1}, owner="globex")
    host.work_until_settled()

    client = dashboard.client()
    assert 'name="event_id"' in client.get(dashboard.url("/")).get_data(as_text=True)
    html = client.get(dashboard.url(f"/search?event_id={event}")).get_data(as_text=True)
    rows = re.findall(r'<tr data-delivery="(del_\w+)"', html)
    assert len(rows) == 2 and one.id in html and two.id in html and theirs.id not in html
    assert first.url in html and second.url in html

    assert "No deliveries match." in dashboard.client("globex").get(
        dashboard.url(f"/search?event_id={event}")).get_data(as_text=True)
    bad = client.get(dashboard.url("/search?event_id=nope")).get_data(as_text=True)
    assert "&#39;nope&#39; is not an event id" in bad
    assert "No deliveries match." in client.get(dashboard.url(
        "/search?status=failed")).get_data(as_text=True)
