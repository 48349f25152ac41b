"""``emit(..., idempotency_key=...)``: one event per key and owner within the window,
enforced by the database even when emits race in separate transactions."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import func, select, text, update

from flask_clawhooks import idempotency
from flask_clawhooks.models import Delivery, Event, IdempotencyKey
from flask_clawhooks.timeutil import utcnow


def count(host, model) -> int:
    with host.app.app_context():
        return int(host.db.session.scalar(select(func.count()).select_from(model)))


def engine_of(host):
    with host.app.app_context():
        return host.db.engine


def emit_with_key(host, key: str, owner: str = "acme", n: int = 1, **kwargs) -> str:
    with host.app.app_context():
        event = host.clawhooks.emit("message.received", {"n": n}, owner=owner,
                                    idempotency_key=key, **kwargs)
        host.db.session.commit()
        return event.id


def test_a_second_emit_with_the_key_creates_nothing_and_returns_the_first_event(
        host, receiver):
    host.add_webhook(receiver.url)
    first = emit_with_key(host, "order-42")
    with host.app.app_context():
        again = host.clawhooks.emit("message.received", {"n": 2}, owner="acme",
                                    idempotency_key="order-42")
        host.db.session.commit()
        assert again.id == first and again.type == "message.received"
        assert b'"n":1' in again.body  # the first event, not the second's data
    assert (count(host, Event), count(host, Delivery)) == (1, 1)
    host.work_until_settled()
    assert len(receiver.requests) == 1

    assert emit_with_key(host, "order-42", owner="globex") != first  # keys are per owner
    assert emit_with_key(host, "order-43") != first
    assert count(host, Event) == 3
    with host.app.app_context():  # emits without a key are never deduplicated
        host.clawhooks.emit("message.received", {"n": 1}, owner="acme")
        host.clawhooks.emit("message.received", {"n": 1}, owner="acme")
        host.db.session.commit()
    assert count(host, Event) == 5


def test_after_the_window_the_key_makes_a_new_event_and_prune_drops_expired_keys(host):
    first = emit_with_key(host, "nightly")
    with host.app.app_context():
        host.db.session.execute(update(IdempotencyKey).values(
            expires_at=utcnow() - dt.timedelta(seconds=1)))
        host.db.session.commit()
    second = emit_with_key(host, "nightly")
    assert second != first and count(host, Event) == 2
    assert emit_with_key(host, "nightly") == second

    emit_with_key(host, "old")
    with host.app.app_context():
        host.db.session.execute(update(IdempotencyKey).where(IdempotencyKey.key == "old")
                                .values(expires_at=utcnow() - dt.timedelta(seconds=1)))
        host.db.session.commit()
    result = host.app.test_cli_runner().invoke(args=["clawhooks", "prune", "--older-than",
                                                     "30d"])
    assert result.exit_code == 0, result.output
    assert "Deleted 1 expired idempotency keys." in result.output
    with host.app.app_context():
        assert host.db.session.scalars(select(IdempotencyKey.key)).all() == ["nightly"]


@pytest.mark.clawhooks_config(CLAWHOOKS_IDEMPOTENCY_WINDOW=3600)
def test_the_window_is_the_setting_and_a_pruned_event_frees_its_key(host):
    started = utcnow()
    first = emit_with_key(host, "k")
    with host.app.app_context():
        row = host.db.session.get(IdempotencyKey, ("acme", "k"))
        assert row.event_id == first
        assert abs((row.expires_at - started).total_seconds() - 3600) < 5
        host.db.session.execute(Event.__table__.delete())  # pruned by `prune --older-than`
        host.db.session.commit()
    assert emit_with_key(host, "k") != first


def test_a_bad_key_is_refused(host):
    for key in ("", "k" * 256, 42):
        with host.app.app_context(), pytest.raises(ValueError, match="idempotency_key"):
            host.clawhooks.emit("message.received", {}, owner="acme", idempotency_key=key)


def test_a_key_with_a_nul_is_refused_with_a_clear_error_on_every_database(host):
    # PostgreSQL text cannot hold NUL: without the check this is a DataError there.
    for key in ("order\x001", "\ud800"):
        with host.app.app_context():
            with pytest.raises(ValueError, match="idempotency_key must"):
                host.clawhooks.emit("message.received", {}, owner="acme",
                                    idempotency_key=key)
            host.db.session.rollback()
    with host.app.app_context():  # nothing half-written: the session still works
        event = host.clawhooks.emit("message.received", {}, owner="acme",
                                    idempotency_key="order-1")
        host.db.session.commit()
        assert event.id.startswith("evt_")


def wait_until_blocked(engine, holder, thread: threading.Thread) -> None:
    """Wait until ``thread`` waits on the transaction of ``holder`` (a connection): on
    PostgreSQL until its backend is blocked by the holder's; on SQLite (no such view)
    that it is still waiting after half a second."""
    if engine.dialect.name == "postgresql":
        pid = holder.execute(text("SELECT pg_backend_pid()")).scalar()
        deadline = time.monotonic() + 10
        with engine.connect() as conn:
            while not conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE :pid = ANY(pg_blocking_pids(pid))"), {"pid": pid}).scalar():
                assert time.monotonic() < deadline, "the second emit never waited"
                assert thread.is_alive(), "the second emit finished without waiting"
                conn.rollback()  # pg_stat_activity is read once per transaction
                time.sleep(0.02)
    else:
        thread.join(0.5)
    assert thread.is_alive(), "the second emit did not wait for the first transaction"


@pytest.mark.parametrize("upsert", [True, False], ids=["on-conflict", "savepoint"])
@pytest.mark.parametrize("first_commits", [True, False], ids=["commit", "rollback"])
def test_racing_emits_in_two_sessions_on_two_threads_create_one_event(
        host, receiver, upsert, first_commits, monkeypatch):
    """The first emit's transaction is open when the second emit, on another thread and
    session, uses the same key: the second waits on the unique key; when the first
    commits it gets the first's event and creates nothing, when the first rolls back it
    makes its own. Either way the second's session is still usable and commits."""
    engine = engine_of(host)
    if not upsert:  # the path of databases without INSERT … ON CONFLICT
        if engine.dialect.name == "sqlite":
            pytest.skip("pysqlite ends the transaction at an outer RELEASE SAVEPOINT unless "
                        "the host sets up SQLAlchemy's SAVEPOINT recipe; SQLite uses the "
                        "upsert")
        claim = idempotency.claim
        monkeypatch.setattr(idempotency, "claim",
                            lambda *a, **k: claim(*a, **{**k, "upsert": False}))
    host.add_webhook(receiver.url)
    second: dict[str, str] = {}

    def emit_second() -> None:
        with host.app.app_context():
            event = host.clawhooks.emit("message.received", {"n": 2}, owner="acme",
                                        idempotency_key="race")
            # the transaction is not poisoned: more work, then commit
            host.clawhooks.emit("message.sent", {"n": 3}, owner="acme")
            host.db.session.commit()
            second["id"] = event.id

    with host.app.app_context():
        session = host.db.session
        first = host.clawhooks.emit("message.received", {"n": 1}, owner="acme",
                                    idempotency_key="race")
        racer = threading.Thread(target=emit_second)
        racer.start()
        try:
            wait_until_blocked(engine, session.connection(), racer)
        finally:
            session.commit() if first_commits else session.rollback()
            racer.join(30)
    assert not racer.is_alive()
    with host.app.app_context():
        events = host.db.session.scalars(select(Event).where(Event.type == "message.received")
                                         ).all()
    assert len(events) == 1
    if first_commits:
        assert second["id"] == first.id == events[0].id and b'"n":1' in events[0].body
    else:
        assert second["id"] != first.id and second["id"] == events[0].id
    assert count(host, Event) == 2  # and the second session's other event
    host.work_until_settled()
    assert len(receiver.requests) == 1


def test_many_rounds_of_two_threads_racing_on_one_key_each_create_one_event(host):
    rounds = 15
    results: list[list[str]] = [[] for _ in range(rounds)]
    errors: list[BaseException] = []

    def emit(round_: int, barrier: threading.Barrier) -> None:
        try:
            barrier.wait(10)
            results[round_].append(emit_with_key(host, f"round-{round_}", n=round_))
        except BaseException as exc:  # reported below, with the round
            errors.append(exc)

    for round_ in range(rounds):
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=emit, args=(round_, barrier)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert not errors, errors
    assert all(len(ids) == 2 and ids[0] == ids[1] for ids in results), results
    assert count(host, Event) == rounds
