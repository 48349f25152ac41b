"""Owner e-mail: rate-limited "failed" mail, and auto-disable after failures in a row."""

from __future__ import annotations

import time

import pytest

from flask_clawhooks import signals
from flask_clawhooks.models import DeliveryStatus

from ..fixtures import Reply


@pytest.fixture
def mailbox(host, smtp_server):
    box, port = smtp_server
    host.configure(mail_server="127.0.0.1", mail_port=port)
    host.emails["acme"] = "ops@acme.example"
    return box


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[])
def test_only_one_failure_email_per_webhook_per_interval(host, receiver, mailbox):
    receiver.default = Reply(500)
    webhook = host.add_webhook(receiver.url)
    for n in range(3):
        host.emit("message.received", {"n": n})
        host.work_until_settled()

    assert [d.status for d in host.deliveries()] == [DeliveryStatus.FAILED] * 3
    time.sleep(0.5)  # give the mailer thread a chance to send any extra mail
    [(recipients, message)] = mailbox.wait_for(1)
    assert recipients == ["ops@acme.example"] and webhook.id in message["Subject"]
    assert host.webhook(webhook.id).last_failure_email_at is not None


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[], CLAWHOOKS_FAILURE_EMAIL_INTERVAL=0)
def test_with_no_interval_every_exhausted_delivery_is_mailed(host, receiver, mailbox):
    receiver.default = Reply(500)
    host.add_webhook(receiver.url)
    for n in range(2):
        host.emit("message.received", {"n": n})
        host.work_until_settled()
    assert len(mailbox.wait_for(2)) == 2


@pytest.mark.clawhooks_config(CLAWHOOKS_DISABLE_AFTER_FAILURES=3)
def test_a_webhook_is_disabled_after_n_failed_deliveries_in_a_row(host, receiver, mailbox):
    disabled = []
    signals.webhook_disabled.connect(lambda app, **kw: disabled.append(kw), host.app,
                                     weak=False)
    receiver.replies = [Reply(404), Reply(404), Reply(200), Reply(404), Reply(404)]
    receiver.default = Reply(404)
    host.configure(api_prefix="/clawbook/api")  # the e-mail names the host's own API path
    webhook = host.add_webhook(receiver.url)
    for n in range(5):  # fail, fail, success (resets), fail, fail
        host.emit("message.received", {"n": n})
        host.work_until_settled()
    assert host.webhook(webhook.id).enabled is True
    assert host.webhook(webhook.id).consecutive_failures == 2

    host.emit("message.received", {"n": 5})  # the third failure in a row
    deliveries = host.work_until_settled()

    assert host.webhook(webhook.id).enabled is False
    assert [kw["delivery_id"] for kw in disabled] == [deliveries[-1].id]
    [(_, message)] = mailbox.wait_for(1)
    assert "was disabled" in message["Subject"]
    assert "3" in message.get_content() and "HTTP 404" in message.get_content()
    assert f"PATCH /clawbook/api/webhooks/{webhook.id}" in message.get_content()

    host.emit("message.received", {"n": 6})  # not sent to a disabled webhook
    host.work_until_settled()
    assert len(receiver.requests) == 6
