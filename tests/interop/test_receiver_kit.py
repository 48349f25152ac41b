"""Real deliveries from our worker to receiver_kit apps served on loopback.

Nothing is simulated: the ``host`` fixture's extension emits, real RQ burst workers sign
and POST, and the receivers are Flask apps behind werkzeug's server on 127.0.0.1.
"""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from standardwebhooks.webhooks import Webhook as StandardWebhook

import receiver_kit as rk
from flask_clawhooks.models import DeliveryStatus, Webhook
from flask_clawhooks.signing import generate_secret
from receiver_kit.signature import Secrets

from ..fixtures import Host
from .conftest import (
    SECRET,
    SEED_MESSAGE,
    Served,
    assert_delivered,
    delivery_of,
    error_code,
    post,
    retry,
    sent_request,
)

Serve = Callable[..., Served]
LOOPBACK = ["127.0.0.0/8"]


def kit_receiver(secret: Secrets = SECRET, **kwargs: Any) -> tuple[Flask, list]:
    """A Flask app whose ``/webhook`` view is protected by ``@verify_webhook``."""
    app = Flask(__name__)
    handled: list[dict[str, Any]] = []

    @app.post("/webhook")
    @rk.verify_webhook(secret=secret, allowlist=LOOPBACK, **kwargs)
    def webhook() -> str:
        handled.append(rk.current_event())
        return "OK"

    return app, handled


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_a_real_delivery_is_accepted_and_a_redelivery_runs_the_view_once(
    host: Host, serve: Serve, redis_url: str, store: str
) -> None:
    idempotency = redis_url if store == "redis" else None
    app, handled = kit_receiver(idempotency=idempotency)
    served = serve(app)
    webhook = host.add_webhook(served.url, secret=SECRET)
    event_id = host.emit("message.received", SEED_MESSAGE)

    host.work_until_settled()
    delivery = assert_delivered(host, event_id, webhook.id)
    assert [e["id"] for e in handled] == [event_id]
    assert handled[0]["data"] == SEED_MESSAGE

    retry(host, delivery.id)
    host.work_until_settled()
    again = assert_delivered(host, event_id, webhook.id)
    assert len(again.attempts) == 2
    assert len(served.requests) == 2
    assert [e["id"] for e in handled] == [event_id], "the redelivery ran the view again"
    last = max(again.attempts, key=lambda a: a.number)
    assert "duplicate" in (last.response_excerpt or "")
    if store == "redis":
        import redis

        assert redis.Redis.from_url(redis_url).get(f"receiver_kit:event:{event_id}") == b"done"


def test_real_deliveries_verify_with_the_standard_headers_and_replays_are_refused(
    host: Host, serve: Serve
) -> None:
    app, handled = kit_receiver(require_standard=True)  # no standard headers, no entry
    served = serve(app)
    webhook = host.add_webhook(served.url, secret=SECRET)
    event_id = host.emit("message.received", SEED_MESSAGE)
    host.work_until_settled()
    assert_delivered(host, event_id, webhook.id)
    [captured] = served.requests
    body, headers = captured.body, captured.headers
    timestamp = int(headers["Webhook-Timestamp"])

    # The captured request verifies, with receiver_kit and with the reference library.
    assert rk.check_standard(body, headers, SECRET) == event_id
    as_whsec = "whsec_" + base64.b64encode(SECRET.encode()).decode()
    assert StandardWebhook(as_whsec).verify(body, headers)["id"] == event_id
    # Replayed after the tolerance it does not, though every byte is the original's.
    assert rk.verify_standard(body, headers, SECRET, now=timestamp + 300)
    assert not rk.verify_standard(body, headers, SECRET, now=timestamp + 300 + 1)
    with pytest.raises(rk.StaleTimestamp):
        rk.check_standard(body, headers, SECRET, now=timestamp + 300 + 1)
    assert not rk.verify_standard(body, headers, SECRET, now=timestamp - 300 - 1)

    # A forged timestamp with the original signature: refused, and the view never runs.
    forged = {**headers, "Webhook-Timestamp": str(int(time.time()) + 1)}
    assert not rk.verify_standard(body, forged, SECRET)
    status, answer = post(served.url, body, forged)
    assert (status, error_code(answer)) == (401, "invalid_signature")

    # Through the decorator: with a 1 s tolerance, the same request 2 s later is stale,
    # even though its X-ClawBook-Signature is still valid.
    app.config["RECEIVER_KIT_TOLERANCE"] = 1
    time.sleep(2)
    status, answer = post(served.url, body, headers)
    assert (status, error_code(answer)) == (401, "stale_timestamp")
    assert rk.verify_signature(body, headers["X-Clawbook-Signature"], SECRET)
    assert [e["id"] for e in handled] == [event_id]

    # The seed's header alone is not enough for this receiver.
    seed_only = {k: v for k, v in headers.items() if not k.lower().startswith("webhook-")}
    status, answer = post(served.url, body, seed_only)
    assert (status, error_code(answer)) == (401, "invalid_signature")


def test_a_tampered_real_delivery_is_refused(host: Host, serve: Serve) -> None:
    app, handled = kit_receiver()
    served = serve(app)
    webhook = host.add_webhook(served.url, secret=SECRET)
    event_id = host.emit("message.received", SEED_MESSAGE)
    host.work_until_settled()
    delivery = assert_delivered(host, event_id, webhook.id)
    body, headers = sent_request(host, delivery)

    tampered = body.replace(b"Hello", b"Jello")
    assert tampered != body
    status, answer = post(served.url, tampered, headers)
    assert (status, error_code(answer)) == (401, "invalid_signature")
    seed_only = {k: v for k, v in headers.items() if not k.lower().startswith("webhook-")}
    status, answer = post(served.url, tampered, seed_only)
    assert (status, error_code(answer)) == (401, "invalid_signature")
    assert len(handled) == 1


def test_during_a_rotation_the_old_secret_works_until_the_grace_ends(
    host: Host, serve: Serve
) -> None:
    old, new = SECRET, generate_secret()  # a user-chosen secret rotated to a generated one
    old_app, old_handled = kit_receiver(old)
    new_app, new_handled = kit_receiver(new)
    old_only, new_only = serve(old_app), serve(new_app)
    webhooks = {
        "old": host.add_webhook(old_only.url, secret=old),
        "new": host.add_webhook(new_only.url, secret=old),
    }
    with host.app.app_context():
        for webhook in webhooks.values():
            row = host.db.session.get(Webhook, webhook.id)
            assert row is not None
            row.rotate_secret(new, grace_seconds=3600)
        host.db.session.commit()

    during = host.emit("message.received", {"n": 1})
    host.work_until_settled()
    assert_delivered(host, during, webhooks["old"].id)
    assert_delivered(host, during, webhooks["new"].id)
    assert [e["id"] for e in old_handled] == [during] == [e["id"] for e in new_handled]
    # The receiver with the old secret accepted through the standard signature: the
    # X-ClawBook-Signature was already made with the new secret only.
    [seen] = old_only.requests
    assert not rk.verify_signature(seen.body, seen.headers["X-Clawbook-Signature"], old)
    assert len(seen.headers["Webhook-Signature"].split(" ")) == 2

    with host.app.app_context():
        for webhook in webhooks.values():
            row = host.db.session.get(Webhook, webhook.id)
            assert row is not None
            row.previous_secret_expires_at = (
                dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=1))
        host.db.session.commit()

    after = host.emit("message.received", {"n": 2})
    host.work_until_settled()
    assert_delivered(host, after, webhooks["new"].id)
    refused = delivery_of(host, after, webhooks["old"].id)
    assert (refused.status, refused.response_code) == (DeliveryStatus.FAILED, 401)
    assert "invalid_signature" in (refused.attempts[-1].response_excerpt or "")
    assert [e["id"] for e in old_handled] == [during]
    assert [e["id"] for e in new_handled] == [during, after]
