"""``flask clawhooks export``: the delivery log as JSON lines, one event a line, by time."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from flask_clawhooks.pruning import expire_payloads
from flask_clawhooks.timeutil import utcnow

from ..fixtures import Reply


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[0])
def test_export_writes_each_event_with_its_deliveries_and_attempts_in_the_range(
        host, receiver, tmp_path):
    hook = host.add_webhook(receiver.url)
    receiver.replies = [Reply(500), Reply(200)]
    first = host.emit("message.received", {"n": 0})
    host.work_until_settled()
    time.sleep(0.01)
    middle = utcnow()
    time.sleep(0.01)
    later = [host.emit("message.received", {"n": n}) for n in (1, 2)]
    host.work_until_settled()
    runner = host.app.test_cli_runner()

    everything = runner.invoke(args=["clawhooks", "export"])
    assert everything.exit_code == 0, everything.output
    lines = [json.loads(line) for line in everything.output.splitlines()]
    assert [line["id"] for line in lines] == [first, *later]
    one = lines[0]
    assert one["payload"]["data"] == {"n": 0} and one["owner"] == "acme"
    [delivery] = one["deliveries"]
    assert delivery["webhook_id"] == hook.id and delivery["status"] == "success"
    assert [(a["number"], a["outcome"], a["response_code"]) for a in delivery["attempts"]] == [
        (1, "retry", 500), (2, "success", 200)]

    out = tmp_path / "log.jsonl"
    result = runner.invoke(args=["clawhooks", "export", "--since", middle.isoformat() + "Z",
                                 "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert f"Exported 2 events to {out}." in result.output
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == later
    before = runner.invoke(args=["clawhooks", "export", "--until", middle.isoformat() + "Z"])
    assert [json.loads(line)["id"] for line in before.output.splitlines()] == [first]


def test_an_expired_payload_is_exported_as_null(host, receiver):
    host.add_webhook(receiver.url)
    event_id = host.emit("message.received", {"n": 1})
    host.work_until_settled()
    with host.app.app_context():
        expire_payloads(host.db.session, dt.timedelta(days=1),
                        now=utcnow() + dt.timedelta(days=2))
    result = host.app.test_cli_runner().invoke(args=["clawhooks", "export"])
    [line] = [json.loads(line) for line in result.output.splitlines()]
    assert line["id"] == event_id and line["payload"] is None
    assert line["deliveries"][0]["attempts"][0]["response_excerpt"] is None


def test_export_refuses_a_range_that_ends_before_it_starts(host):
    result = host.app.test_cli_runner().invoke(
        args=["clawhooks", "export", "--since", "2026-01-02", "--until", "2026-01-01"])
    assert result.exit_code == 2 and "must be later than --since" in result.output
