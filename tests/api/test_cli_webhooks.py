"""``flask clawhooks webhooks update|disable|enable|rotate-secret``, ``--version``, one
duration syntax, paging ``deliveries``, and a Redis that does not answer."""

from __future__ import annotations

import re

import pytest

from flask_clawhooks.version import __version__

from ..fixtures import make_host


@pytest.fixture
def run(host):
    runner = host.app.test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(args=["clawhooks", *args])

    return invoke


def test_update_disable_enable_and_rotate_secret_change_the_webhook(host, run, receiver):
    webhook = host.add_webhook(receiver.url)
    updated = run("webhooks", "update", webhook.id, "--url", receiver.url + "/v2",
                  "--event", "message.sent", "--description", "v2")
    assert updated.exit_code == 0, updated.output
    stored = host.webhook(webhook.id)
    assert (stored.url, stored.events, stored.description) == (
        receiver.url + "/v2", ["message.sent"], "v2")
    refused = run("webhooks", "update", webhook.id, "--url", "ftp://x.example")
    assert refused.exit_code == 2 and "Invalid value for --url" in refused.output
    assert run("webhooks", "update", webhook.id).exit_code == 2  # nothing to change

    assert run("webhooks", "disable", webhook.id).exit_code == 0
    assert host.webhook(webhook.id).enabled is False
    assert run("webhooks", "enable", webhook.id).exit_code == 0
    assert host.webhook(webhook.id).enabled is True

    rotated = run("webhooks", "rotate-secret", webhook.id)
    assert rotated.exit_code == 0, rotated.output
    secret = rotated.output.strip().splitlines()[-1]
    assert secret.startswith("whsec_") and host.webhook(webhook.id).secret == secret
    assert run("webhooks", "disable", "wh_nope").exit_code == 1


def test_update_sets_and_lifts_delivery_control(host, run, receiver):
    webhook = host.add_webhook(receiver.url)
    done = run("webhooks", "update", webhook.id, "--ordering", "fifo",
               "--max-per-second", "2.5", "--max-in-flight", "3")
    assert done.exit_code == 0, done.output
    assert "Delivery control: ordering fifo, max per second 2.5, max in flight 3" in done.output
    stored = host.webhook(webhook.id)
    assert (stored.ordering, stored.max_per_second, stored.max_in_flight) == ("fifo", 2.5, 3)

    lifted = run("webhooks", "update", webhook.id, "--ordering", "none",
                 "--max-per-second", "none", "--max-in-flight", "none")
    assert lifted.exit_code == 0, lifted.output
    stored = host.webhook(webhook.id)
    assert (stored.ordering, stored.max_per_second, stored.max_in_flight) == (
        "none", None, None)

    for option, bad in (("--max-in-flight", "2.5"), ("--max-in-flight", "0"),
                        ("--max-per-second", "fast")):
        refused = run("webhooks", "update", webhook.id, option, bad)
        assert refused.exit_code == 2, (option, bad, refused.output)
        assert f"Invalid value for {option}" in refused.output, refused.output


def test_version_and_one_duration_syntax(host, run):
    version = run("--version")
    assert version.exit_code == 0 and __version__ in version.output
    for grace in ("30s", "2m", "30"):  # plain seconds were documented: still accepted
        swept = run("sweep", "--grace", grace)
        assert swept.exit_code == 0, (grace, swept.output)
    bad = run("sweep", "--grace", "soon")
    assert bad.exit_code == 2 and "45s, 90m, 12h, 30d, 2w" in bad.output


def test_deliveries_pages_with_after(host, run, receiver):
    webhook = host.add_webhook(receiver.url)
    for n in range(3):
        host.emit("message.received", {"n": n})
    ids = sorted((d.id for d in host.deliveries()), reverse=True)
    first = run("deliveries", webhook.id, "--limit", "2")
    assert first.exit_code == 0, first.output
    assert [i for i in ids if i in first.output] == ids[:2]
    more = first.output.strip().splitlines()[-1]
    assert more == f"More: flask clawhooks deliveries {webhook.id} --limit 2 --after {ids[1]}"
    second = run("deliveries", webhook.id, "--limit", "2", "--after", ids[1])
    assert [i for i in ids if i in second.output] == ids[2:]
    assert "More:" not in second.output


def test_a_redis_that_does_not_answer_is_one_line_and_status_1(
        database_url, redis_url, tmp_path, receiver):
    down = make_host(database_url, "redis://127.0.0.1:9/0", str(tmp_path / "instance"),
                     CLAWHOOKS_REDIS_REQUEST_TIMEOUT=0.5)
    try:
        down.add_webhook(receiver.url)
        runner = down.app.test_cli_runner()
        emitted = runner.invoke(args=["clawhooks", "emit", "message.received", "{}",
                                      "--owner", "acme"])
        assert emitted.exit_code == 1, emitted.output
        assert "Traceback" not in emitted.output
        [line] = emitted.output.strip().splitlines()
        assert re.match(r"Error: evt_\w+ is stored for 1 webhook\(s\) but not queued: "
                        r"Redis at redis://127.0.0.1:9/0 is unreachable", line), line
        swept = runner.invoke(args=["clawhooks", "sweep"])
        assert swept.exit_code == 1 and "Traceback" not in swept.output
        assert swept.output.startswith("Error: Redis at redis://127.0.0.1:9/0 is unreachable")
    finally:
        with down.app.app_context():
            from flask_clawhooks.models import Base

            Base.metadata.drop_all(down.db.engine)
            down.db.engine.dispose()

