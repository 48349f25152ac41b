"""The dashboard pages through Flask's test client: access, CSRF, validation, paging."""

from __future__ import annotations

import json
import re
from html import unescape as html_unescape
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

import flask_clawhooks as clawhooks_package
from flask_clawhooks import ClawHooks, ConfigurationError
from flask_clawhooks.dashboard.forms import PAGE_SIZE
from flask_clawhooks.ids import new_id
from flask_clawhooks.models import Delivery, Event, Webhook
from flask_clawhooks.samples import SAMPLES
from flask_clawhooks.schemas import DATA_SCHEMAS
from flask_clawhooks.timeutil import utcnow

from ..fixtures import Reply
from .conftest import csrf_token_of


def delivery_ids(html: str) -> list[str]:
    return re.findall(r'<details class="ch-delivery" id="(del_[0-9a-z]+)"', html)


def add_deliveries(host, webhook_id: str, count: int, event_type: str = "message.received",
                   status: str = "success") -> list[str]:
    """Insert ``count`` deliveries (and their events) in bulk; return their ids, oldest first."""
    now = utcnow()
    events = [new_id("evt") for _ in range(count)]
    ids = [new_id("del") for _ in range(count)]
    with host.app.app_context():
        session = host.db.session
        session.execute(sa.insert(Event.__table__), [
            {"id": e, "owner": "acme", "type": event_type, "created_at": now,
             "body": b'{"id":"%s","type":"%s","created_at":"","data":{}}'
             % (e.encode(), event_type.encode())}
            for e in events
        ])
        session.execute(sa.insert(Delivery.__table__), [
            {"id": d, "event_id": e, "webhook_id": webhook_id, "event_type": event_type,
             "status": status, "attempt_count": 1, "response_code": 200,
             "response_time_ms": 12, "created_at": now, "updated_at": now}
            for d, e in zip(ids, events, strict=True)
        ])
        session.commit()
    return sorted(ids)


# -- who may look ---------------------------------------------------------------------


def test_signed_out_visitors_get_a_401_page(dashboard):
    response = dashboard.client(owner=None).get(dashboard.url("/"))
    assert response.status_code == 401
    assert "Sign in" in response.get_data(as_text=True)


@pytest.mark.clawhooks_config(CLAWHOOKS_DASHBOARD_LOGIN_ENDPOINT="login")
def test_signed_out_visitors_are_sent_to_the_hosts_login_page_and_back(dashboard):
    client = dashboard.client(owner=None)
    response = client.get(dashboard.url("/new"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/settings/api/webhooks/new"
    signed_in = client.get("/login?as=acme&next=" + dashboard.url("/new"),
                           follow_redirects=True)
    assert signed_in.status_code == 200
    assert "Add Webhook" in signed_in.get_data(as_text=True)


def test_a_login_endpoint_that_is_a_url_is_refused_at_start_up(tmp_path):
    app = Flask("bad", instance_path=str(tmp_path))
    app.config.update(SQLALCHEMY_DATABASE_URI="sqlite://",
                      CLAWHOOKS_DASHBOARD_LOGIN_ENDPOINT="/login")
    SQLAlchemy(app)
    with pytest.raises(ConfigurationError, match="CLAWHOOKS_DASHBOARD_LOGIN_ENDPOINT"):
        ClawHooks(app)


def test_another_owners_webhook_is_a_404_and_cannot_be_changed(dashboard, receiver):
    theirs = dashboard.host.add_webhook(receiver.url, owner="globex")
    mine = dashboard.host.add_webhook(receiver.url, owner="acme")
    [their_delivery] = add_deliveries(dashboard.host, theirs.id, 1)
    client = dashboard.client("acme")

    assert client.get(dashboard.url(f"/{theirs.id}")).status_code == 404
    assert client.get(dashboard.url(f"/{theirs.id}/edit")).status_code == 404
    token = csrf_token_of(client.get(dashboard.url(f"/{mine.id}")).get_data(as_text=True))
    for action in ("disable", "delete", "rotate-secret", "test"):
        response = client.post(dashboard.url(f"/{theirs.id}/{action}"),
                               data={"csrf_token": token})
        assert response.status_code == 404, action
    # a delivery of their webhook, reached through my webhook's URL
    response = client.post(dashboard.url(f"/{mine.id}/deliveries/{their_delivery}/retry"),
                           data={"csrf_token": token})
    assert response.status_code == 404
    assert "globex" not in client.get(dashboard.url("/")).get_data(as_text=True)

    after = dashboard.host.webhook(theirs.id)
    assert (after.enabled, after.secret) == (True, theirs.secret)
    assert receiver.requests == []


# -- CSRF -----------------------------------------------------------------------------


def test_a_forged_post_without_a_valid_csrf_token_changes_nothing(dashboard, receiver):
    webhook = dashboard.host.add_webhook(receiver.url)
    client = dashboard.client("acme")
    other_browser = dashboard.client("acme")
    foreign_token = csrf_token_of(
        other_browser.get(dashboard.url(f"/{webhook.id}")).get_data(as_text=True)
    )
    form = {"url": "https://evil.example/hook", "events": "message.sent"}

    for token in (None, "", "forged", foreign_token):
        data = dict(form, csrf_token=token) if token is not None else form
        for path in ("/new", f"/{webhook.id}/edit", f"/{webhook.id}/disable",
                     f"/{webhook.id}/rotate-secret", f"/{webhook.id}/delete"):
            response = client.post(dashboard.url(path), data=data)
            assert response.status_code == 400, (path, token)

    with dashboard.host.app.app_context():
        [only] = dashboard.host.db.session.scalars(sa.select(Webhook)).all()
    assert (only.id, only.url, only.events) == (webhook.id, receiver.url, ["message.received"])
    assert (only.enabled, only.secret) == (True, webhook.secret)

    # the same form with this session's own token goes through
    token = csrf_token_of(client.get(dashboard.url(f"/{webhook.id}")).get_data(as_text=True))
    response = client.post(dashboard.url(f"/{webhook.id}/disable"), data={"csrf_token": token})
    assert response.status_code == 302
    assert dashboard.host.webhook(webhook.id).enabled is False


def test_a_token_made_for_one_owner_is_refused_for_another_in_the_same_session(dashboard,
                                                                                receiver):
    client = dashboard.client("acme")
    token = csrf_token_of(client.get(dashboard.url("/new")).get_data(as_text=True))
    with client.session_transaction() as sess:
        sess["user"] = "globex"
    response = client.post(dashboard.url("/new"), data={
        "csrf_token": token, "url": receiver.url, "events": "message.sent"})
    assert response.status_code == 400


# -- forms ----------------------------------------------------------------------------


def test_invalid_input_is_shown_next_to_its_field_and_kept(dashboard):
    client = dashboard.client()
    token = csrf_token_of(client.get(dashboard.url("/new")).get_data(as_text=True))
    response = client.post(dashboard.url("/new"), data={
        "csrf_token": token, "url": "ftp://files.example/hook", "secret": "short",
        "description": "My <b>server</b>",
    })
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'id="url-error">URL must be an absolute URL starting with http', html)
    assert 'id="events-error">Select at least one event.' in html
    assert 'id="secret-error">Secret must be at least 16 characters' in html
    assert 'value="ftp://files.example/hook"' in html
    assert 'value="My &lt;b&gt;server&lt;/b&gt;"' in html

    response = client.post(dashboard.url("/new"), data={
        "csrf_token": token, "url": "https://ok.example/hook",
        "events": ["message.sent", "no.such"],
    })
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "unknown event type &#39;no.such&#39;" in html
    assert re.search(r'value="message.sent"\s+checked', html)
    with dashboard.host.app.app_context():
        assert dashboard.host.db.session.scalars(sa.select(Webhook)).all() == []


def test_the_secret_is_shown_once_after_create_and_never_again(dashboard, receiver):
    client = dashboard.client()
    token = csrf_token_of(client.get(dashboard.url("/new")).get_data(as_text=True))
    response = client.post(dashboard.url("/new"), data={
        "csrf_token": token, "url": receiver.url,
        "events": ["message.received", "ai.error"], "description": "CRM sync",
    }, follow_redirects=True)
    html = response.get_data(as_text=True)
    with dashboard.host.app.app_context():
        [webhook] = dashboard.host.db.session.scalars(sa.select(Webhook)).all()
    assert webhook.secret.startswith("whsec_") and len(webhook.secret) > 30
    assert (webhook.owner, webhook.events, webhook.description) == (
        "acme", ["message.received", "ai.error"], "CRM sync")
    assert html.count(webhook.secret) == 1
    assert "will not be shown again" in html
    assert response.headers["Cache-Control"] == "no-store"

    for path in ("/", f"/{webhook.id}", f"/{webhook.id}/edit"):
        assert webhook.secret not in client.get(dashboard.url(path)).get_data(as_text=True)

    token = csrf_token_of(client.get(dashboard.url(f"/{webhook.id}")).get_data(as_text=True))
    rotated = client.post(dashboard.url(f"/{webhook.id}/rotate-secret"),
                          data={"csrf_token": token}, follow_redirects=True)
    new_secret = dashboard.host.webhook(webhook.id).secret
    assert new_secret != webhook.secret
    assert rotated.get_data(as_text=True).count(new_secret) == 1
    assert new_secret not in client.get(dashboard.url(f"/{webhook.id}")).get_data(as_text=True)


def test_a_secret_of_ones_own_is_kept(dashboard, receiver):
    client = dashboard.client()
    token = csrf_token_of(client.get(dashboard.url("/new")).get_data(as_text=True))
    client.post(dashboard.url("/new"), data={
        "csrf_token": token, "url": receiver.url, "events": "message.received",
        "secret": "your-webhook-secret",
    })
    with dashboard.host.app.app_context():
        [webhook] = dashboard.host.db.session.scalars(sa.select(Webhook)).all()
    assert webhook.secret == "your-webhook-secret"


def test_event_checkboxes_are_grouped_with_the_hosts_own_groups(dashboard):
    dashboard.host.clawhooks.register_event_type("invoice.paid", "Invoice paid", "Billing")
    html = dashboard.client().get(dashboard.url("/new")).get_data(as_text=True)
    legends = re.findall(r'<fieldset class="ch-group" data-group>\s*<legend>([^<]+)</legend>',
                         html)
    assert legends == ["Message", "Integration", "AI", "System", "Billing"]
    assert 'value="invoice.paid"' in html
    assert 'value="webhook.test"' not in html
    assert html.count("data-select-all") == 5


def test_the_event_picker_shows_each_types_example_and_schema(dashboard):
    dashboard.host.clawhooks.register_event_type("invoice.paid", "Invoice paid", "Billing")
    html = dashboard.client().get(dashboard.url("/new")).get_data(as_text=True)
    shown = re.findall(r'<details class="ch-payload">\s*<summary><code>([^<]+)</code>', html)
    assert shown[:14] == [t.name for t in clawhooks_package.CATALOG]
    assert shown[14:] == ["invoice.paid"]
    example = re.search(r'aria-label="Example of message.received">([^<]+)</pre>', html)
    assert example is not None
    assert json.loads(html_unescape(example[1])) == SAMPLES["message.received"]
    schema = re.search(r'aria-label="Schema of message.received data">([^<]+)</pre>', html)
    assert schema is not None
    assert json.loads(html_unescape(schema[1])) == DATA_SCHEMAS["message.received"]
    invoice = html.split("<code>invoice.paid</code>")[-1]
    assert "This event type has no schema." in invoice.split("</details>")[0]


def test_edit_changes_url_events_and_description(dashboard, receiver):
    webhook = dashboard.host.add_webhook("https://old.example/hook")
    client = dashboard.client()
    page = client.get(dashboard.url(f"/{webhook.id}/edit")).get_data(as_text=True)
    assert 'value="https://old.example/hook"' in page
    response = client.post(dashboard.url(f"/{webhook.id}/edit"), data={
        "csrf_token": csrf_token_of(page), "url": receiver.url,
        "events": ["backup.failed", "system.health"], "description": "ops",
    })
    assert response.status_code == 302
    after = dashboard.host.webhook(webhook.id)
    assert (after.url, after.events, after.description, after.secret) == (
        receiver.url, ["backup.failed", "system.health"], "ops", webhook.secret)


def test_the_form_sets_delivery_control_and_refuses_bad_limits_by_field(dashboard):
    webhook = dashboard.host.add_webhook("https://x.example/hook")
    client = dashboard.client()
    page = client.get(dashboard.url(f"/{webhook.id}/edit")).get_data(as_text=True)
    form = {"csrf_token": csrf_token_of(page), "url": "https://x.example/hook",
            "events": ["message.received"], "ordering": "fifo"}

    refused = client.post(dashboard.url(f"/{webhook.id}/edit"), data={
        **form, "max_per_second": "fast", "max_in_flight": "0"})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "Requests a second must be a number, or empty for no limit." in html
    assert "Requests at once must be from 1 to 1000 requests, or null for no limit" in html

    saved = client.post(dashboard.url(f"/{webhook.id}/edit"), data={
        **form, "max_per_second": "2.5", "max_in_flight": ""})
    assert saved.status_code == 302
    after = dashboard.host.webhook(webhook.id)
    assert (after.ordering, after.max_per_second, after.max_in_flight) == ("fifo", 2.5, None)
    shown = client.get(dashboard.url(f"/{webhook.id}/edit")).get_data(as_text=True)
    assert 'value="fifo" checked' in shown and 'value="2.5"' in shown


def test_a_fifo_webhook_page_shows_what_waits_behind_its_head(dashboard, receiver):
    receiver.default = Reply(503)
    webhook = dashboard.host.add_webhook(receiver.url, ordering="fifo")
    for n in range(3):
        dashboard.host.emit("message.received", {"n": n})
    dashboard.host.work()
    head = dashboard.host.deliveries()[0].id

    html = dashboard.client().get(dashboard.url(f"/{webhook.id}")).get_data(as_text=True)
    assert f"<code>{head}</code></a> is being sent; 2 queued behind it." in html
    # Each waiting row links the head's own page (it may be on another page of the log).
    assert html.count(f'/deliveries/{head}"><code>{head}</code></a> <span class="ch-muted">'
                      "(FIFO: sent once it succeeds or fails for good)") == 2


# -- the delivery log -------------------------------------------------------------------


def test_the_delivery_log_is_paged_newest_first(dashboard, receiver):
    webhook = dashboard.host.add_webhook(receiver.url)
    other = dashboard.host.add_webhook(receiver.url)
    ids = add_deliveries(dashboard.host, webhook.id, 2 * PAGE_SIZE + 3)
    add_deliveries(dashboard.host, other.id, 5)
    newest_first = ids[::-1]
    client = dashboard.client()

    first = client.get(dashboard.url(f"/{webhook.id}")).get_data(as_text=True)
    assert delivery_ids(first) == newest_first[:PAGE_SIZE]
    next_link = re.search(r'<a href="([^"]+)#deliveries" rel="next">', first)
    assert next_link and 'rel="prev"' not in first

    second = client.get(next_link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert delivery_ids(second) == newest_first[PAGE_SIZE:2 * PAGE_SIZE]
    third_link = re.search(r'<a href="([^"]+)#deliveries" rel="next">', second)
    assert third_link
    third = client.get(third_link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert delivery_ids(third) == newest_first[2 * PAGE_SIZE:]
    assert 'rel="next"' not in third

    back = re.search(r'<a href="([^"]+)#deliveries" rel="prev">', third)
    assert back
    again = client.get(back.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert delivery_ids(again) == newest_first[PAGE_SIZE:2 * PAGE_SIZE]


def test_the_delivery_log_filters_by_status_and_event_type(dashboard, receiver):
    webhook = dashboard.host.add_webhook(receiver.url)
    sent = add_deliveries(dashboard.host, webhook.id, 3, "message.sent")
    failed = add_deliveries(dashboard.host, webhook.id, 2, "message.sent", status="failed")
    add_deliveries(dashboard.host, webhook.id, 4, "ai.error")
    client = dashboard.client()

    def shown(**args):
        html = client.get(dashboard.url(f"/{webhook.id}"), query_string=args)
        return sorted(delivery_ids(html.get_data(as_text=True)))

    assert shown(status="failed") == failed
    assert shown(event="message.sent") == sorted(sent + failed)
    assert shown(event="message.sent", status="success") == sent
    assert len(shown(status="bogus")) == 9  # an unknown status is no filter
    assert shown(event="backup.failed") == []


# -- security headers -----------------------------------------------------------------


def assert_security_headers(response, what: str) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives.get("script-src") == ["'self'"], (what, csp)
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, (what, csp)
    assert directives.get("default-src") == ["'none'"], (what, csp)
    assert directives.get("frame-ancestors") == ["'none'"], (what, csp)
    assert response.headers.get("X-Content-Type-Options") == "nosniff", what
    assert response.headers.get("X-Frame-Options") == "DENY", what
    assert response.headers.get("Referrer-Policy") == "same-origin", what


def test_every_dashboard_answer_carries_the_security_headers(dashboard, receiver):
    webhook = dashboard.host.add_webhook(receiver.url)
    [delivery] = add_deliveries(dashboard.host, webhook.id, 1)
    client = dashboard.client("acme")
    pages = ["/", "/new", f"/{webhook.id}", f"/{webhook.id}?status=failed",
             f"/{webhook.id}/edit", f"/{webhook.id}/delete", f"/{webhook.id}/log",
             "/static/dashboard.css", "/static/dashboard.js", "/wh_nosuchwebhook"]
    seen = set()
    for path in pages:
        with client.get(dashboard.url(path)) as response:  # static files are streamed
            seen.add(response.status_code)
            assert_security_headers(response, path)
    assert seen == {200, 404}
    token = csrf_token_of(client.get(dashboard.url(f"/{webhook.id}")).get_data(as_text=True))
    for path, data in [(f"/{webhook.id}/disable", {"csrf_token": token}),       # 302
                       (f"/{webhook.id}/enable", {"csrf_token": "forged"}),     # 400
                       ("/new", {"csrf_token": token, "url": "nope"}),         # 422
                       (f"/{webhook.id}/deliveries/{delivery}/retry", {"csrf_token": token})]:
        response = client.post(dashboard.url(path), data=data)
        assert response.status_code in (302, 400, 422), path
        assert_security_headers(response, f"POST {path}")
    signed_out = dashboard.client(owner=None).get(dashboard.url("/"))
    assert signed_out.status_code == 401
    assert_security_headers(signed_out, "401 page")


def test_a_hosts_own_security_headers_are_kept(dashboard):
    app = dashboard.host.app

    @app.after_request
    def host_policy(response):
        response.headers["Content-Security-Policy"] = "default-src 'self' cdn.example"
        return response

    response = dashboard.client("acme").get(dashboard.url("/"))
    assert response.headers["Content-Security-Policy"] == "default-src 'self' cdn.example"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_pages_load_no_inline_script_or_style(dashboard, receiver):
    webhook = dashboard.host.add_webhook(receiver.url)
    add_deliveries(dashboard.host, webhook.id, 2)
    client = dashboard.client("acme")
    pages = ("/", "/new", f"/{webhook.id}", f"/{webhook.id}/edit", f"/{webhook.id}/delete",
             f"/{webhook.id}/headers", f"/{webhook.id}/recover?since=2000-01-01T00:00:00",
             "/search", "/search?since=2000-01-01T00:00:00")
    for path in pages:
        response = client.get(dashboard.url(path))
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        scripts = re.findall(r"<script\b([^>]*)>", html)
        assert scripts and all("src=" in attrs for attrs in scripts), path
        assert "<style" not in html and " style=" not in html, path
        assert not re.search(r"\son[a-z]+=", html), f"inline event handler on {path}"
    assert 'id="search-results"' in html  # the results table was among the pages checked


def test_no_dashboard_template_holds_an_inline_style_or_script():
    """Also the parts no page above happens to show (a disabled webhook's health, an
    error state): the Content-Security-Policy would refuse them in the browser."""
    templates = Path(clawhooks_package.__file__).parent / "templates" / "clawhooks"
    found = sorted(templates.glob("*.html"))
    assert len(found) >= 15
    for template in found:
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<style\b|\sstyle=", text), template.name
        assert not re.search(r"<script\b(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"\son[a-z]+=", text), template.name


# -- Send test with a sample event ------------------------------------------------------


def test_send_test_sends_the_documented_sample_of_the_chosen_type(dashboard, receiver):
    from flask_clawhooks.samples import SAMPLES

    webhook = dashboard.host.add_webhook(receiver.url, ["message.received"])
    client = dashboard.client("acme")
    page = client.get(dashboard.url(f"/{webhook.id}")).get_data(as_text=True)
    offered = re.findall(r'<option value="([a-z_.]+)"', page.split('id="test-event-type"')[1]
                         .split("</select>")[0])
    assert offered[0] == "webhook.test" and set(offered) == set(SAMPLES)

    response = client.post(dashboard.url(f"/{webhook.id}/test"), data={
        "csrf_token": csrf_token_of(page), "event_type": "integration.disconnected"})
    assert response.status_code == 302
    [sent] = receiver.requests
    body = json.loads(sent.body)
    assert sent.headers["X-ClawBook-Event"] == body["type"] == "integration.disconnected"
    assert body["data"] == SAMPLES["integration.disconnected"]["data"]
    assert body["id"] != SAMPLES["integration.disconnected"]["id"]  # a new event
    after = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Sample integration.disconnected event delivered: HTTP 200" in after


def test_send_test_answers_the_pages_script_with_json(dashboard, receiver):
    webhook = dashboard.host.add_webhook(receiver.url)
    client = dashboard.client("acme")
    token = csrf_token_of(client.get(dashboard.url(f"/{webhook.id}")).get_data(as_text=True))
    response = client.post(dashboard.url(f"/{webhook.id}/test"), data={"csrf_token": token},
                           headers={"Accept": "application/json"})
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["category"] == "success" and answer["status"] == "success"
    assert answer["message"].startswith("Test event delivered: HTTP 200")
    assert json.loads(receiver.requests[0].body)["type"] == "webhook.test"
    assert answer["delivery"] in delivery_ids(
        client.get(dashboard.url(f"/{webhook.id}")).get_data(as_text=True))


def test_send_test_refuses_a_type_without_a_sample(dashboard, receiver):
    dashboard.host.clawhooks.register_event_type("invoice.paid", "Invoice paid", "Billing")
    webhook = dashboard.host.add_webhook(receiver.url)
    client = dashboard.client("acme")
    token = csrf_token_of(client.get(dashboard.url(f"/{webhook.id}")).get_data(as_text=True))
    for event_type in ("invoice.paid", "no.such", "x" * 300):
        response = client.post(dashboard.url(f"/{webhook.id}/test"),
                               data={"csrf_token": token, "event_type": event_type})
        assert response.status_code == 400, event_type
    assert receiver.requests == []


# -- the live log endpoint ----------------------------------------------------------------


def test_the_log_endpoint_answers_the_newest_page_and_a_version_that_moves_with_it(
        dashboard, receiver):
    webhook = dashboard.host.add_webhook(receiver.url, ["message.received", "ai.error"])
    client = dashboard.client("acme")
    first = client.get(dashboard.url(f"/{webhook.id}/log"))
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    empty = first.get_json()
    assert empty["latest"] is None and "No deliveries yet" in empty["html"]
    assert empty["status"] == "active" and ">active<" in empty["status_html"]

    ids = add_deliveries(dashboard.host, webhook.id, 2)
    add_deliveries(dashboard.host, webhook.id, 1, "ai.error")
    again = client.get(dashboard.url(f"/{webhook.id}/log")).get_json()
    assert again["version"] != empty["version"]
    assert delivery_ids(again["html"])[1:] == ids[::-1]
    assert client.get(dashboard.url(f"/{webhook.id}/log")).get_json()["version"] == (
        again["version"])  # nothing changed, so the page leaves the log alone
    filtered = client.get(dashboard.url(f"/{webhook.id}/log?event=ai.error")).get_json()
    assert len(delivery_ids(filtered["html"])) == 1

    page = client.get(dashboard.url(f"/{webhook.id}")).get_data(as_text=True)
    assert f'data-version="{again["version"]}"' in page
    assert f'data-live-url="{dashboard.url(f"/{webhook.id}/log")}"' in page
    older = client.get(dashboard.url(f"/{webhook.id}?before={ids[-1]}")).get_data(as_text=True)
    assert "data-live-url" not in older  # an older page of the log stays as it is
    other = dashboard.client("globex").get(dashboard.url(f"/{webhook.id}/log"))
    assert other.status_code == 404


def test_every_time_shown_is_relative_with_the_exact_utc_time_on_hover(dashboard, receiver):
    webhook = dashboard.host.add_webhook(receiver.url)
    add_deliveries(dashboard.host, webhook.id, 3)
    dashboard.host.emit("message.received", {"message_id": "msg_1"})
    dashboard.host.work()
    client = dashboard.client("acme")
    for path in ("/", f"/{webhook.id}"):
        html = client.get(dashboard.url(path)).get_data(as_text=True)
        times = re.findall(r"<time ([^>]*)>([^<]*)</time>", html)
        assert times, path
        for attrs, text in times:
            assert re.search(r'datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"', attrs), attrs
            assert re.search(r'title="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"', attrs), attrs
            assert re.fullmatch(r"just now|\d+ (s|min|h|days?) ago|in \d+ (s|min|h|days?)|"
                                r"due now", text), text
        visible = re.sub(r"<pre.*?</pre>|<table class=\"ch-headers\">.*?</table>|<[^>]+>", "",
                         html, flags=re.DOTALL)
        assert not re.search(r"\d{4}-\d\d-\d\d", visible), "an absolute time outside a title"
