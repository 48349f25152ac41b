"""``flask clawhooks api-key|webhooks|test|deliveries|retry`` with the app's CLI runner."""

from __future__ import annotations

import re

import pytest

from ..fixtures import Reply
from .conftest import ApiClient


@pytest.fixture
def run(host):
    runner = host.app.test_cli_runner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(args=["clawhooks", *args], input=input)

    return invoke


def test_api_key_create_prints_a_working_key_once_and_quiet_prints_only_it(host, run):
    result = run("api-key", "create", "--owner", "acme", "--name", "ci")
    assert result.exit_code == 0, result.output
    key_id = re.search(r"key_[0-9a-z]{26}", result.output).group()
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("cbk_")
    assert ApiClient(host, "acme", token, key_id).get("/webhooks").status_code == 200

    quiet = run("api-key", "create", "--owner", "acme", "--quiet")
    assert quiet.exit_code == 0 and re.fullmatch(r"cbk_[\w-]+\n", quiet.output)

    listed = run("api-key", "list", "--owner", "acme")
    assert key_id in listed.output and "name=ci" in listed.output
    assert token not in listed.output and token[:12] in listed.output
    assert run("api-key", "list", "--owner", "globex").output.strip() == "No API keys."


def test_api_key_revoke_makes_the_key_401(host, run, acme):
    result = run("api-key", "revoke", acme.key_id)
    assert result.exit_code == 0 and "Revoked" in result.output
    assert acme.get("/webhooks").status_code == 401
    assert "revoked" in run("api-key", "list").output


@pytest.mark.parametrize(("args", "message"), [
    (("api-key", "revoke", "key_01jkq8m3z5v6w7x8y9a0b1c2d3"), "No API key"),
    (("api-key", "revoke", "nonsense"), "Invalid value for KEY_ID"),
    (("api-key", "create", "--owner", ""), "Invalid value for --owner"),
    (("api-key", "create"), "Missing option '--owner'"),
])
def test_api_key_mistakes_exit_non_zero_with_a_message(run, args, message):
    result = run(*args)
    assert result.exit_code != 0
    assert message in result.output


def test_webhooks_create_list_delete(host, run, receiver):
    created = run("webhooks", "create", "--owner", "acme", "--url", receiver.url,
                  "--event", "message.received", "--event", "message.sent",
                  "--secret", "your-webhook-secret")
    assert created.exit_code == 0, created.output
    webhook_id = re.search(r"wh_[0-9a-z]{26}", created.output).group()
    assert "your-webhook-secret" in created.output
    stored = host.webhook(webhook_id)
    assert stored.owner == "acme" and stored.events == ["message.received", "message.sent"]

    listed = run("webhooks", "list", "--owner", "acme")
    assert webhook_id in listed.output and receiver.url in listed.output
    assert "your-webhook-secret" not in listed.output
    assert run("webhooks", "list", "--owner", "globex").output.strip() == "No webhooks."

    kept = run("webhooks", "delete", webhook_id, input="n\n")
    assert kept.exit_code == 1 and "Aborted" in kept.output
    assert host.webhook(webhook_id).url == receiver.url
    assert run("webhooks", "delete", webhook_id, "--yes").exit_code == 0
    again = run("webhooks", "delete", webhook_id, "--yes")
    assert again.exit_code == 1 and f"No webhook '{webhook_id}'" in again.output


@pytest.mark.parametrize(("args", "message"), [
    (("--url", "ftp://x.example", "--event", "message.sent"), "Invalid value for --url"),
    (("--url", "https://x.example", "--event", "message.recieved"),
     "Invalid value for --event: unknown event type 'message.recieved'"),
    (("--url", "https://x.example", "--event", "message.sent", "--secret", "short"),
     "Invalid value for --secret"),
    (("--url", "https://x.example",), "Missing option '--event'"),
    (("--url", "https://x.example", "--event", "message.sent", "--max-per-second", "0"),
     "Invalid value for --max-per-second: must be from 0.01 to 10000 requests a second"),
    (("--url", "https://x.example", "--event", "message.sent", "--max-in-flight", "0"),
     "Invalid value for --max-in-flight: must be from 1 to 1000 requests"),
    (("--url", "https://x.example", "--event", "message.sent", "--ordering", "lifo"),
     "Invalid value for '--ordering'"),
])
def test_webhooks_create_uses_the_apis_checks(run, args, message):
    result = run("webhooks", "create", "--owner", "acme", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_webhooks_create_sets_delivery_control(host, run):
    created = run("webhooks", "create", "--owner", "acme", "--url", "https://x.example",
                  "--event", "message.sent", "--ordering", "fifo", "--max-per-second", "2.5",
                  "--max-in-flight", "4")
    assert created.exit_code == 0, created.output
    assert "Delivery control: ordering fifo, max per second 2.5, max in flight 4" \
        in created.output
    stored = host.webhook(re.search(r"wh_[0-9a-z]{26}", created.output).group())
    assert (stored.ordering, stored.max_per_second, stored.max_in_flight) == ("fifo", 2.5, 4)


def test_test_sends_now_and_exits_1_when_the_receiver_fails(host, run, receiver):
    webhook = host.add_webhook(receiver.url)
    ok = run("test", webhook.id)
    assert ok.exit_code == 0, ok.output
    assert "success, HTTP 200" in ok.output
    assert receiver.requests[-1].headers["X-ClawBook-Event"] == "webhook.test"

    receiver.default = Reply(404, b"no")
    failed = run("test", webhook.id)
    assert failed.exit_code == 1 and "HTTP 404" in failed.output


def test_deliveries_lists_the_log_and_retry_sends_again(host, run, receiver):
    receiver.replies = [Reply(404, b"no")]
    webhook = host.add_webhook(receiver.url)
    host.emit("message.received", {"n": 1})
    host.emit("message.received", {"n": 2})
    deliveries = host.work_until_settled()
    failed = next(d for d in deliveries if d.status == "failed")

    log = run("deliveries", webhook.id)
    assert log.exit_code == 0
    assert all(d.id in log.output for d in deliveries)
    only_failed = run("deliveries", webhook.id, "--status", "failed")
    assert failed.id in only_failed.output and only_failed.output.count("del_") == 1
    assert run("deliveries", webhook.id, "--status", "lost").exit_code == 2

    retried = run("retry", failed.id)
    assert retried.exit_code == 0, retried.output
    host.work_until_settled()
    assert [a.outcome for a in next(d for d in host.deliveries() if d.id == failed.id)
            .attempts] == ["failed", "success"]


def test_unknown_ids_are_clear_errors(run):
    for args in (("test", "wh_nope"), ("deliveries", "wh_nope"), ("retry", "del_nope")):
        result = run(*args)
        assert result.exit_code == 1 and "No " in result.output, (args, result.output)


def test_every_new_command_has_help(run):
    for args in (("api-key",), ("api-key", "create"), ("api-key", "list"),
                 ("api-key", "revoke"), ("webhooks",), ("webhooks", "create"),
                 ("webhooks", "list"), ("webhooks", "delete"), ("test",), ("deliveries",),
                 ("retry",)):
        result = run(*args, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output, args
