"""Claiming and recording in the database: workers that share a webhook do not wait for
each other's row locks, statements find rows by primary key, and emit() gives its
deliveries public, time-sortable ids."""

from __future__ import annotations

import datetime as dt
import json
import re
import time

import pytest
import sqlalchemy as sa

from flask_clawhooks import jsontext, ledger, metrics
from flask_clawhooks.ids import new_id
from flask_clawhooks.models import Delivery
from flask_clawhooks.state import get_state
from flask_clawhooks.timeutil import utcnow
from flask_clawhooks.transport import HttpResult

from ..fixtures import make_host


@pytest.fixture
def pg_host(postgres_schema_url, redis_url, redis_conn, tmp_path):
    host = make_host(postgres_schema_url, redis_url, str(tmp_path / "instance"))
    yield host
    with host.app.app_context():
        get_state(host.app).close_dispatcher()
        from flask_clawhooks.models import Base

        Base.metadata.drop_all(host.db.engine)
        host.db.engine.dispose()


def _emit(host, count: int) -> list[str]:
    with host.app.app_context():
        for n in range(count):
            host.clawhooks.emit("message.received", {"n": n}, owner="acme")
        host.db.session.commit()
        return list(host.db.session.scalars(sa.select(Delivery.id).order_by(Delivery.id)))


def _ok(works) -> list[ledger.Outcome]:
    now = utcnow()
    return [ledger.Outcome(w, HttpResult(200, 3, None, {}, "OK", False, now), now, now)
            for w in works]


def test_a_claim_skips_deliveries_another_transaction_holds_instead_of_waiting(pg_host):
    pg_host.add_webhook("https://hooks.example/in")
    ids = _emit(pg_host, 4)
    settings = get_state(pg_host.app).settings
    with pg_host.app.app_context():
        engine = pg_host.db.engine
    with engine.connect() as other:  # another worker, mid-transaction
        other.execute(sa.text("SELECT id FROM clawhooks_delivery WHERE id = :id FOR UPDATE"),
                      {"id": ids[0]})
        with pg_host.app.app_context():
            session = pg_host.db.session
            session.execute(sa.text("SET lock_timeout = '2s'"))
            started = time.monotonic()
            works, _ = ledger.claim(session, ids, settings)
            assert time.monotonic() - started < 1.5
        other.rollback()
    assert sorted(w.delivery_id for w in works) == ids[1:]


def test_recording_successes_leaves_the_webhook_row_alone(pg_host):
    # Another transaction holds the webhook's row; recording must not need it, or every
    # worker delivering to that webhook would queue behind the others' records.
    webhook = pg_host.add_webhook("https://hooks.example/in")
    ids = _emit(pg_host, 3)
    settings = get_state(pg_host.app).settings
    with pg_host.app.app_context():
        works, _ = ledger.claim(pg_host.db.session, ids, settings)
        engine = pg_host.db.engine
    with engine.connect() as other:
        other.execute(sa.text("SELECT id FROM clawhooks_webhook WHERE id = :id FOR UPDATE"),
                      {"id": webhook.id})
        with pg_host.app.app_context():
            session = pg_host.db.session
            session.execute(sa.text("SET lock_timeout = '2s'"))
            ledger.record(session, _ok(works), settings)  # raises if it waits for the lock
        other.rollback()
    assert {d.status for d in pg_host.deliveries()} == {"success"}


def test_claims_and_records_find_deliveries_by_primary_key_in_a_large_table(host):
    webhook = host.add_webhook("https://hooks.example/in")
    with host.app.app_context():
        conn = host.db.session.connection()
        now = utcnow()
        params = {"token": "t", "now": now, "until": now + dt.timedelta(minutes=1)}
        if conn.dialect.name == "sqlite":
            plan = "\n".join(row[3] for row in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + ledger._LEASE_SQLITE,
                {**{k: str(v) for k, v in params.items()}, "ids": "[]"}))
            assert "ix_clawhooks_delivery_pending_due" not in plan, plan
            assert re.search(r"SEARCH clawhooks_delivery USING INDEX \w+_1 \(id=\?\)", plan)
            for write in ledger._RECORD_SQLITE:
                plan = "\n".join(row[3] for row in conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + write, dict.fromkeys(re.findall(r":(\w+)", write))))
                assert re.search(r"SEARCH clawhooks_\w+ USING INDEX \w+_1 \(id=\?\)", plan), plan
            return
        # 20 000 pending deliveries: a plan that scans them would cost every claim dearly.
        conn.execute(sa.text(
            "INSERT INTO clawhooks_event (id, owner, type, created_at, body) "
            "SELECT 'evt_' || g, 'acme', 'message.received', now(), '' "
            "FROM generate_series(1, 20000) AS g"))
        conn.execute(sa.text(
            "INSERT INTO clawhooks_delivery (id, event_id, webhook_id, event_type, status, "
            "attempt_count, next_attempt_at, created_at, updated_at) "
            "SELECT 'del_' || g, 'evt_' || g, :webhook, 'message.received', 'pending', 0, "
            ":due, :due, :due FROM generate_series(1, 20000) AS g"),
            {"webhook": webhook.id, "due": now - dt.timedelta(minutes=1)})
        conn.execute(sa.text("ANALYZE"))
        ids = [f"del_{n}" for n in range(1, 501)]  # a full round
        rows = json.dumps([{"id": i, "lease_token": "t", "attempt_id": "att_" + i[4:]}
                           for i in ids])
        claim, record = (
            _plan(conn, ledger._CLAIM_POSTGRES, {**params, "ids": ids}),
            _plan(conn, ledger._RECORD_POSTGRES,
                  {"rows": rows, "rollups": "[]", "succeeded": [webhook.id]}),
        )
        host.db.session.rollback()
    # The leases find their rows by address, the records by primary key; neither walks
    # the pending deliveries (the due index) nor reads the whole table.
    assert "ix_clawhooks_delivery_pending_due" not in claim + record, claim + record
    assert "Tid Scan on clawhooks_delivery" in claim, claim
    assert "Index Scan using pk_clawhooks_delivery" in record, record
    assert "Seq Scan on clawhooks_delivery" not in record, record


def test_the_sweeper_and_the_queue_gauges_read_only_the_pending_deliveries(host):
    # 20 000 deliveries, one in a hundred pending: the due index holds the backlog only.
    webhook = host.add_webhook("https://hooks.example/in")
    with host.app.app_context():
        conn = host.db.session.connection()
        postgresql = conn.dialect.name == "postgresql"
        numbers = ("generate_series(1, 20000) AS g(n)" if postgresql else
                   "(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s "
                   "WHERE n < 20000) SELECT n FROM s) AS g")
        key = "lpad(n::text, 6, '0')" if postgresql else "printf('%06d', n)"
        conn.execute(sa.text(
            f"INSERT INTO clawhooks_event (id, owner, type, created_at, body) "
            f"SELECT 'evt_' || {key}, 'acme', 'message.received', :due, '' FROM {numbers}"),
            {"due": utcnow()})
        conn.execute(sa.text(
            f"INSERT INTO clawhooks_delivery (id, event_id, webhook_id, event_type, status, "
            f"attempt_count, next_attempt_at, created_at, updated_at) "
            f"SELECT 'del_' || {key}, 'evt_' || {key}, :webhook, 'message.received', "
            f"CASE WHEN n % 100 = 0 THEN 'pending' ELSE 'success' END, 1, :due, :due, :due "
            f"FROM {numbers}"), {"webhook": webhook.id, "due": utcnow() - dt.timedelta(hours=1)})
        conn.execute(sa.text("ANALYZE"))
        host.db.session.commit()
    run: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        if "clawhooks_delivery" in statement and statement.lstrip().startswith("SELECT"):
            run.append((statement, parameters))

    with host.app.app_context():
        engine = host.db.engine
        sa.event.listen(engine, "before_cursor_execute", capture)
        try:
            due = ledger.due(host.db.session, utcnow(), 0, 500)
            expired = ledger.interrupt_expired(host.db.session, utcnow())
            count, _age = metrics.queue_lag(host.app)
        finally:
            sa.event.remove(engine, "before_cursor_execute", capture)
        with engine.connect() as conn:
            plans = ["\n".join(str(row[0] if postgresql else row[3]) for row in
                                conn.exec_driver_sql(("EXPLAIN " if postgresql else
                                                      "EXPLAIN QUERY PLAN ") + statement,
                                                     parameters))
                     for statement, parameters in run]
    assert (len(due), expired, count) == (200, [], 200)
    assert len(plans) == 4, run  # due, expired, the gauge's count and its oldest
    for plan in plans:
        assert "ix_clawhooks_delivery_pending_due" in plan, plan
        assert "Seq Scan on clawhooks_delivery" not in plan, plan
        assert not re.search(r"SCAN clawhooks_delivery$", plan, re.M), plan


def _plan(conn, statement: str, values) -> str:
    """EXPLAIN of one of the worker's statements, which go to psycopg as they are."""
    return "\n".join(conn.exec_driver_sql("EXPLAIN " + statement, values).scalars())


def test_ids_made_in_one_millisecond_still_sort_in_the_order_they_were_made():
    made = [new_id("evt") for _ in range(2000)]  # many share a millisecond

    assert made == sorted(made) and len(set(made)) == len(made)


def test_emit_gives_its_deliveries_public_ids_that_sort_in_emit_order(host):
    # On PostgreSQL the database makes them (emit() is one statement there).
    host.add_webhook("https://a.example/in")
    host.add_webhook("https://b.example/in")
    host.add_webhook("https://c.example/in", events=["message.sent"])
    with host.app.app_context():
        per_emit = []
        for n in range(5):  # within a few milliseconds
            event = host.clawhooks.emit("message.received", {"n": n}, owner="acme")
            per_emit.append((event.id, sorted(host.db.session.scalars(
                sa.select(Delivery.id).where(Delivery.event_id == event.id)))))
        host.db.session.commit()

    for event_id, delivery_ids in per_emit:
        assert len(delivery_ids) == 2
        for delivery_id in delivery_ids:
            assert re.fullmatch(r"del_[0-9abcdefghjkmnpqrstvwxyz]{26}", delivery_id)
            assert delivery_id[4:] > event_id[4:]  # made just after the event
    in_order = [i for _, ids in per_emit for i in ids]
    assert in_order == sorted(in_order)
    events = [event_id for event_id, _ in per_emit]
    assert events == sorted(events)


def test_an_event_nobody_subscribes_to_is_stored_with_no_delivery(host):
    host.add_webhook("https://a.example/in", events=["message.sent"])
    event_id = host.emit("message.received", {"n": 1})

    assert host.deliveries() == []
    with host.app.app_context():
        from flask_clawhooks.models import Event

        assert host.db.session.get(Event, event_id) is not None


def test_sqlite_databases_are_put_in_wal_mode_unless_told_not_to(tmp_path, redis_url):
    on = make_host(f"sqlite:///{tmp_path / 'on.sqlite'}", redis_url, str(tmp_path / "a"))
    off = make_host(f"sqlite:///{tmp_path / 'off.sqlite'}", redis_url, str(tmp_path / "b"),
                    CLAWHOOKS_SQLITE_WAL=False)
    try:
        for host, mode in ((on, "wal"), (off, "delete")):
            with host.app.app_context():
                assert host.db.session.execute(
                    sa.text("PRAGMA journal_mode")).scalar() == mode
    finally:
        for host in (on, off):
            with host.app.app_context():
                host.db.engine.dispose()


def test_a_recorded_answer_in_any_script_reads_back_as_the_receiver_sent_it(host):
    # The batch rows are JSON written by orjson, which writes UTF-8 where the standard
    # library wrote \u escapes: both databases must store what the receiver sent.
    host.add_webhook("https://hooks.example/in")
    ids = _emit(host, 2)
    settings = get_state(host.app).settings
    headers = {"X-Note": "café – ☕", "Content-Type": "text/plain; charset=utf-8"}
    with host.app.app_context():
        works, _ = ledger.claim(host.db.session, ids, settings)
        now = utcnow()
        ledger.record(host.db.session, [
            ledger.Outcome(w, HttpResult(200, 3, None, headers, "naïve ✓ 完了", False, now),
                           now, now) for w in works], settings)
        stored = host.db.session.execute(sa.text(
            "SELECT response_headers, response_excerpt, request_headers "
            "FROM clawhooks_attempt")).all()
    assert len(stored) == 2
    for response_headers, excerpt, request_headers in stored:
        if isinstance(response_headers, str):  # SQLite: the text stored
            response_headers, request_headers = (json.loads(response_headers),
                                                 json.loads(request_headers))
        assert response_headers == headers
        assert excerpt == "naïve ✓ 完了"
        assert request_headers["X-ClawBook-Event"] == "message.received"


def test_json_that_orjson_refuses_is_written_by_the_standard_library():
    for value in ({"error": "half a pair: \udcff"}, [2**70, 1]):
        assert json.loads(jsontext.dumps(value)) == value
    assert jsontext.dumps({"a": [1, None, "é"]}) == '{"a":[1,null,"é"]}'
