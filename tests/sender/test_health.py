"""The health check: a webhook that keeps failing is warned about, then switched off.

Time is shrunk by the settings: seconds instead of a day and five days. One test runs
a real worker process, whose sweeper thread runs the check, and times the e-mails at a
real SMTP server; the others run :func:`flask_clawhooks.health.check` at chosen times.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from flask_clawhooks import signals
from flask_clawhooks.embedded_redis import free_port
from flask_clawhooks.health import check
from flask_clawhooks.models import DeliveryStatus, Webhook

from ..fixtures import Reply
from ..worker_process import wait_until, worker_process


@pytest.fixture
def mailbox(host, smtp_server):
    box, port = smtp_server
    host.configure(mail_server="127.0.0.1", mail_port=port)
    host.emails["acme"] = "ops@acme.example"
    return box


def run_check(host, now: dt.datetime | None = None):
    with host.app.app_context():
        return check(host.app, now)


def first_failure(host) -> dt.datetime:
    return min(a.created_at for d in host.deliveries() for a in d.attempts
               if a.outcome in ("retry", "failed"))


def test_a_worker_warns_after_a_day_of_failures_and_disables_after_five(
        host, receiver, smtp_server, database_url, redis_url, tmp_path):
    """With a day shrunk to 1.5 s and five days to 4 s."""
    mailbox, smtp_port = smtp_server
    receiver.default = Reply(500)
    webhook = host.add_webhook(receiver.url)
    env = {
        "FLASK_CLAWHOOKS_SWEEP_INTERVAL": "0.2", "FLASK_CLAWHOOKS_HEALTH_CHECK_INTERVAL": "0.2",
        "FLASK_CLAWHOOKS_WARN_AFTER_FAILING_FOR": "1.5",
        "FLASK_CLAWHOOKS_DISABLE_AFTER_FAILING_FOR": "4.0",
        "FLASK_CLAWHOOKS_RETRY_DELAYS": json.dumps([0.2] * 60),
        "FLASK_CLAWHOOKS_MAIL_SERVER": "127.0.0.1", "FLASK_CLAWHOOKS_MAIL_PORT": str(smtp_port),
        "TEST_OWNER_EMAILS": json.dumps({"acme": "ops@acme.example"}),
    }
    with worker_process(database_url, redis_url, tmp_path / "worker.log", env=env) as worker:
        host.emit("message.received", {"n": 1})
        wait_until(lambda: len(mailbox.messages) >= 2, 30, "two e-mails", worker)
        wait_until(lambda: not any(d.status == DeliveryStatus.PENDING
                                   for d in host.deliveries()), 10, "the delivery to end",
                   worker)
    failing_since = first_failure(host)
    (_, warning), (_, disabled) = mailbox.messages[:2]
    warned_after = (mailbox.arrived[0] - failing_since).total_seconds()
    disabled_after = (mailbox.arrived[1] - failing_since).total_seconds()
    assert "has been failing for" in warning["Subject"] and webhook.id in warning["Subject"]
    assert "was disabled" in disabled["Subject"]
    # not before its time, and within a few checks (and retries) of it
    assert 1.5 <= warned_after < 1.5 + 3.0, warned_after
    assert 4.0 <= disabled_after < 4.0 + 3.0, disabled_after
    assert "every attempt has failed" in disabled.get_content()
    stored = host.webhook(webhook.id)
    assert stored.enabled is False
    assert stored.disabled_reason.startswith("every attempt has failed for 4")
    # the retry waiting when it was switched off ended as failed, without being sent
    [delivery] = host.deliveries()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error == "webhook was disabled before this delivery was sent"
    assert len(receiver.requests) == len(delivery.attempts)


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[], CLAWHOOKS_WARN_AFTER_FAILING_FOR=60,
                              CLAWHOOKS_DISABLE_AFTER_FAILING_FOR=3600)
def test_a_success_ends_the_run_of_failures_and_a_new_run_is_warned_again(
        host, receiver, mailbox):
    failing = []
    signals.webhook_failing.connect(lambda app, **kw: failing.append(kw), host.app, weak=False)
    receiver.default = Reply(404)  # failed at once, without the "used up its retries" mail
    webhook = host.add_webhook(receiver.url)
    host.emit("message.received", {"n": 1})
    host.work_until_settled()
    since = first_failure(host)

    assert run_check(host, since + dt.timedelta(seconds=59)).warned == []
    report = run_check(host, since + dt.timedelta(seconds=61))
    assert report.warned == [webhook.id] and report.failing == [webhook.id]
    assert run_check(host, since + dt.timedelta(seconds=300)).warned == []  # once a run
    [(recipients, warning)] = mailbox.wait_for(1)
    assert recipients == ["ops@acme.example"]
    assert warning["Subject"] == f"[ClawBook] Webhook {webhook.id} has been failing for 1 minute"
    assert "HTTP 404" in warning.get_content()
    assert "It will be disabled automatically at" in warning.get_content()
    assert failing == [{"webhook_id": webhook.id, "owner": "acme", "failing_since": since}]

    receiver.default = Reply(200)
    host.emit("message.received", {"n": 2})
    host.work_until_settled()
    report = run_check(host, since + dt.timedelta(hours=2))  # past the disable time
    assert report.failing == [] and report.disabled == []

    receiver.default = Reply(404)
    host.emit("message.received", {"n": 3})
    host.work_until_settled()
    again = max(a.created_at for d in host.deliveries() for a in d.attempts)
    assert run_check(host, again + dt.timedelta(seconds=61)).warned == [webhook.id]
    assert len(mailbox.wait_for(2)) == 2
    assert host.webhook(webhook.id).enabled is True


@pytest.mark.clawhooks_config(CLAWHOOKS_DISABLE_AFTER_FAILURES=3)
def test_a_webhook_is_disabled_after_n_failed_deliveries_in_a_row(host, receiver, mailbox):
    disabled = []
    signals.webhook_disabled.connect(lambda app, **kw: disabled.append(kw), host.app,
                                     weak=False)
    receiver.replies = [Reply(404), Reply(404), Reply(200), Reply(404), Reply(404)]
    receiver.default = Reply(404)
    host.configure(api_prefix="/clawbook/api")  # the e-mail names the host's own API path
    webhook = host.add_webhook(receiver.url)
    for n in range(5):  # fail, fail, success (ends the run), fail, fail
        host.emit("message.received", {"n": n})
        host.work_until_settled()
    assert run_check(host).disabled == []
    assert host.webhook(webhook.id).enabled is True

    host.emit("message.received", {"n": 5})  # the third failure in a row
    host.work_until_settled()
    assert run_check(host).disabled == [webhook.id]

    assert host.webhook(webhook.id).enabled is False
    reason = "3 deliveries in a row failed"
    assert disabled == [{"webhook_id": webhook.id, "owner": "acme", "reason": reason}]
    [(_, message)] = mailbox.wait_for(1)
    assert message["Subject"] == f"[ClawBook] Webhook {webhook.id} was disabled"
    text = message.get_content()
    assert reason in text and "HTTP 404" in text
    assert f"PATCH /clawbook/api/webhooks/{webhook.id}" in text
    assert host.webhook(webhook.id).disabled_reason == reason

    host.emit("message.received", {"n": 6})  # not sent to a disabled webhook
    host.work_until_settled()
    assert len(receiver.requests) == 6

    # switched back on by its owner: the old failures are forgiven
    with host.app.app_context():
        row = host.db.session.get(Webhook, webhook.id)
        row.enabled = True
        host.db.session.commit()
    assert run_check(host).disabled == []
    stored = host.webhook(webhook.id)
    assert stored.enabled is True and stored.disabled_reason is None
    assert stored.enabled_at is not None


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[], CLAWHOOKS_DISABLE_AFTER_FAILING_FOR=None,
                              CLAWHOOKS_WARN_AFTER_FAILING_FOR=None)
def test_auto_disable_and_the_warning_can_be_switched_off(host, receiver, mailbox):
    receiver.default = Reply(404)
    webhook = host.add_webhook(receiver.url)
    host.emit("message.received", {"n": 1})
    host.work_until_settled()
    report = run_check(host, first_failure(host) + dt.timedelta(days=30))
    assert report.failing == report.warned == report.disabled == []
    assert host.webhook(webhook.id).enabled is True
    assert mailbox.messages == []


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[], CLAWHOOKS_WARN_AFTER_FAILING_FOR=1)
def test_a_warning_that_could_not_be_mailed_is_mailed_at_the_next_check(
        host, receiver, mailbox, smtp_server):
    receiver.default = Reply(404)
    webhook = host.add_webhook(receiver.url)
    host.emit("message.received", {"n": 1})
    host.work_until_settled()
    later = first_failure(host) + dt.timedelta(seconds=2)
    host.configure(mail_port=free_port())  # nothing listens: the SMTP connection fails

    assert run_check(host, later).warned == []
    assert host.webhook(webhook.id).warned_failing_since is None

    host.configure(mail_port=smtp_server[1])
    assert run_check(host, later).warned == [webhook.id]
    assert len(mailbox.wait_for(1)) == 1
    assert host.webhook(webhook.id).warned_failing_since == first_failure(host)


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[], CLAWHOOKS_WARN_AFTER_FAILING_FOR=0)
def test_flask_clawhooks_check_health_runs_the_check_now(host, receiver, mailbox):
    receiver.default = Reply(404)
    webhook = host.add_webhook(receiver.url)
    host.emit("message.received", {"n": 1})
    host.work_until_settled()

    result = host.app.test_cli_runner().invoke(args=["clawhooks", "check-health"])

    assert result.exit_code == 0, result.output
    assert result.output == (f"1 failing webhook(s); warned: {webhook.id}; "
                             "disabled: none.\n"
                             f"  failing: {webhook.id}  acme  {receiver.url}\n")
    assert len(mailbox.wait_for(1)) == 1
