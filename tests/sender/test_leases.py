"""Leases: a delivery whose worker died is taken over only after the sweeper closed the
dead worker's attempt, so no attempt is left "sending" for ever."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from flask_clawhooks import ledger
from flask_clawhooks.models import Delivery, DeliveryStatus
from flask_clawhooks.state import get_state
from flask_clawhooks.timeutil import utcnow

from ..fixtures import WITH_PARTITIONED


@pytest.mark.parametrize("database_url", WITH_PARTITIONED, indirect=True)
def test_an_expired_lease_is_taken_over_only_after_the_sweeper_closed_its_attempt(
    host, receiver
):
    host.add_webhook(receiver.url)
    host.emit("message.received", {"n": 1})
    state = get_state(host.app)
    with host.app.app_context():
        session = host.db.session
        [delivery_id] = session.scalars(sa.select(Delivery.id)).all()
        # A worker claims it, then dies before sending: its lease runs out.
        works, _ = ledger.claim(session, [delivery_id], state.settings)
        assert [w.delivery_id for w in works] == [delivery_id]
        session.execute(sa.update(Delivery).values(
            lease_until=utcnow() - dt.timedelta(seconds=1)))
        session.commit()
        # The id is still queued somewhere (a duplicate job, a sweep): another worker
        # takes it. It must not take the delivery over while the dead attempt is open.
        again, _ = ledger.claim(session, [delivery_id], state.settings)
        assert again == []

    [delivery] = host.work_until_settled()  # sweeps: closes the attempt, then resends

    assert delivery.status == DeliveryStatus.SUCCESS
    assert [a.outcome for a in delivery.attempts] == ["interrupted", "success"]
    assert len(receiver.requests) == 1
