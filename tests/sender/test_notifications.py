"""Owner e-mail when a delivery uses up its retries: at most one per webhook per interval.

The warning and "disabled" e-mails of the health check are in ``test_health.py``."""

from __future__ import annotations

import time

import pytest
from flask import url_for

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
    # the mail names the failed delivery's own page in the dashboard
    first = host.deliveries()[0]
    page = f"/settings/api/webhooks/{webhook.id}/deliveries/{first.id}"
    assert page in message.get_content()
    with host.app.test_request_context():
        assert url_for("clawhooks_dashboard.delivery", webhook_id=webhook.id,
                       delivery_id=first.id) == page


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[], CLAWHOOKS_FAILURE_EMAIL_INTERVAL=0)
def test_with_no_interval_every_exhausted_delivery_is_mailed(host, receiver, mailbox):
    receiver.default = Reply(500)
    host.add_webhook(receiver.url)
    for n in range(2):
        host.emit("message.received", {"n": n})
        host.work_until_settled()
    assert len(mailbox.wait_for(2)) == 2
