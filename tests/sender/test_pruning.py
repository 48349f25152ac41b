"""Pruning old events, expiring payloads and deleting webhooks leave no orphan rows on
any database. Events are old by their ids (which sort by creation time), so tests prune
as of a later ``now`` rather than ageing rows."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import sqlalchemy as sa

from flask_clawhooks import pruning
from flask_clawhooks.api.resources import delete_webhook
from flask_clawhooks.config import DEFAULTS, load_settings
from flask_clawhooks.durations import parse_age
from flask_clawhooks.errors import ConfigurationError
from flask_clawhooks.models import Attempt, Delivery, Event, Webhook
from flask_clawhooks.pruning import expire_payloads, prune, run_due_prune
from flask_clawhooks.timeutil import utcnow

from ..fixtures import Reply


def counts(host):
    with host.app.app_context():
        session = host.db.session
        return tuple(session.scalar(sa.select(sa.func.count()).select_from(model))
                     for model in (Event, Delivery, Attempt))


@pytest.mark.parametrize(("text", "seconds"), [("30d", 30 * 86400), ("12h", 43200),
                                               ("90m", 5400), ("2w", 1209600), ("45s", 45)])
def test_ages_are_read_with_their_units(text, seconds):
    assert parse_age(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["30", "d", "-1d", "1y", "thirty days"])
def test_a_bad_age_says_how_to_write_one(text):
    with pytest.raises(ValueError, match="such as 30d"):
        parse_age(text)


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[60])
def test_prune_removes_old_finished_events_and_keeps_pending_and_recent_ones(host, receiver):
    host.add_webhook(receiver.url)
    receiver.replies = [Reply(200), Reply(200), Reply(500)]
    for n in range(3):
        host.emit("message.received", {"n": n})
    host.work()  # two succeed; the third waits for its retry
    time.sleep(0.01)
    middle = utcnow()
    time.sleep(0.01)
    host.emit("message.received", {"n": 3})  # recent
    host.work()
    assert counts(host) == (4, 4, 4)

    with host.app.app_context():
        # 30 days from now, the first three are older than 30 days, the fourth is not
        now = middle + dt.timedelta(days=30)
        assert prune(host.db.session, dt.timedelta(days=30), now=now, batch=1) == 2

    assert counts(host) == (2, 2, 2)


def test_the_prune_command_reports_progress(host, receiver):
    host.add_webhook(receiver.url)
    for n in range(3):
        host.emit("message.received", {"n": n})
    host.work_until_settled()
    time.sleep(1.1)  # ids are made to the millisecond: the three are now over 1 s old

    runner = host.app.test_cli_runner()
    result = runner.invoke(args=["clawhooks", "prune", "--older-than", "1s"])
    assert result.exit_code == 0, result.output
    assert "Deleting 3 events older than 1s" in result.output  # the bar's total
    assert "Pruning events" in result.output  # the bar (drawn in full on a terminal)
    assert "Deleted 3 events older than 1s." in result.output
    assert counts(host) == (0, 0, 0)

    nothing = runner.invoke(args=["clawhooks", "prune"])
    assert nothing.exit_code == 2 and "--payloads-older-than" in nothing.output
    huge = runner.invoke(args=["clawhooks", "prune", "--older-than", "99999999999d"])
    assert huge.exit_code == 2 and "too long an age" in huge.output
    assert isinstance(huge.exception, SystemExit)  # a message, not a traceback

    bad = runner.invoke(args=["clawhooks", "prune", "--older-than", "soon"])
    assert bad.exit_code == 2 and "such as 30d" in bad.output


class SteppingClock:
    """What pruning sees of time: each reading is 10 ms after the last, and sleeps are
    written down instead of slept."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        self.now += 0.01
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))


@pytest.mark.parametrize(("args", "rest"), [
    ([], 0.03),  # CLAWHOOKS_PRUNE_SHARE, 0.25: 10 ms of work, 30 ms of rest
    (["--share", "0.5"], 0.01),
    (["--share", "1"], None),
])
def test_a_prune_rests_after_each_batch_so_that_it_works_only_its_share(
        host, receiver, monkeypatch, args, rest):
    host.add_webhook(receiver.url)
    for n in range(3):
        host.emit("message.received", {"n": n})
    host.work_until_settled()
    time.sleep(1.1)
    clock = SteppingClock()
    monkeypatch.setattr(pruning, "time", clock)
    monkeypatch.setattr(pruning, "PRUNE_BATCH", 1)  # three batches

    result = host.app.test_cli_runner().invoke(
        args=["clawhooks", "prune", "--older-than", "1s", *args])

    assert result.exit_code == 0, result.output
    assert counts(host) == (0, 0, 0)
    assert clock.slept == ([] if rest is None else [rest] * 3)


@pytest.mark.parametrize("share", ["0", "1.5", "-1", "all"])
def test_a_share_outside_0_to_1_is_a_usage_error(host, share):
    result = host.app.test_cli_runner().invoke(
        args=["clawhooks", "prune", "--older-than", "1d", "--share", share])
    assert result.exit_code == 2 and "--share" in result.output


@pytest.mark.parametrize("value", [0, 1.5, True, "0.25"])
def test_a_bad_prune_share_is_refused_at_start_up_saying_what_it_means(value):
    with pytest.raises(ConfigurationError, match="above 0 and at most 1 .0.25: work a quarter"):
        load_settings({**DEFAULTS, "CLAWHOOKS_PRUNE_SHARE": value})


def test_deleting_a_webhook_removes_its_deliveries_and_attempts(host, receiver_factory):
    one, two = receiver_factory(), receiver_factory()
    doomed = host.add_webhook(one.url)
    host.add_webhook(two.url)
    host.emit("message.received", {"n": 1})
    host.work_until_settled()

    with host.app.app_context():
        delete_webhook(host.db.session, host.db.session.get(Webhook, doomed.id))
        assert host.db.session.get(Webhook, doomed.id) is None

    assert counts(host) == (1, 1, 1)


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[])
def test_expired_payloads_keep_the_rows_and_a_retry_of_one_fails_without_sending(
        host, receiver):
    hook = host.add_webhook(receiver.url)
    receiver.replies = [Reply(200, body=b"thanks"), Reply(500, body=b"oops")]
    first = host.emit("message.received", {"n": 1})
    host.emit("message.received", {"n": 2})
    host.work_until_settled()
    time.sleep(0.01)
    cutoff = utcnow()
    time.sleep(0.01)
    recent = host.emit("message.received", {"n": 3})
    host.work_until_settled()

    with host.app.app_context():
        session = host.db.session
        now = cutoff + dt.timedelta(days=7)
        assert expire_payloads(session, dt.timedelta(days=7), now=now, batch=1) == 2
        assert expire_payloads(session, dt.timedelta(days=7), now=now) == 0  # stops at once
        bodies = dict(session.execute(sa.select(Event.id, Event.body)).all())
        excerpts = session.execute(sa.select(Delivery.event_id, Attempt.response_excerpt)
                                   .join(Attempt, Attempt.delivery_id == Delivery.id)).all()
    assert counts(host) == (3, 3, 3)
    assert [event_id for event_id, body in bodies.items() if body is not None] == [recent]
    assert sorted((e == recent, x) for e, x in excerpts) == [
        (False, None), (False, None), (True, "OK")]

    old = next(d for d in host.deliveries() if d.event_id == first)
    with host.app.app_context():
        host.clawhooks.retry(old.id)
    host.work_until_settled()
    again = next(d for d in host.deliveries() if d.id == old.id)
    assert again.status == "failed" and "payload expired" in (again.last_error or "")
    assert len(receiver.requests) == 3  # nothing was sent for the retry
    assert host.webhook(hook.id).enabled


def test_the_prune_command_expires_payloads_and_says_how_many(host, receiver):
    host.add_webhook(receiver.url)
    host.emit("message.received", {"n": 1})
    host.work_until_settled()
    time.sleep(1.1)

    result = host.app.test_cli_runner().invoke(
        args=["clawhooks", "prune", "--payloads-older-than", "1s"])

    assert result.exit_code == 0, result.output
    assert result.output == "Expired the payloads of 1 events older than 1s.\n"
    assert counts(host) == (1, 1, 1)


@pytest.mark.clawhooks_config(CLAWHOOKS_RETENTION="1s", CLAWHOOKS_PRUNE_INTERVAL=3600,
                              CLAWHOOKS_PRUNE_SHARE=1)
def test_workers_apply_the_retention_once_per_interval(host, receiver):
    host.add_webhook(receiver.url)
    for n in range(3):
        host.emit("message.received", {"n": n})
    host.work_until_settled()
    time.sleep(1.1)

    report = run_due_prune(host.app)  # what each worker's sweeper calls after a sweep

    assert report is not None and report.deleted == 3
    assert counts(host) == (0, 0, 0)
    host.emit("message.received", {"n": 4})
    host.work_until_settled()
    time.sleep(1.1)
    assert run_due_prune(host.app) is None  # another worker's turn was taken this hour
    assert counts(host) == (1, 1, 1)


def test_without_a_retention_workers_prune_nothing(host, receiver):
    host.add_webhook(receiver.url)
    host.emit("message.received", {"n": 1})
    host.work_until_settled()
    assert run_due_prune(host.app) is None
    assert counts(host) == (1, 1, 1)


@pytest.mark.parametrize("value", ["soon", "0s", -5, True, [30]])
def test_a_bad_retention_is_refused_at_start_up_with_the_forms_allowed(value):
    with pytest.raises(ConfigurationError, match="CLAWHOOKS_RETENTION must be None or an age"):
        load_settings({**DEFAULTS, "CLAWHOOKS_RETENTION": value})


@pytest.mark.parametrize(("value", "seconds"), [("30d", 30 * 86400), (3600, 3600.0),
                                                ("7200", 7200.0), (None, None)])
def test_a_retention_is_an_age_or_seconds(value, seconds):
    assert load_settings({**DEFAULTS, "CLAWHOOKS_RETENTION": value}).retention == seconds


@pytest.mark.clawhooks_config(CLAWHOOKS_RETENTION="1s", CLAWHOOKS_PRUNE_SHARE=1)
def test_a_prune_over_its_budget_gives_its_turn_back_to_the_next_sweep(
        host, receiver, monkeypatch):
    host.add_webhook(receiver.url)
    host.emit("message.received", {"n": 1})
    host.work_until_settled()
    time.sleep(1.1)
    monkeypatch.setattr(pruning, "PRUNE_BUDGET", 0.0)  # spent after the first batch

    first = run_due_prune(host.app)
    again = run_due_prune(host.app)  # at once: the turn was given back

    assert first is not None and first.unfinished and first.deleted == 1
    assert again is not None and again.deleted == 0
