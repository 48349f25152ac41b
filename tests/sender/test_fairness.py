"""One receiver that times out does not hold up deliveries to the others."""

from __future__ import annotations

import pytest

from flask_clawhooks.models import DeliveryStatus

from ..fixtures import Reply


@pytest.mark.clawhooks_config(CLAWHOOKS_TIMEOUT=1.0, CLAWHOOKS_RETRY_DELAYS=[],
                              CLAWHOOKS_CONCURRENCY=8)
def test_a_timing_out_receiver_gets_few_senders_while_a_healthy_one_flows(
    host, receiver_factory
):
    slow, fast = receiver_factory(), receiver_factory()
    slow.default = Reply(200, delay=3.0)  # always past the 1 s timeout
    slow_hook = host.add_webhook(slow.url)
    fast_hook = host.add_webhook(fast.url)
    with host.app.app_context():
        for n in range(40):
            host.clawhooks.emit("message.received", {"n": n}, owner="acme")
        host.db.session.commit()

    deliveries = host.work_until_settled(timeout=120)

    fast_done = [d for d in deliveries if d.webhook_id == fast_hook.id]
    slow_done = [d for d in deliveries if d.webhook_id == slow_hook.id]
    assert {d.status for d in fast_done} == {DeliveryStatus.SUCCESS} and len(fast_done) == 40
    assert {d.status for d in slow_done} == {DeliveryStatus.FAILED} and len(slow_done) == 40
    assert all(d.attempts[0].error.startswith("timeout") for d in slow_done)
    assert all(len(d.attempts) == 1 for d in slow_done)  # deferring used no attempt

    # When the healthy receiver had everything, the dead one had seen only about the
    # first round (8 senders) plus one at a time since: it was held back, not served
    # in turn with the healthy one (which would make it about 40).
    last_fast = fast.requests[-1].at
    slow_by_then = sum(1 for r in slow.requests if r.at <= last_fast)
    assert slow_by_then <= 16, slow_by_then
