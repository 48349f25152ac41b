"""``GET /deliveries``: search the delivery log across an owner's webhooks, with real
deliveries to real receivers, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa

from flask_clawhooks import search
from flask_clawhooks.models import Delivery
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


# -- the log's indexes -----------------------------------------------------------------

LOG_SIZE = 20_000


def _fill_log(conn, webhook_id: str, other_id: str) -> None:
    """LOG_SIZE deliveries, one in a hundred of them ``webhook_id``'s (the rest another
    webhook's). In each hundred: one in ten pending (half of those answered with a 500,
    waiting for a retry), the rest succeeded or failed, two event types."""
    postgresql = conn.dialect.name == "postgresql"
    numbers = ("generate_series(1, :n) AS g(n)" if postgresql else
               "(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s "
               "WHERE n < :n) SELECT n FROM s) AS g")
    key = "lpad(n::text, 6, '0')" if postgresql else "printf('%06d', n)"
    now = "now()" if postgresql else "CURRENT_TIMESTAMP"
    conn.execute(sa.text(
        f"INSERT INTO clawhooks_event (id, owner, type, created_at, body) "
        f"SELECT 'evt_' || {key}, 'acme', 'message.received', {now}, '' FROM {numbers}"),
        {"n": LOG_SIZE})
    conn.execute(sa.text(
        f"INSERT INTO clawhooks_delivery (id, event_id, webhook_id, event_type, status, "
        f"attempt_count, next_attempt_at, response_code, created_at, updated_at) "
        f"SELECT 'del_' || {key}, 'evt_' || {key}, "
        f"CASE WHEN n % 100 = 0 THEN :webhook ELSE :other END, "
        f"CASE WHEN m % 3 = 0 THEN 'message.sent' ELSE 'message.received' END, "
        f"CASE WHEN m % 10 = 0 THEN 'pending' WHEN m % 7 = 0 THEN 'failed' "
        f"ELSE 'success' END, 1, {now}, "
        f"CASE WHEN m % 20 = 0 THEN NULL WHEN m % 10 = 0 OR m % 7 = 0 THEN 500 "
        f"ELSE 200 END, {now}, {now} FROM (SELECT n, n / 100 AS m FROM {numbers}) AS nm"),
        {"n": LOG_SIZE, "webhook": webhook_id, "other": other_id})
    conn.execute(sa.text("ANALYZE"))


@pytest.mark.parametrize(("query", "indexes"), [
    (search.DeliveryQuery(), {"webhook_pending", "webhook_finished"}),
    (search.DeliveryQuery(event_type="message.sent"),
     {"webhook_pending", "webhook_finished_type"}),
    (search.DeliveryQuery(status="pending"), {"webhook_pending"}),
    (search.DeliveryQuery(status="failed"), {"webhook_status"}),
    (search.DeliveryQuery(response_class=5), {"webhook_class"}),
    (search.DeliveryQuery(response_code=500), {"webhook_class"}),
    (search.DeliveryQuery(event_id="evt_007000"), {"event_webhook"}),
], ids=["all", "type", "pending", "failed", "5xx", "500", "event"])
def test_each_part_of_a_page_reads_one_webhooks_index_in_a_large_log(host, query, indexes):
    webhook = host.add_webhook("https://hooks.example/in")
    other = host.add_webhook("https://hooks.example/other")
    with host.app.app_context():
        session = host.db.session
        conn = session.connection()
        _fill_log(conn, webhook.id, other.id)
        run: list[tuple[str, object]] = []

        def capture(_conn, _cursor, statement, parameters, _context, _many):
            run.append((statement, parameters))

        sa.event.listen(conn, "before_cursor_execute", capture)
        try:
            newest, more = search.page_ids(session, [webhook.id], query, 10)
            older, _ = search.page_ids(session, [webhook.id], query, 10, below=newest[-1])
            newer, _ = search.page_ids(session, [webhook.id], query, 10,
                                       above=older[0] if older else "del_")
        finally:
            sa.event.remove(conn, "before_cursor_execute", capture)
        postgresql = conn.dialect.name == "postgresql"
        plans = ["\n".join(
            str(row[0] if postgresql else row[3]) for row in conn.exec_driver_sql(
                "EXPLAIN " + ("" if postgresql else "QUERY PLAN ") + statement, parameters))
            for statement, parameters in run]
        session.rollback()
    if query.event_id:
        assert (newest, more, older, newer) == (["del_007000"], False, [], ["del_007000"])
    else:
        assert len(newest) == 10 and more and newer == newest[::-1]
        assert newest == sorted(newest, reverse=True) and older[0] < newest[-1]
    for plan in plans:
        # No plan reads the whole table, or sorts more than the parts' few rows.
        assert "Seq Scan on clawhooks_delivery" not in plan, plan
        assert not re.search(r"SCAN clawhooks_delivery$", plan, re.M), plan
        # (SQLite names the unique constraint's index itself.)
        plan = plan.replace("sqlite_autoindex_clawhooks_delivery_2", "uq_clawhooks_delivery_"
                            "event_webhook")
        used = set(re.findall(r"(?:ix|uq)_clawhooks_delivery_(\w+)", plan))
        assert used == indexes, plan


def test_a_webhooks_log_pages_through_pending_and_finished_deliveries_in_order(
        host, acme, receiver):
    hook = acme.create_webhook(receiver.url)["id"]
    for n in range(6):
        host.emit("message.received", {"n": n})
    host.work_until_settled()
    host.emit("message.received", {"n": 6})  # pending: no worker ran since
    with host.app.app_context():  # the second and fifth back to pending (a retry)
        ids = sorted(host.db.session.scalars(sa.select(Delivery.id)))
        host.db.session.execute(sa.update(Delivery).where(Delivery.id.in_(ids[1:5:3]))
                                .values(status="pending", response_code=500))
        host.db.session.commit()
    newest_first = ids[::-1]

    seen, after = [], None
    while True:
        page = acme.get(f"/webhooks/{hook}/deliveries?limit=2"
                        + (f"&after={after}" if after else "")).json
        seen += [d["id"] for d in page["data"]]
        if not page["has_more"]:
            break
        after = page["next_cursor"]
    assert seen == newest_first
    assert [d["id"] for d in acme.get(f"/webhooks/{hook}").json["recent_deliveries"]
            ] == newest_first
    pending = acme.get(f"/webhooks/{hook}/deliveries?status=pending").json["data"]
    assert [d["id"] for d in pending] == [ids[6], ids[4], ids[1]]
