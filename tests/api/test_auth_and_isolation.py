"""API keys and owner isolation: another owner's things are 404, bad keys are 401."""

from __future__ import annotations

import pytest

from flask_clawhooks.apikeys import ApiKey, hash_key, revoke

from .conftest import ApiClient


@pytest.fixture
def acme_things(host, acme, receiver):
    """An acme webhook with one delivered event: (webhook id, delivery id, event id)."""
    webhook = acme.create_webhook(receiver.url)
    event_id = host.emit("message.received", {"n": 1}, owner="acme")
    [delivery] = host.work_until_settled()
    return webhook["id"], delivery.id, event_id


def assert_not_found(response):
    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.json["error"]["code"] == "not_found"


def test_another_owner_cannot_see_acmes_webhook_deliveries_or_events(acme_things, globex):
    webhook_id, delivery_id, event_id = acme_things
    assert_not_found(globex.get(f"/webhooks/{webhook_id}"))
    assert_not_found(globex.get(f"/webhooks/{webhook_id}/deliveries"))
    assert_not_found(globex.get(f"/webhooks/{webhook_id}/deliveries/{delivery_id}"))
    assert_not_found(globex.get(f"/events/{event_id}"))
    assert globex.get("/webhooks").json["data"] == []
    assert globex.get("/events").json["data"] == []


def test_another_owner_cannot_change_test_retry_or_delete_acmes_webhook(
        host, acme, acme_things, globex, receiver):
    webhook_id, delivery_id, _ = acme_things
    sent_before = len(receiver.requests)
    assert_not_found(globex.patch(f"/webhooks/{webhook_id}",
                                  json={"url": "https://evil.example/steal"}))
    assert_not_found(globex.post(f"/webhooks/{webhook_id}/test"))
    assert_not_found(globex.post(f"/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"))
    assert_not_found(globex.delete(f"/webhooks/{webhook_id}"))

    assert len(receiver.requests) == sent_before
    untouched = acme.get(f"/webhooks/{webhook_id}").json
    assert untouched["url"] == receiver.url
    assert [d["id"] for d in untouched["recent_deliveries"]] == [delivery_id]
    assert host.webhook(webhook_id).url == receiver.url


def test_a_delivery_is_not_found_under_another_webhook_of_the_same_owner(acme, acme_things,
                                                                         receiver):
    _, delivery_id, _ = acme_things
    other = acme.create_webhook(receiver.url)
    assert_not_found(acme.get(f"/webhooks/{other['id']}/deliveries/{delivery_id}"))


def test_a_revoked_key_gets_401(host, acme):
    assert acme.get("/webhooks").status_code == 200
    with host.app.app_context():
        revoke(host.db.session, acme.key_id)
        host.db.session.commit()

    response = acme.get("/webhooks")

    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", "Bearer ", "Basic YWNtZTpzZWNyZXQ=", "Bearer cbk_not-a-real-key",
])
def test_missing_malformed_or_unknown_keys_get_401_json(host, acme, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = host.app.test_client().get("/api/v1/webhooks", headers=headers)
    assert response.status_code == 401
    assert response.mimetype == "application/json"
    assert response.json["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_keys_are_stored_only_as_their_hash_and_last_use_is_noted(host, acme):
    acme.get("/webhooks")
    with host.app.app_context():
        key = host.db.session.get(ApiKey, acme.key_id)
        assert key.key_hash == hash_key(acme.key) and acme.key not in key.key_hash
        assert acme.key.startswith("cbk_") and key.prefix == acme.key[:12]
        assert key.last_used_at is not None


def test_a_host_can_plug_its_own_api_key_loader(host, receiver):
    host.clawhooks.api_key_loader({"host-token-1": "acme"}.get)
    client = ApiClient(host, "acme", "host-token-1", "-")
    hook = client.create_webhook(receiver.url)
    assert host.webhook(hook["id"]).owner == "acme"
    stranger = ApiClient(host, "?", "other-token", "-")
    assert stranger.get("/webhooks").status_code == 401
