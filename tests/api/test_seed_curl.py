"""Every curl command of the ClawBook webhooks page, sent over real HTTP to the served app."""

from __future__ import annotations

import json
import re

import requests

from ..fixtures import Reply, seed_verify_signature
from .conftest import PREFIX

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
WEBHOOK_KEYS = {"id", "url", "events", "status", "enabled", "description", "headers",
                "ordering", "max_per_second", "max_in_flight", "created_at", "updated_at"}
SEED_RECENT_DELIVERY_KEYS = ["id", "event_id", "status", "response_code", "response_time_ms",
                             "timestamp"]


def test_the_seeds_curl_commands_work_against_a_live_server(host, acme, live_server,
                                                           receiver):
    api = live_server + PREFIX
    auth = {"Authorization": f"Bearer {acme.key}"}

    # Via API: create (the seed's body, verbatim)
    created = requests.post(
        f"{api}/webhooks",
        headers={**auth, "Content-Type": "application/json"},
        data="""{
"url": "https://your-server.com/webhook",
"events": ["message.received", "message.sent", "integration.disconnected"],
"secret": "your-webhook-secret"
}""",
        timeout=10,
    )
    assert created.status_code == 201, created.text
    assert created.headers["Content-Type"] == "application/json"
    webhook = created.json()
    assert set(webhook) == WEBHOOK_KEYS | {"secret"}
    assert re.fullmatch(r"wh_[0-9a-z]{26}", webhook["id"])
    assert webhook["url"] == "https://your-server.com/webhook"
    assert webhook["events"] == ["message.received", "message.sent",
                                 "integration.disconnected"]
    assert webhook["secret"] == "your-webhook-secret"
    assert webhook["status"] == "active" and webhook["enabled"] is True
    assert ISO_Z.match(webhook["created_at"])
    assert created.headers["Location"] == f"{PREFIX}/webhooks/{webhook['id']}"
    webhook_id = webhook["id"]

    # List Webhooks
    listed = requests.get(f"{api}/webhooks", headers=auth, timeout=10)
    assert listed.status_code == 200
    page = listed.json()
    assert set(page) == {"data", "has_more", "next_cursor"}
    assert [w["id"] for w in page["data"]] == [webhook_id]
    assert "secret" not in page["data"][0] and set(page["data"][0]) == WEBHOOK_KEYS
    assert page["has_more"] is False and page["next_cursor"] is None

    # Update Webhook (the seed's body), then point it at a real receiver
    updated = requests.patch(
        f"{api}/webhooks/{webhook_id}",
        headers={**auth, "Content-Type": "application/json"},
        data="""{
"events": ["message.received"],
"enabled": true
}""",
        timeout=10,
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["events"] == ["message.received"]
    assert "secret" not in updated.json()
    moved = requests.patch(f"{api}/webhooks/{webhook_id}", headers=auth,
                           json={"url": receiver.url}, timeout=10)
    assert moved.status_code == 200 and moved.json()["url"] == receiver.url

    # Get Webhook Details: "Response includes recent delivery attempts"
    event_id = host.emit("message.received", {"message_id": "msg_xyz789"})
    host.work_until_settled()
    details = requests.get(f"{api}/webhooks/{webhook_id}", headers=auth, timeout=10)
    assert details.status_code == 200
    body = details.json()
    assert list(body)[:4] == ["id", "url", "events", "status"]  # the seed's order
    assert body["id"] == webhook_id and body["status"] == "active"
    assert body["events"] == ["message.received"] and "secret" not in body
    [recent] = body["recent_deliveries"]
    assert list(recent) == SEED_RECENT_DELIVERY_KEYS
    assert recent["id"].startswith("del_") and recent["event_id"] == event_id
    assert recent["status"] == "success" and recent["response_code"] == 200
    assert isinstance(recent["response_time_ms"], int) and recent["response_time_ms"] >= 0
    assert ISO_Z.match(recent["timestamp"])

    # Test Webhook: sent now, to the real receiver, signed with the secret
    receiver.replies = [Reply(200, b"test OK")]
    tested = requests.post(f"{api}/webhooks/{webhook_id}/test", headers=auth, timeout=30)
    assert tested.status_code == 200, tested.text
    result = tested.json()
    assert result["attempt"]["outcome"] == "success"
    assert result["attempt"]["response_code"] == 200
    assert result["attempt"]["response_excerpt"] == "test OK"
    assert result["delivery"]["status"] == "success"
    assert result["delivery"]["event_type"] == "webhook.test"
    assert [a["id"] for a in result["delivery"]["attempts"]] == [result["attempt"]["id"]]
    request = receiver.requests[-1]
    envelope = json.loads(request.body)
    assert envelope["type"] == "webhook.test" and envelope["data"]["webhook_id"] == webhook_id
    assert seed_verify_signature(request.body.decode("utf-8"),
                                 request.headers["X-ClawBook-Signature"], "your-webhook-secret")

    # Webhook Logs: newest first
    logs = requests.get(f"{api}/webhooks/{webhook_id}/deliveries", headers=auth, timeout=10)
    assert logs.status_code == 200
    entries = logs.json()["data"]
    assert [d["event_type"] for d in entries] == ["webhook.test", "message.received"]
    assert entries[0]["id"] == result["delivery"]["id"]
    assert all(list(d)[:6] == SEED_RECENT_DELIVERY_KEYS for d in entries)

    # Delete Webhook
    deleted = requests.delete(f"{api}/webhooks/{webhook_id}", headers=auth, timeout=10)
    assert deleted.status_code == 204 and deleted.content == b""
    gone = requests.get(f"{api}/webhooks/{webhook_id}", headers=auth, timeout=10)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "not_found"
