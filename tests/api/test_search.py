"""``GET /deliveries``: search the delivery log across an owner's webhooks, with real
deliveries to real receivers, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest

from flask_clawhooks import search
from flask_clawhooks.timeutil import utcnow

from ..fixtures import Reply

pytestmark = pytest.mark.clawhooks_config(CLAWHOOKS_RETRY_DELAYS=[])  # fail at once


@pytest.fixture
def logs(host, acme, globex, receiver_factory):
    """acme's webhooks ok (200), gone (404) and broken (500), all on message.received,
    plus ok on message.sent; globex has one too. Two events, a time mark between them."""
    ok, missing, broken, theirs = (receiver_factory() for _ in range(4))
    missing.default, broken.default = Reply(404), Reply(500)
    hooks = {
        "ok": acme.create_webhook(ok.url, ["message.received", "message.sent"])["id"],
        "missing": acme.create_webhook(missing.url)["id"],
        "broken": acme.create_webhook(broken.url)["id"],
    }
    globex.create_webhook(theirs.url)
    first = host.emit("message.received", {"n": 1})
    host.emit("message.received", {"n": 1}, owner="globex")
    time.sleep(0.005)
    mark = utcnow().isoformat(timespec="microseconds") + "Z"
    time.sleep(0.005)
    second = host.emit("message.sent", {"n": 2})
    host.work_until_settled()
    return hooks, first, second, mark


def found(client, query: str) -> list[dict]:
    response = client.get(f"/deliveries?{query}")
    assert response.status_code == 200, response.json
    return response.json["data"]


def test_search_finds_an_events_deliveries_by_id_across_webhooks(acme, globex, logs):
    hooks, first, second, _ = logs
    deliveries = found(acme, f"event_id={first}")
    assert sorted(d["webhook_id"] for d in deliveries) == sorted(
        [hooks["ok"], hooks["missing"], hooks["broken"]])
    assert {d["event_id"] for d in deliveries} == {first}
    assert {d["status"] for d in deliveries} == {"success", "failed"}
    assert [d["id"] for d in deliveries] == sorted((d["id"] for d in deliveries),
                                                   reverse=True)
    assert [d["webhook_id"] for d in found(acme, f"event_id={second}")] == [hooks["ok"]]
    # another owner's search never shows acme's deliveries
    assert found(globex, f"event_id={first}") == []
    assert len(found(globex, "")) == 1


def test_search_filters_by_status_code_class_type_time_and_webhook(acme, logs):
    hooks, first, second, mark = logs
    assert {d["webhook_id"] for d in found(acme, "status=failed")} == {
        hooks["missing"], hooks["broken"]}
    assert [d["webhook_id"] for d in found(acme, "response_code=404")] == [hooks["missing"]]
    assert [d["webhook_id"] for d in found(acme, "response_code=5xx")] == [hooks["broken"]]
    assert {d["event_id"] for d in found(acme, "response_code=2xx")} == {first, second}
    assert found(acme, "response_code=3xx") == []
    assert [d["event_id"] for d in found(acme, "event_type=message.sent")] == [second]
    assert [d["event_id"] for d in found(acme, f"since={mark}")] == [second]
    assert {d["event_id"] for d in found(acme, f"until={mark}")} == {first}
    assert len(found(acme, f"webhook_id={hooks['ok']}")) == 2
    assert [d["webhook_id"] for d in found(
        acme, f"status=success&event_type=message.received&until={mark}")] == [hooks["ok"]]


def test_search_pages_with_a_cursor_and_an_owner_with_many_webhooks_gets_the_same(
        acme, logs, monkeypatch):
    def walk() -> list[str]:
        seen, after = [], None
        while True:
            page = acme.get("/deliveries?limit=1" + (f"&after={after}" if after else "")).json
            seen += [d["id"] for d in page["data"]]
            if not page["has_more"]:
                return seen
            after = page["next_cursor"]

    merged = walk()  # one query per webhook, merged
    assert len(merged) == 4 == len(set(merged)) and merged == sorted(merged, reverse=True)
    monkeypatch.setattr(search, "UNION_MAX", 1)  # one IN query over all of them
    assert walk() == merged


@pytest.mark.parametrize(("query", "message"), [
    ("event_id=evt_nope", "event_id: must be an event id"),
    ("webhook_id=12", "webhook_id: must be a webhook id"),
    ("response_code=600", "response_code: must be an HTTP status code"),
    ("response_code=4XX", "response_code: must be an HTTP status code"),
    ("status=lost", "status: must be one of"),
    ("since=yesterday", "since: must be a date-time"),
    ("since=9999999d", "since: must be a date-time"),
    ("until=0001-01-01T00:00:00%2B01:00", "until: "),
    ("since=2026-01-30T14:30:00Z&until=2026-01-30T14:30:00Z", "until: must be later"),
    ("limit=0", "limit: must be a whole number"),
    ("owner=globex", "unknown query parameter"),
])
def test_bad_search_parameters_are_422_with_a_message(acme, query, message):
    response = acme.get(f"/deliveries?{query}")
    assert response.status_code == 422
    assert message in response.json["error"]["message"]
