"""``flask clawhooks recover WEBHOOK_ID --since … [--until …] [--all]``."""

from __future__ import annotations

import json
import time

import pytest

from flask_clawhooks import recovery
from flask_clawhooks.timeutil import utcnow

from ..fixtures import Reply

pytestmark = pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[])  # fail at once


@pytest.fixture
def run(host):
    runner = host.app.test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(args=["clawhooks", *args])

    return invoke


@pytest.fixture
def failed(host, receiver):
    """A webhook whose receiver was down for five events; it is back up now."""
    hook = host.add_webhook(receiver.url)
    receiver.default = Reply(503)
    for n in range(5):
        host.emit("message.received", {"n": n})
    host.work_until_settled()
    receiver.default = Reply(200)
    receiver.requests.clear()
    return hook.id


@pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[], CLAWHOOKS_RECOVER_LIMIT=2)
def test_recover_sends_the_range_again_with_a_progress_bar_beyond_one_batch(
        host, run, receiver, failed, monkeypatch):
    monkeypatch.setattr(recovery, "BATCH", 2)  # five deliveries: three batches
    result = run("recover", failed, "--since", "1h")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Re-queuing 5 failed deliveries made since ")
    assert "Re-queuing" in lines[1]  # the progress bar (no CLAWHOOKS_RECOVER_LIMIT here)
    assert lines[-1] == f"Re-queued 5 failed deliveries of {failed}; workers send them " \
                        "oldest first."
    host.work_until_settled()
    assert sorted(json.loads(r.body)["data"]["n"] for r in receiver.requests) == [
        0, 1, 2, 3, 4]
    assert all(d.attempt_count == 2 and d.status == "success" for d in host.deliveries())

    again = run("recover", failed, "--since", "1h")
    assert again.exit_code == 0
    assert again.output.startswith("No failed deliveries made since ")
    assert "nothing to recover" in again.output
    assert run("recover", failed, "--since", "1h", "--all").output.splitlines()[-1] == (
        f"Re-queued 5 deliveries of {failed}; workers send them oldest first.")


def test_recover_takes_until_and_iso_times(host, run, receiver, failed):
    until = utcnow().isoformat() + "Z"
    time.sleep(0.005)
    host.emit("message.received", {"n": 99})
    receiver.default = Reply(500)
    host.work_until_settled()
    receiver.default = Reply(200)
    result = run("recover", failed, "--since", "2000-01-01 00:00", "--until", until)
    assert result.exit_code == 0, result.output
    assert "Re-queued 5 failed deliveries" in result.output  # not the one after until


@pytest.mark.parametrize(("args", "message"), [
    (("--since", "soon"), "Invalid value for --since: 'soon' is not a time"),
    (("--since", "2h", "--until", "3h"), "Invalid value for --until: until must be later"),
    ((), "Missing option '--since'"),
    (("--since", "99999999999d"), "Invalid value for --since: '99999999999d' is too long "
                                  "an age; the longest is 365000d"),
    (("--since", "0001-01-01T00:00:00+01:00"), "Invalid value for --since: "
                                               "'0001-01-01T00:00:00+01:00' is out of range"),
])
def test_recover_mistakes_exit_non_zero_with_a_message(run, failed, args, message):
    result = run("recover", failed, *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_recover_of_an_unknown_or_disabled_webhook_is_refused(host, run, failed):
    unknown = run("recover", "wh_01jkq8m3z5v6w7x8y9a0b1c2d3", "--since", "1h")
    assert unknown.exit_code == 1 and "No webhook" in unknown.output
    with host.app.app_context():
        from flask_clawhooks.models import Webhook

        host.db.session.get(Webhook, failed).enabled = False
        host.db.session.commit()
    disabled = run("recover", failed, "--since", "1h")
    assert disabled.exit_code == 1 and "is disabled" in disabled.output
