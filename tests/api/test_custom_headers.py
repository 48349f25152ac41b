"""Custom headers per webhook: they reach a real receiver; a secret value is never shown
again, in the API, the dashboard or the attempt log; bad names and values are 422."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from flask_clawhooks.custom_headers import MASK
from flask_clawhooks.models import Attempt

from ..dashboard.conftest import Dashboard
from ..fixtures import Reply

TOKEN = "Bearer s3cr3t-gateway-token-1234"
ROUTE = "eu-west/crm"


def headers_of(response) -> dict[str, tuple[str, bool]]:
    return {h["name"]: (h["value"], h["secret"]) for h in response.json["headers"]}


def test_custom_headers_arrive_at_a_real_receiver_and_the_secret_never_shows(
        host, acme, receiver):
    receiver.default = Reply(200, f"you sent {TOKEN}".encode(),
                             headers={"X-Echo": f"auth={TOKEN}"})
    answers = []
    created = acme.post("/webhooks", json={
        "url": receiver.url, "events": ["message.received"],
        "headers": [{"name": "Authorization", "value": TOKEN, "secret": True},
                    {"name": "X-Route", "value": ROUTE}]})
    assert created.status_code == 201, created.json
    answers.append(created)
    hook = created.json["id"]
    assert headers_of(created) == {"Authorization": (MASK, True), "X-Route": (ROUTE, False)}

    answers.append(test := acme.post(f"/webhooks/{hook}/test"))
    host.emit("message.received", {"n": 1})
    host.work_until_settled()

    assert len(receiver.requests) == 2
    for request in receiver.requests:  # the real value goes out
        assert request.headers["Authorization"] == TOKEN
        assert request.headers["X-Route"] == ROUTE
        assert request.headers["X-ClawBook-Signature"].startswith("sha256=")
    assert test.json["attempt"]["request_headers"]["Authorization"] == MASK
    assert test.json["attempt"]["request_headers"]["X-Route"] == ROUTE

    answers += [acme.get(f"/webhooks/{hook}"), acme.get("/webhooks"),
                acme.get(f"/webhooks/{hook}/deliveries"), acme.get("/deliveries")]
    for delivery in answers[-2].json["data"]:
        answers.append(acme.get(f"/webhooks/{hook}/deliveries/{delivery['id']}"))
    details = answers[-1].json
    assert details["attempts"][0]["request_headers"]["Authorization"] == MASK
    # the receiver echoed it back: masked in the logged answer too
    assert details["attempts"][0]["response_excerpt"] == f"you sent {MASK}"
    assert details["attempts"][0]["response_headers"]["X-Echo"] == f"auth={MASK}"
    for answer in answers:
        assert answer.status_code in (200, 201), answer.json
        assert "s3cr3t" not in answer.get_data(as_text=True), answer.request.path

    with host.app.app_context():  # and never in the stored attempt
        for row in host.db.session.scalars(select(Attempt)):
            stored = json.dumps([row.request_headers, row.response_headers,
                                 row.response_excerpt])
            assert "s3cr3t" not in stored and MASK in stored


def test_dashboard_pages_show_the_headers_with_the_secret_masked(host, acme, receiver):
    hook = acme.create_webhook(receiver.url, headers=[
        {"name": "Authorization", "value": TOKEN, "secret": True},
        {"name": "X-Route", "value": ROUTE}])["id"]
    acme.post(f"/webhooks/{hook}/test")
    app = host.app
    app.secret_key = "tests"
    host.clawhooks.dashboard_owner_loader(lambda: "acme")
    client = Dashboard(host).client()
    for path in (f"/{hook}", f"/{hook}/headers", "/", "/search?event_id="):
        page = client.get(Dashboard(host).url(path))
        assert page.status_code == 200, path
        assert "s3cr3t" not in page.get_data(as_text=True), path
    webhook_page = client.get(Dashboard(host).url(f"/{hook}")).get_data(as_text=True)
    assert ROUTE in webhook_page and MASK in webhook_page and "Authorization" in webhook_page


def test_patch_replaces_the_list_and_keeps_a_secret_that_is_left_out(host, acme, receiver):
    hook = acme.create_webhook(receiver.url, headers=[
        {"name": "Authorization", "value": TOKEN, "secret": True}])["id"]

    kept = acme.patch(f"/webhooks/{hook}", json={"headers": [
        {"name": "authorization", "secret": True}, {"name": "X-Route", "value": ROUTE}]})
    assert kept.status_code == 200, kept.json
    assert headers_of(kept) == {"authorization": (MASK, True), "X-Route": (ROUTE, False)}
    # what a GET shows can be sent back as it is
    shown = acme.get(f"/webhooks/{hook}").json["headers"]
    assert acme.patch(f"/webhooks/{hook}", json={"headers": shown}).status_code == 200
    acme.post(f"/webhooks/{hook}/test")
    assert receiver.requests[-1].headers["authorization"] == TOKEN

    cleared = acme.patch(f"/webhooks/{hook}", json={"headers": []})
    assert cleared.status_code == 200 and cleared.json["headers"] == []
    acme.post(f"/webhooks/{hook}/test")
    assert "authorization" not in {k.lower() for k in receiver.requests[-1].headers}

    # once removed, a secret cannot be kept by leaving out its value
    again = acme.patch(f"/webhooks/{hook}", json={"headers": [
        {"name": "Authorization", "secret": True}]})
    assert again.status_code == 422
    assert "headers[0].value: is required" in again.json["error"]["message"]


RESERVED = ["X-ClawBook-Signature", "x-clawbook-event", "X-ClawBook-Anything",
            "webhook-signature", "Webhook-Id", "webhook-custom", "Content-Type",
            "content-length", "Host", "User-Agent", "Connection", "Keep-Alive",
            "Transfer-Encoding", "TE", "Trailer", "Upgrade", "Proxy-Authorization",
            "Proxy-Connection",
            # _ counts as - (CGI, WSGI and many proxies read the two alike)
            "X_ClawBook_Signature", "Content_Length", "webhook_signature", "Transfer_Encoding",
            "proxy_authorization"]


def test_reserved_header_names_are_refused_with_422_naming_them(acme, receiver):
    hook = acme.create_webhook(receiver.url)["id"]
    for name in RESERVED:
        for method, path, extra in (("POST", "/webhooks", {
                "url": receiver.url, "events": ["message.received"]}),
                ("PATCH", f"/webhooks/{hook}", {})):
            response = acme.call(method, path, json={
                **extra, "headers": [{"name": name, "value": "x"}]})
            assert response.status_code == 422, (name, method)
            message = response.json["error"]["message"]
            assert message.startswith("headers[0].name:") and "is reserved" in message, message
            assert name in message
    assert acme.get(f"/webhooks/{hook}").json["headers"] == []


MALFORMED = [
    ({"name": "X Route", "value": "x"}, "headers[0].name", "is not a valid header name"),
    ({"name": "X-Route:", "value": "x"}, "headers[0].name", "is not a valid header name"),
    ({"name": "", "value": "x"}, "headers[0].name", "must be a header name"),
    ({"name": "X-" + "a" * 100, "value": "x"}, "headers[0].name", "at most 100"),
    ({"name": "X-Route", "value": "a\r\nX-Injected: 1"}, "headers[0].value",
     "must not contain CR, LF or NUL"),
    ({"name": "X-Route", "value": "a\nb"}, "headers[0].value", "CR, LF or NUL"),
    ({"name": "X-Route", "value": "a\x00b"}, "headers[0].value", "CR, LF or NUL"),
    ({"name": "X-Route", "value": "caf\u00e9"}, "headers[0].value", "printable ASCII"),
    ({"name": "X-Route", "value": " padded"}, "headers[0].value", "spaces"),
    ({"name": "X-Route", "value": ""}, "headers[0].value", "must not be empty"),
    ({"name": "X-Route", "value": "a" * 4097}, "headers[0].value", "at most 4096"),
    ({"name": "X-Route", "value": 5}, "headers[0].value", "must be a string"),
    ({"name": "X-Route"}, "headers[0].value", "is required"),
    ({"name": "X-Route", "value": MASK}, "headers[0].value", "send the real value"),
    ({"name": "X-Route", "value": "x", "secret": "yes"}, "headers[0].secret",
     "true or false"),
    ({"name": "X-Route", "value": "x", "hidden": True}, "headers[0]", "unknown field"),
    ("X-Route: x", "headers[0]", "must be an object"),
]


def test_a_name_listed_twice_with_an_underscore_for_a_dash_is_refused(acme, receiver):
    response = acme.post("/webhooks", json={
        "url": receiver.url, "events": ["message.received"],
        "headers": [{"name": "X-Route", "value": "a"}, {"name": "x_route", "value": "b"}]})
    assert response.status_code == 422
    assert "headers[1].name: 'x_route' is listed twice" in response.json["error"]["message"]


def test_malformed_headers_are_refused_with_422_and_a_message(acme, receiver):
    hook = acme.create_webhook(receiver.url)["id"]
    for header, field, message in MALFORMED:
        response = acme.patch(f"/webhooks/{hook}", json={"headers": [header]})
        assert response.status_code == 422, header
        error = response.json["error"]["message"]
        assert error.startswith(field + ":") and message in error, (header, error)

    twice = acme.patch(f"/webhooks/{hook}", json={"headers": [
        {"name": "X-Route", "value": "a"}, {"name": "x-route", "value": "b"}]})
    assert twice.status_code == 422 and "listed twice" in twice.json["error"]["message"]
    not_list = acme.patch(f"/webhooks/{hook}", json={"headers": {"X-Route": "a"}})
    assert not_list.status_code == 422 and "must be a list" in not_list.json["error"]["message"]
    assert acme.get(f"/webhooks/{hook}").json["headers"] == []


@pytest.mark.clawhooks_config(CLAWHOOKS_MAX_CUSTOM_HEADERS=2)
def test_more_headers_than_the_setting_allows_are_refused(host, acme, receiver):
    three = [{"name": f"X-H{i}", "value": "v"} for i in range(3)]
    response = acme.post("/webhooks", json={"url": receiver.url,
                                            "events": ["message.received"], "headers": three})
    assert response.status_code == 422
    assert "at most 2 headers are allowed, got 3" in response.json["error"]["message"]
    document = host.app.test_client().get("/api/v1/openapi.json").json
    schema = document["components"]["schemas"]["WebhookCreate"]["properties"]["headers"]
    assert schema["maxItems"] == 2
    assert acme.post("/webhooks", json={"url": receiver.url, "events": ["message.received"],
                                        "headers": three[:2]}).status_code == 201


def test_a_reserved_or_broken_header_written_to_the_database_is_not_sent(
        host, acme, receiver):
    """Headers are checked when saved; one that got into the table by other means must
    neither replace the signature nor stop the delivery."""
    hook = acme.create_webhook(receiver.url)["id"]
    with host.app.app_context():
        from flask_clawhooks.models import Webhook

        host.db.session.get(Webhook, hook).custom_headers = [
            {"name": "X-ClawBook-Signature", "value": "sha256=forged"},
            {"name": "X-Ok", "value": "1"}, {"value": "no name"}]
        host.db.session.commit()
    sent = acme.post(f"/webhooks/{hook}/test")
    assert sent.json["delivery"]["status"] == "success"
    [request] = receiver.requests
    assert request.headers["X-Ok"] == "1"
    assert request.headers["X-ClawBook-Signature"] != "sha256=forged"
    assert request.headers["X-ClawBook-Signature"].startswith("sha256=")
