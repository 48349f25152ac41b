"""Signed delivery and the outcome rules, against real receivers on loopback."""

from __future__ import annotations

import json

import pytest

from flask_clawhooks import signals
from flask_clawhooks.models import DeliveryStatus, WebhookStatus

from ..fixtures import SEED_MESSAGE as SEED_EXAMPLE
from ..fixtures import WITH_PARTITIONED, Reply, seed_verify_signature

# The page's example, with non-ASCII content: the body must stay UTF-8 (ensure_ascii=False).
SEED_MESSAGE = {**SEED_EXAMPLE, "content": "Hello, how are you? Ünïcödé ✓"}



@pytest.mark.parametrize("database_url", WITH_PARTITIONED, indirect=True)
def test_200_is_recorded_with_code_and_time_and_signed_as_the_seed_verifies(host, receiver):
    webhook = host.add_webhook(receiver.url, secret="your-webhook-secret")
    event_id = host.emit("message.received", SEED_MESSAGE)

    [delivery] = host.work_until_settled()

    [request] = receiver.requests
    payload = request.body.decode("utf-8")  # what request.get_data(as_text=True) gives
    assert seed_verify_signature(payload, request.headers["X-ClawBook-Signature"],
                                 "your-webhook-secret")
    assert not seed_verify_signature(payload, request.headers["X-ClawBook-Signature"], "other")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-ClawBook-Event"] == "message.received"
    assert request.headers["X-ClawBook-Delivery"] == delivery.id
    assert request.headers["User-Agent"].startswith("ClawBook-Webhooks/")

    envelope = json.loads(request.body)
    assert list(envelope) == ["id", "type", "created_at", "data"]
    assert envelope["id"] == event_id and event_id.startswith("evt_")
    assert envelope["type"] == "message.received"
    assert envelope["created_at"].endswith("Z") and len(envelope["created_at"]) == 20
    assert envelope["data"] == SEED_MESSAGE
    # compact, so JSON.stringify of the parsed body (the Node example) gives the same bytes
    assert request.body == json.dumps(envelope, separators=(",", ":"),
                                      ensure_ascii=False).encode()

    assert delivery.status == DeliveryStatus.SUCCESS
    assert delivery.webhook_id == webhook.id
    assert delivery.response_code == 200
    assert delivery.response_time_ms is not None and delivery.response_time_ms >= 0
    [attempt] = delivery.attempts
    assert (attempt.number, attempt.outcome, attempt.response_code) == (1, "success", 200)
    assert attempt.response_excerpt == "OK"


def test_only_subscribed_active_webhooks_of_the_owner_get_the_event(host, receiver_factory):
    subscribed, other_type, other_owner, disabled = (receiver_factory() for _ in range(4))
    host.add_webhook(subscribed.url, ["message.received", "message.sent"])
    host.add_webhook(other_type.url, ["message.sent"])
    host.add_webhook(other_owner.url, ["message.received"], owner="globex")
    host.add_webhook(disabled.url, ["message.received"], enabled=False)

    host.emit("message.received", SEED_MESSAGE)
    host.work_until_settled()

    assert len(subscribed.requests) == 1
    assert not other_type.requests and not other_owner.requests and not disabled.requests


@pytest.mark.parametrize("database_url", WITH_PARTITIONED, indirect=True)
def test_404_fails_after_one_attempt(host, receiver):
    receiver.default = Reply(404, b"no such hook")
    failed = []
    signals.delivery_failed.connect(lambda app, **kw: failed.append(kw), host.app, weak=False)
    webhook = host.add_webhook(receiver.url)
    host.emit("message.received", SEED_MESSAGE)

    [delivery] = host.work_until_settled()

    assert len(receiver.requests) == 1
    assert delivery.status == DeliveryStatus.FAILED
    assert [a.outcome for a in delivery.attempts] == ["failed"]
    assert delivery.attempts[0].error == "HTTP 404"
    assert failed == [{"delivery_id": delivery.id, "webhook_id": webhook.id,
                       "reason": "HTTP 404"}]
    assert host.webhook(webhook.id).status == WebhookStatus.ACTIVE


def test_410_fails_and_disables_the_webhook(host, receiver):
    receiver.default = Reply(410, b"gone")
    webhook = host.add_webhook(receiver.url)
    host.emit("message.received", SEED_MESSAGE)

    [delivery] = host.work_until_settled()

    assert delivery.status == DeliveryStatus.FAILED and len(delivery.attempts) == 1
    assert host.webhook(webhook.id).enabled is False
    host.emit("message.received", SEED_MESSAGE)
    host.work_until_settled()
    assert len(receiver.requests) == 1


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[1, 2])
@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_retryable_statuses_are_retried_then_succeed(host, receiver, status):
    receiver.replies = [Reply(status, b"busy")]
    host.add_webhook(receiver.url)
    host.emit("message.received", SEED_MESSAGE)

    [delivery] = host.work_until_settled()

    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body
    assert delivery.status == DeliveryStatus.SUCCESS
    assert [(a.outcome, a.response_code) for a in delivery.attempts] == [
        ("retry", status), ("success", 200)]


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[1], CLAWHOOKS_TIMEOUT=0.5,
                              CLAWHOOKS_LEASE_SECONDS=3.0)
def test_a_receiver_that_sleeps_past_the_timeout_is_retried(host, receiver):
    receiver.replies = [Reply(200, delay=1.5)]
    host.add_webhook(receiver.url)
    host.emit("message.received", SEED_MESSAGE)

    [delivery] = host.work_until_settled()

    first, second = delivery.attempts
    assert first.outcome == "retry" and first.response_code is None
    assert first.error.startswith("timeout")
    assert second.outcome == "success"
    assert delivery.status == DeliveryStatus.SUCCESS


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[1])
def test_a_refused_connection_is_retried(host, receiver):
    url = receiver.url
    receiver.close()
    host.add_webhook(url)
    host.emit("message.received", SEED_MESSAGE)

    [delivery] = host.work_until_settled()

    assert [a.outcome for a in delivery.attempts] == ["retry", "failed"]
    assert all(a.error.startswith("connection error") for a in delivery.attempts)


def test_redirects_are_not_followed(host, receiver_factory):
    target, redirecting = receiver_factory(), receiver_factory()
    redirecting.default = Reply(302, headers={"Location": target.url})
    host.add_webhook(redirecting.url)
    host.configure(retry_delays=())
    host.emit("message.received", SEED_MESSAGE)

    [delivery] = host.work_until_settled()
    assert not target.requests
    assert delivery.attempts[0].response_code == 302
    assert "not followed" in delivery.attempts[0].error
