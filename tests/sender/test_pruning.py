"""Pruning old events, and deleting webhooks, leave no orphan rows on any database."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from flask_clawhooks.api.resources import delete_webhook
from flask_clawhooks.models import Attempt, Delivery, Event, Webhook
from flask_clawhooks.pruning import parse_age, prune

from ..fixtures import Reply


def counts(host):
    with host.app.app_context():
        session = host.db.session
        return tuple(session.scalar(sa.select(sa.func.count()).select_from(model))
                     for model in (Event, Delivery, Attempt))


def age_events(host, days: int) -> None:
    with host.app.app_context():
        host.db.session.execute(sa.update(Event).values(
            created_at=Event.created_at - dt.timedelta(days=days)))
        host.db.session.commit()


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
    age_events(host, 40)
    host.emit("message.received", {"n": 3})  # recent
    host.work()
    assert counts(host) == (4, 4, 4)

    with host.app.app_context():
        assert prune(host.db.session, dt.timedelta(days=30)) == 2

    assert counts(host) == (2, 2, 2)


def test_the_prune_command_reports_progress(host, receiver):
    host.add_webhook(receiver.url)
    for n in range(3):
        host.emit("message.received", {"n": n})
    host.work_until_settled()
    age_events(host, 31)

    runner = host.app.test_cli_runner()
    result = runner.invoke(args=["clawhooks", "prune", "--older-than", "30d"])
    assert result.exit_code == 0, result.output
    assert "Deleting 3 events older than 30d." in result.output
    assert "Deleted 3 events" in result.output
    assert counts(host) == (0, 0, 0)

    bad = runner.invoke(args=["clawhooks", "prune", "--older-than", "soon"])
    assert bad.exit_code == 2 and "such as 30d" in bad.output
    huge = runner.invoke(args=["clawhooks", "prune", "--older-than", "99999999999d"])
    assert huge.exit_code == 2 and "too long an age" in huge.output
    assert isinstance(huge.exception, SystemExit)  # a message, not a traceback


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
