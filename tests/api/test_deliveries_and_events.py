"""Delivery logs, retries and events through the API, with real deliveries."""

from __future__ import annotations

import datetime as dt

import pytest

from flask_clawhooks.pruning import expire_payloads
from flask_clawhooks.timeutil import utcnow

from ..fixtures import Reply


@pytest.fixture
def logged(host, acme, receiver):
    """An acme webhook with three delivered events: the 2nd answered 404 (failed)."""
    receiver.replies = [Reply(200), Reply(404, b"nope"), Reply(200)]
    hook = acme.create_webhook(receiver.url, ["message.received", "message.sent"])
    host.emit("message.received", {"n": 1})
    host.work_until_settled()
    host.emit("message.sent", {"n": 2})
    host.work_until_settled()
    host.emit("message.received", {"n": 3})
    host.work_until_settled()
    return hook["id"]


def test_the_log_is_newest_first_and_filters_by_status_and_event_type(acme, logged):
    everything = acme.get(f"/webhooks/{logged}/deliveries").json["data"]
    assert [d["event_type"] for d in everything] == [
        "message.received", "message.sent", "message.received"]
    assert [d["status"] for d in everything] == ["success", "failed", "success"]
    assert everything[1]["response_code"] == 404 and everything[1]["last_error"] == "HTTP 404"

    failed = acme.get(f"/webhooks/{logged}/deliveries?status=failed").json["data"]
    assert [d["id"] for d in failed] == [everything[1]["id"]]
    sent = acme.get(f"/webhooks/{logged}/deliveries?event_type=message.sent").json["data"]
    assert [d["id"] for d in sent] == [everything[1]["id"]]
    assert acme.get(f"/webhooks/{logged}/deliveries?status=lost").status_code == 422


def test_cursor_paging_walks_every_delivery_once(acme, logged):
    seen, after = [], None
    while True:
        query = "limit=2" + (f"&after={after}" if after else "")
        page = acme.get(f"/webhooks/{logged}/deliveries?{query}").json
        seen += [d["id"] for d in page["data"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        after = page["next_cursor"]
        assert after == page["data"][-1]["id"]
    assert len(seen) == 3 == len(set(seen))
    assert seen == sorted(seen, reverse=True)


def test_one_delivery_shows_all_its_attempts(acme, logged):
    failed = acme.get(f"/webhooks/{logged}/deliveries?status=failed").json["data"][0]
    details = acme.get(f"/webhooks/{logged}/deliveries/{failed['id']}").json
    [attempt] = details["attempts"]
    assert attempt["number"] == 1 and attempt["outcome"] == "failed"
    assert attempt["response_code"] == 404 and attempt["response_excerpt"] == "nope"
    assert attempt["request_headers"]["X-ClawBook-Event"] == "message.sent"
    assert attempt["request_headers"]["X-ClawBook-Signature"].startswith("sha256=")


def test_retry_sends_a_failed_delivery_again(host, acme, logged, receiver):
    failed = acme.get(f"/webhooks/{logged}/deliveries?status=failed").json["data"][0]
    response = acme.post(f"/webhooks/{logged}/deliveries/{failed['id']}/retry")
    assert response.status_code == 202
    assert response.json["status"] == "pending"

    host.work_until_settled()

    again = acme.get(f"/webhooks/{logged}/deliveries/{failed['id']}").json
    assert again["status"] == "success"
    assert [a["outcome"] for a in again["attempts"]] == ["failed", "success"]
    assert receiver.requests[-1].body == receiver.requests[1].body


def test_test_and_retry_of_a_disabled_webhook_are_409(acme, logged, receiver):
    delivery = acme.get(f"/webhooks/{logged}/deliveries").json["data"][0]
    acme.patch(f"/webhooks/{logged}", json={"enabled": False})
    sent = len(receiver.requests)
    for response in (acme.post(f"/webhooks/{logged}/test"),
                     acme.post(f"/webhooks/{logged}/deliveries/{delivery['id']}/retry")):
        assert response.status_code == 409
        assert response.json["error"]["code"] == "conflict"
        assert "enable" in response.json["error"]["message"]
    assert len(receiver.requests) == sent


def test_a_test_to_a_failing_endpoint_answers_200_with_the_failed_attempt(acme, receiver):
    receiver.default = Reply(500, b"boom")
    hook = acme.create_webhook(receiver.url)
    result = acme.post(f"/webhooks/{hook['id']}/test").json
    assert result["attempt"]["response_code"] == 500
    assert result["attempt"]["outcome"] in ("retry", "failed")
    assert result["delivery"]["event_type"] == "webhook.test"


def test_events_are_listed_newest_first_with_their_data(host, acme, globex):
    first = host.emit("message.received", {"content": "Hello, how are you? ✓"})
    second = host.emit("backup.completed", {"size": 42})
    host.emit("backup.completed", {"size": 1}, owner="globex")

    page = acme.get("/events").json
    assert [e["id"] for e in page["data"]] == [second, first]
    assert page["data"][1] == {
        "id": first, "type": "message.received",
        "created_at": page["data"][1]["created_at"],
        "data": {"content": "Hello, how are you? ✓"},
    }
    assert [e["id"] for e in acme.get("/events?type=backup.completed").json["data"]] == [
        second]

    one = acme.get(f"/events/{first}")
    assert one.status_code == 200 and one.mimetype == "application/json"
    assert one.json["data"] == {"content": "Hello, how are you? ✓"}
    assert list(one.json) == ["id", "type", "created_at", "data"]
    assert acme.get(f"/events/{first}?x=1").status_code == 422  # unknown parameter
    assert acme.get("/events/evt_01jkq8m3z5v6w7x8y9a0b1c2d3").status_code == 404


def test_an_event_whose_payload_expired_is_listed_with_null_data(host, acme):
    first = host.emit("message.received", {"content": "old"})
    before = acme.get(f"/events/{first}").json
    with host.app.app_context():
        assert expire_payloads(host.db.session, dt.timedelta(days=1),
                               now=utcnow() + dt.timedelta(days=2)) == 1
    second = host.emit("message.received", {"content": "new"})

    expired = {**before, "data": None}
    assert acme.get(f"/events/{first}").json == expired
    page = acme.get("/events").json["data"]
    assert page == [acme.get(f"/events/{second}").json, expired]
