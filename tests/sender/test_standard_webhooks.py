"""Standard Webhooks headers beside the seed's, checked with the reference library."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from flask_clawhooks.models import Webhook
from flask_clawhooks.signing import generate_secret, standard_key


def verify(secret: str, request) -> dict:
    # Exactly as the standardwebhooks README shows: Webhook(secret).verify(payload, headers)
    wh = StandardWebhook(secret)
    return wh.verify(request.body, request.headers)


def test_a_generated_secret_verifies_with_the_reference_library(host, receiver):
    secret = generate_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24
    host.add_webhook(receiver.url, secret=secret)
    event_id = host.emit("message.received", {"content": "hi"})
    host.work_until_settled()

    [request] = receiver.requests
    assert request.headers["webhook-id"] == event_id
    assert abs(int(request.headers["webhook-timestamp"]) - dt.datetime.now().timestamp()) < 60
    assert verify(secret, request)["id"] == event_id
    with pytest.raises(WebhookVerificationError):
        verify(generate_secret(), request)


def test_a_user_chosen_secret_verifies_as_whsec_of_its_base64(host, receiver):
    host.add_webhook(receiver.url, secret="your-webhook-secret")
    host.emit("message.received", {"content": "hi"})
    host.work_until_settled()

    as_standard = "whsec_" + base64.b64encode(b"your-webhook-secret").decode()
    assert standard_key("your-webhook-secret") == b"your-webhook-secret"
    assert json.loads(receiver.requests[0].body) == verify(as_standard, receiver.requests[0])


def test_during_a_rotation_both_secrets_sign_and_after_the_grace_only_the_new(host, receiver):
    old, new = generate_secret(), generate_secret()
    webhook = host.add_webhook(receiver.url, secret=old)
    with host.app.app_context():
        row = host.db.session.get(Webhook, webhook.id)
        row.rotate_secret(new, grace_seconds=3600)
        host.db.session.commit()
    host.emit("message.received", {"n": 1})
    host.work_until_settled()

    during = receiver.requests[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert verify(old, during) and verify(new, during)

    with host.app.app_context():
        row = host.db.session.get(Webhook, webhook.id)
        row.previous_secret_expires_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        host.db.session.commit()
    host.emit("message.received", {"n": 2})
    host.work_until_settled()

    after = receiver.requests[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert verify(new, after)
    with pytest.raises(WebhookVerificationError):
        verify(old, after)
