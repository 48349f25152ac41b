"""The seed's retry policy: 1 min, 5 min, 30 min, 2 h, 12 h, then failed and e-mailed."""

from __future__ import annotations

import datetime as dt

import pytest
from rq.registry import ScheduledJobRegistry

from flask_clawhooks import signals
from flask_clawhooks.config import DEFAULTS
from flask_clawhooks.models import DeliveryStatus, WebhookStatus
from flask_clawhooks.outcome import retry_delay
from flask_clawhooks.state import get_state

from ..fixtures import WITH_PARTITIONED, Reply

SEED_SCHEDULE = (60, 300, 1800, 7200, 43200)


def scheduled_times(host):
    state = get_state(host.app)
    registry = ScheduledJobRegistry(queue=state.queue)
    return [registry.get_scheduled_time(job_id).replace(tzinfo=None)
            for job_id in registry.get_job_ids()]


def attempt_end(attempt):
    return attempt.created_at + dt.timedelta(milliseconds=attempt.response_time_ms)


def test_the_default_schedule_is_the_seeds():
    assert tuple(DEFAULTS["CLAWHOOKS_RETRY_DELAYS"]) == SEED_SCHEDULE
    assert [retry_delay(SEED_SCHEDULE, n) for n in range(1, 7)] == [
        60, 300, 1800, 7200, 43200, None]


@pytest.mark.parametrize("database_url", WITH_PARTITIONED, indirect=True)
def test_a_500_schedules_the_first_retry_one_minute_later_by_default(host, receiver):
    receiver.default = Reply(500)
    host.add_webhook(receiver.url)
    host.emit("message.received", {"n": 1})
    host.work()

    [delivery] = host.deliveries()
    [attempt] = delivery.attempts
    assert attempt.outcome == "retry" and delivery.status == DeliveryStatus.PENDING
    wait = (delivery.next_attempt_at - attempt_end(attempt)).total_seconds()
    assert wait == pytest.approx(60, abs=0.05)
    [when] = scheduled_times(host)
    assert 0 <= (when - delivery.next_attempt_at).total_seconds() <= 1


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[1, 2, 1, 3, 2])
def test_500_is_retried_on_the_configured_schedule_then_fails_emails_and_signals(
    host, receiver, smtp_server
):
    mailbox, port = smtp_server
    host.configure(mail_server="127.0.0.1", mail_port=port)
    host.emails["acme"] = "ops@acme.example"
    receiver.default = Reply(500, b"boom")
    fired = {"delivery_failed": [], "webhook_failed": []}
    for name in fired:
        getattr(signals, name).connect(
            lambda app, name=name, **kw: fired[name].append(kw), host.app, weak=False)
    webhook = host.add_webhook(receiver.url)
    host.emit("message.received", {"n": 1})

    observed_waits = []
    for number in range(1, 7):
        host.work()
        [delivery] = host.deliveries()
        assert len(delivery.attempts) == number
        last = delivery.attempts[-1]
        if number < 6:
            assert last.outcome == "retry"
            observed_waits.append((delivery.next_attempt_at - attempt_end(last)).total_seconds())
            # the newest scheduled job is this retry's (an older one may still wait to be
            # moved by the scheduler while the sweeper already sent its delivery)
            when = max(scheduled_times(host))
            assert 0 <= (when - delivery.next_attempt_at).total_seconds() <= 1
            sleep_for = (when - dt.datetime.now(dt.UTC).replace(tzinfo=None)).total_seconds()
            import time

            time.sleep(max(0.0, sleep_for) + 0.1)

    assert observed_waits == pytest.approx([1, 2, 1, 3, 2], abs=0.05)
    assert len(receiver.requests) == 6
    assert delivery.status == DeliveryStatus.FAILED
    assert [a.outcome for a in delivery.attempts] == ["retry"] * 5 + ["failed"]
    assert host.webhook(webhook.id).status == WebhookStatus.FAILED
    assert fired["webhook_failed"] == [
        {"webhook_id": webhook.id, "owner": "acme", "delivery_id": delivery.id}]
    assert [kw["delivery_id"] for kw in fired["delivery_failed"]] == [delivery.id]

    [(recipients, message)] = mailbox.wait_for(1)
    assert recipients == ["ops@acme.example"]
    assert webhook.id in message["Subject"]
    body = message.get_content()
    assert delivery.id in body and "HTTP 500" in body and receiver.url in body
    assert "your-webhook-secret" not in body


@pytest.mark.parametrize("database_url", WITH_PARTITIONED, indirect=True)
@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[1])
def test_a_later_success_makes_a_failed_webhook_active_again(host, receiver):
    receiver.replies = [Reply(500), Reply(500)]
    recovered = []
    signals.webhook_recovered.connect(lambda app, **kw: recovered.append(kw), host.app,
                                      weak=False)
    webhook = host.add_webhook(receiver.url)
    host.emit("message.received", {"n": 1})
    host.work_until_settled()
    assert host.webhook(webhook.id).status == WebhookStatus.FAILED

    host.emit("message.received", {"n": 2})
    deliveries = host.work_until_settled()

    assert [d.status for d in deliveries] == [DeliveryStatus.FAILED, DeliveryStatus.SUCCESS]
    assert host.webhook(webhook.id).status == WebhookStatus.ACTIVE
    assert recovered == [{"webhook_id": webhook.id}]


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[1, 1])
def test_retry_after_on_429_is_honoured_when_longer_than_the_schedule(host, receiver):
    receiver.replies = [Reply(429, headers={"Retry-After": "3"})]
    host.add_webhook(receiver.url)
    host.emit("message.received", {"n": 1})
    host.work()

    [delivery] = host.deliveries()
    wait = (delivery.next_attempt_at - attempt_end(delivery.attempts[0])).total_seconds()
    assert wait == pytest.approx(3, abs=0.05)
