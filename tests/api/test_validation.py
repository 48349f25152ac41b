"""Bad input gets a JSON error with the right status, never a 500 or an HTML page."""

from __future__ import annotations

import pytest

from flask_clawhooks.api.views import MAX_BODY_BYTES
from flask_clawhooks.destinations import DestinationPolicy
from flask_clawhooks.timeutil import utcnow

GOOD = {"url": "https://your-server.com/webhook", "events": ["message.received"]}


def assert_error(response, status, code, *fragments):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.json["error"]
    assert error["code"] == code
    for fragment in fragments:
        assert fragment in error["message"], error["message"]
    return error


def test_a_body_that_is_not_json_is_400(acme):
    response = acme.post("/webhooks", data="{url: nope",
                         headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_json", "not valid JSON")


@pytest.mark.parametrize("body", ["[]", '"x"', "null", "NaN", '{"a": Infinity}'])
def test_json_that_is_not_an_object_or_not_standard_is_400(acme, body):
    response = acme.post("/webhooks", data=body, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_json")


def test_invalid_utf8_and_absurd_nesting_are_400_not_500(acme):
    bad = acme.post("/webhooks", data=b'{"url": "\xff"}',
                    headers={"Content-Type": "application/json"})
    assert_error(bad, 400, "invalid_json")
    deep = acme.post("/webhooks", data="[" * 20_000 + "]" * 20_000,
                     headers={"Content-Type": "application/json"})
    assert_error(deep, 400, "invalid_json")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_declared_json_is_415(acme, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = acme.post("/webhooks", data='{"url": "https://x.example"}', headers=headers)
    assert_error(response, 415, "unsupported_media_type", "application/json")


def test_a_body_over_64_kb_is_413(acme):
    body = '{"description": "' + "x" * MAX_BODY_BYTES + '"}'
    response = acme.post("/webhooks", data=body, headers={"Content-Type": "application/json"})
    assert_error(response, 413, "payload_too_large")


@pytest.mark.parametrize(("changes", "field", "fragment"), [
    ({"url": "ftp://your-server.com/webhook"}, "url", "http://"),
    ({"url": "/webhook"}, "url", "http://"),
    ({"url": "https://"}, "url", "host"),
    ({"url": "https://user:pw@your-server.com/"}, "url", "password"),
    ({"url": "https://your-server.com:99999/"}, "url", "valid URL"),
    ({"url": "https://your server.com/"}, "url", "spaces"),
    ({"url": 42}, "url", "string"),
    ({"events": []}, "events", "non-empty"),
    ({"events": "message.received"}, "events", "non-empty list"),
    ({"events": ["message.recieved"]}, "events", "unknown event type 'message.recieved'"),
    ({"events": ["webhook.test"]}, "events", "unknown event type"),
    ({"events": ["message.sent", "message.sent"]}, "events", "twice"),
    ({"secret": "short"}, "secret", "at least 16"),
    ({"secret": "s" * 256}, "secret", "at most 255"),
    ({"secret": "nul\x00character-secret"}, "secret", "NUL"),
    ({"description": "d" * 501}, "description", "at most 500"),
    ({"event": ["message.received"]}, "'event'", "unknown field"),
])
def test_invalid_fields_are_422_naming_the_field(acme, changes, field, fragment):
    error = assert_error(acme.post("/webhooks", json={**GOOD, **changes}), 422,
                         "validation_error", fragment)
    assert error["message"].startswith(field + ":")


def test_required_fields_are_named(acme):
    assert_error(acme.post("/webhooks", json={"events": ["message.sent"]}), 422,
                 "validation_error", "url: is required")


def test_literal_private_addresses_are_refused_unless_allowed(host, acme):
    host.configure(destinations=DestinationPolicy())  # the production default
    response = acme.post("/webhooks", json={**GOOD, "url": "http://169.254.169.254/latest"})
    assert_error(response, 422, "validation_error", "metadata")


def test_https_is_required_when_configured(host, acme):
    host.configure(require_https=True)
    assert_error(acme.post("/webhooks", json={**GOOD, "url": "http://your-server.com/"}),
                 422, "validation_error", "https://")
    assert acme.post("/webhooks", json=GOOD).status_code == 201


def test_patch_validates_like_create_and_rejects_create_only_surprises(acme):
    hook = acme.create_webhook("https://your-server.com/webhook")
    path = f"/webhooks/{hook['id']}"
    assert_error(acme.patch(path, json={"enabled": "yes"}), 422, "validation_error",
                 "enabled: must be true or false")
    assert_error(acme.patch(path, json={"id": "wh_x"}), 422, "validation_error",
                 "unknown field")
    assert_error(acme.patch(path, json={"events": []}), 422, "validation_error")
    assert acme.patch(path, json={}).status_code == 200


def test_patch_rotates_the_secret_and_enabling_clears_the_failure_run(host, acme):
    hook = acme.create_webhook("https://your-server.com/webhook", secret="first-secret-1234")
    path = f"/webhooks/{hook['id']}"
    assert acme.patch(path, json={"enabled": False}).json["status"] == "disabled"
    switched_off = utcnow()

    changed = acme.patch(path, json={"enabled": True, "secret": "second-secret-5678",
                                     "description": "prod"}).json

    assert changed["status"] == "active" and changed["description"] == "prod"
    assert "secret" not in changed
    stored = host.webhook(hook["id"])
    assert stored.secret == "second-secret-5678"
    assert stored.previous_secret == "first-secret-1234"
    # the health check counts failures from here on (flask_clawhooks.health)
    assert stored.enabled_at is not None and stored.enabled_at >= switched_off


def test_a_generated_secret_is_a_whsec_secret(acme):
    hook = acme.create_webhook("https://your-server.com/webhook")
    assert hook["secret"].startswith("whsec_") and len(hook["secret"]) == len("whsec_") + 32
    assert "secret" not in acme.get(f"/webhooks/{hook['id']}").json


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=ten", "after=wh_nope",
                                   "after=del_01jkq8m3z5v6w7x8y9a0b1c2d3"])
def test_bad_paging_parameters_are_422(acme, query):
    assert_error(acme.get(f"/webhooks?{query}"), 422, "validation_error")


def test_unknown_paths_and_methods_under_the_prefix_are_json(host, acme):
    assert_error(acme.get("/nothing/here"), 404, "not_found")
    assert_error(acme.get("/webhooks/wh_malformed"), 404, "not_found")
    assert_error(acme.get("/webhooks/%00"), 404, "not_found")
    response = acme.call("PUT", "/webhooks")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]
    assert_error(acme.call("POST", "/events"), 405, "method_not_allowed")


def test_the_hosts_own_404_pages_are_left_alone(host):
    response = host.app.test_client().get("/not-the-api")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert host.app.test_client().get("/api/v1x/webhooks").mimetype == "text/html"


@pytest.mark.parametrize("body", [
    '{"url": "https://x.example/h", "events": ["message.sent"], "description": "a\\u0000b"}',
    '{"url": "https://x.example/h", "events": ["message.sent"], "description": "\\ud800"}',
    '{"url": "https://x.example/\\u0000", "events": ["message.sent"]}',
])
def test_strings_no_database_can_store_are_422_not_500(acme, body):
    response = acme.post("/webhooks", data=body, headers={"Content-Type": "application/json"})
    assert_error(response, 422, "validation_error")


def test_query_values_with_nul_and_unknown_query_parameters_are_422(acme):
    hook = acme.create_webhook("https://your-server.com/webhook")
    assert_error(acme.get(f"/webhooks/{hook['id']}/deliveries?event_type=a%00b"), 422,
                 "validation_error", "NUL")
    assert_error(acme.get("/webhooks?statuss=failed"), 422, "validation_error",
                 "'statuss': unknown query parameter")


def test_every_invalid_field_is_reported_at_once_in_error_errors(acme):
    response = acme.post("/webhooks", json={
        "url": "ftp://x.example", "events": ["message.recieved"], "secret": "short",
        "colour": "blue"})
    error = assert_error(response, 422, "validation_error", "url:", "events:", "secret:")
    fields = [e["field"] for e in error["errors"]]
    assert fields == ["'colour'", "url", "events", "secret"], error
    assert all(e["message"] for e in error["errors"])
    assert set(error) == {"code", "message", "errors"}

    one = acme.post("/webhooks", json={**GOOD, "secret": "short"})
    assert [e["field"] for e in assert_error(one, 422, "validation_error")["errors"]] == [
        "secret"]
