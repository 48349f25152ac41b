"""The attempt log partitioned by time on PostgreSQL (``flask clawhooks partition``):
enabling keeps every row, partitions always exist ahead, retention drops whole
partitions and leaves the roll-ups right, revisions still apply, SQLite says no.

The delivery tests that also run on a partitioned install are marked with
``tests.fixtures.WITH_PARTITIONED`` (tests/sender)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from flask_clawhooks import partitions, rollups
from flask_clawhooks.ids import first_id_at
from flask_clawhooks.migrations import schema
from flask_clawhooks.models import (
    Base,
    DeliveryStatus,
    attempt_table,
    delivery_table,
    event_table,
    rollup_table,
)
from flask_clawhooks.state import get_state
from flask_clawhooks.timeutil import utcnow

from ..fixtures import Host, make_host
from ..upgrade.databases import drop_ours, load_0_1_0
from ..upgrade.test_agreement import MetaData_with_changes


@pytest.fixture
def pg(postgres_schema_url: str, redis_url: str, redis_conn: Any,
       tmp_path: Any) -> Iterator[Host]:
    host = make_host(postgres_schema_url, redis_url, str(tmp_path / "instance"))
    yield host
    with host.app.app_context():
        get_state(host.app).close_dispatcher()
        host.db.engine.dispose()
    drop_ours(postgres_schema_url)  # partitions and detached ones included


def engine_of(host: Host) -> sa.Engine:
    with host.app.app_context():
        return host.db.engine


def cli(host: Host, *args: str) -> Any:
    return host.app.test_cli_runner().invoke(args=["clawhooks", *args])


def id_at(prefix: str, moment: dt.datetime, n: int) -> str:
    """An id as :func:`flask_clawhooks.ids.new_id` would have made it at ``moment``."""
    return first_id_at(prefix, moment)[:-16] + f"{n:016d}"


def fill(host: Host, webhook_id: str, moments: list[dt.datetime],
         status: str = DeliveryStatus.SUCCESS,
         later: dt.timedelta = dt.timedelta(0)) -> list[str]:
    """One event, delivery and successful attempt made at each of ``moments`` (the
    attempt ``later`` than the event: a retry); returns the attempts' ids."""
    made = []
    with engine_of(host).begin() as conn:
        for n, moment in enumerate(moments):
            event, delivery = id_at("evt", moment, n), id_at("del", moment, n)
            moment += later  # the attempt's, and the delivery's last update
            attempt = id_at("att", moment, n)
            conn.execute(sa.insert(event_table).values(
                id=event, owner="acme", type="message.received", created_at=moment,
                body=b"{}"))
            conn.execute(sa.insert(delivery_table).values(
                id=delivery, event_id=event, webhook_id=webhook_id,
                event_type="message.received", status=status, attempt_count=1,
                created_at=moment, updated_at=moment))
            conn.execute(sa.insert(attempt_table).values(
                id=attempt, delivery_id=delivery, webhook_id=webhook_id, number=1,
                outcome="success", response_code=200, response_time_ms=5 + n,
                request_headers={}, created_at=moment))
            made.append(attempt)
    return made


def attempt_rows(host: Host) -> list[Any]:
    with engine_of(host).connect() as conn:
        return list(conn.execute(sa.select(attempt_table).order_by(attempt_table.c.id)))


def found(host: Host) -> list[partitions.Partition]:
    with engine_of(host).connect() as conn:
        return partitions.partitions(conn)


def assert_contiguous_and_ahead(parts: list[partitions.Partition], step: dt.timedelta,
                                now: dt.datetime, history: bool = True) -> None:
    assert (parts[0].start is None) is history  # the history partition: all older
    for before, after in zip(parts, parts[1:], strict=False):
        assert after.start == before.end and after.end - after.start == step, parts
    assert parts[-1].end >= now + partitions.AHEAD


def test_enable_keeps_every_row_and_id_and_makes_partitions_ahead(pg):
    now = utcnow()
    hook = pg.add_webhook("https://hooks.example/in")
    fill(pg, hook.id, [now - dt.timedelta(days=d) for d in (40, 3, 1, 0.01)])
    before = attempt_rows(pg)

    result = cli(pg, "partition", "enable", "--interval", "day")

    assert result.exit_code == 0, result.output
    assert "Partitioned clawhooks_attempt by day:" in result.output
    assert attempt_rows(pg) == before and len(before) == 4
    parts = found(pg)
    assert parts[0].name == partitions.HISTORY and parts[0].rows == 4
    assert_contiguous_and_ahead(parts, dt.timedelta(days=1), now)
    with engine_of(pg).connect() as conn:
        assert partitions.is_partitioned(conn)
        assert schema.differences(conn, Base.metadata) == []  # the known variant
        assert sa.inspect(conn).get_foreign_keys("clawhooks_attempt") == []
        assert sa.inspect(conn).get_foreign_keys(partitions.HISTORY) == []
        # A model change is still named on a partitioned install.
        assert "add_column: clawhooks_webhook.rate_per_minute" in schema.differences(
            conn, MetaData_with_changes())
    assert cli(pg, "db", "check").exit_code == 0

    again = cli(pg, "partition", "enable")
    status = cli(pg, "partition", "status")

    assert again.exit_code == 1 and "is partitioned already" in again.output
    assert status.exit_code == 0
    lines = status.output.splitlines()
    assert lines[0].startswith("clawhooks_attempt is partitioned by day: "
                               f"{len(parts)} partitions, ahead until ")
    assert len(lines) == 1 + len(parts) and "(oldest)" in lines[1] and "~4 rows" in lines[1]


def test_a_worker_creates_the_partitions_ahead_before_it_claims(pg, receiver):
    # Enabled as on this week's Monday at 0:00: the history partition up to the next
    # Monday, and only the week after it (at least one is always made), well short of
    # the partitions a worker makes ahead, at any hour of the week this runs.
    monday = partitions.interval_start(utcnow(), partitions.INTERVALS["week"])
    partitions.enable(engine_of(pg), "week", now=monday, ahead=dt.timedelta(days=1))
    newest = found(pg)[-1]
    assert newest.end == monday + dt.timedelta(days=14)
    assert newest.end < utcnow() + partitions.AHEAD
    with engine_of(pg).begin() as conn:  # autovacuum's settings go on partitions
        conn.exec_driver_sql(f"ALTER TABLE {newest.name} SET "
                             "(autovacuum_vacuum_scale_factor = 0.01)")
    pg.add_webhook(receiver.url)
    pg.emit("message.received", {"n": 1})

    [delivery] = pg.work_until_settled()

    assert delivery.status == DeliveryStatus.SUCCESS and len(receiver.requests) == 1
    assert_contiguous_and_ahead(found(pg), dt.timedelta(days=7), utcnow())
    with engine_of(pg).connect() as conn:  # the new partitions copied them
        assert conn.scalar(sa.text("SELECT reloptions FROM pg_class WHERE relname = :n"),
                           {"n": found(pg)[-1].name}) == ["autovacuum_vacuum_scale_factor=0.01"]
    assert cli(pg, "partition", "create-ahead").output == (
        "Created 0 partitions; none was missing.\n")


def test_prune_drops_old_partitions_deletes_the_rest_and_rollups_agree_with_a_recount(pg):
    now = utcnow()
    engine = engine_of(pg)
    partitions.enable(engine, "day", now=now - dt.timedelta(days=10))
    assert partitions.create_ahead(engine, now)  # the days since: as a worker would
    hook = pg.add_webhook("https://hooks.example/in")
    old = fill(pg, hook.id, [now - dt.timedelta(days=d) for d in (12, 8, 6.5)])
    [pending] = fill(pg, hook.id, [now - dt.timedelta(days=7.5)],
                     status=DeliveryStatus.PENDING)
    kept = fill(pg, hook.id, [now - dt.timedelta(days=d) for d in (4.5, 2, 0.01)])
    # An old event whose attempt came later, after the cutoff: deleted with it.
    late_at = now - dt.timedelta(days=4.8)
    late = fill(pg, hook.id, [now - dt.timedelta(days=6)], later=dt.timedelta(days=1.2))
    with engine.begin() as conn:
        rollups.rebuild(conn)
    counted = rollup_rows(engine)
    assert len(counted) == 8  # an hour each
    cutoff = now - dt.timedelta(days=5)
    expected = [p.name for p in found(pg) if p.end <= cutoff]
    # The history partition ends at least an hour after enable's time, at the start of
    # the next day but one when that was after 23:00: one partition fewer is old enough.
    assert partitions.HISTORY in expected and len(expected) >= 4

    result = cli(pg, "prune", "--older-than", "5d")

    assert result.exit_code == 0, result.output
    assert f"Dropped {len(expected)} attempt partitions older than 5d: " \
           f"{', '.join(expected)}." in result.output
    assert "Deleted 4 events older than 5d." in result.output
    assert [row.id for row in attempt_rows(pg)] == kept
    assert not set(old + [pending] + late) & {row.id for row in attempt_rows(pg)}
    with engine.connect() as conn:  # the pending delivery keeps its event, not attempts
        assert conn.scalar(sa.select(sa.func.count()).select_from(event_table)) == 4
        assert conn.scalar(sa.select(delivery_table.c.status).where(
            delivery_table.c.status == DeliveryStatus.PENDING)) == DeliveryStatus.PENDING
    parts = found(pg)
    assert parts[0].start is not None and parts[0].start > cutoff - dt.timedelta(days=1)
    assert not {p.name for p in parts} & set(expected)
    # The roll-ups of pruned hours stay; those of hours whose attempts are all still
    # there (after the late one's) agree with a recount of them.
    assert rollup_rows(engine) == counted
    with engine.begin() as conn:
        rollups.rebuild(conn, since=rollups.hour_of(late_at) + dt.timedelta(hours=1))
    assert rollup_rows(engine) == counted


def rollup_rows(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(rollup_table).order_by(
            rollup_table.c.webhook_id, rollup_table.c.hour)))


def test_a_detach_interrupted_is_finished_by_the_next_prune(pg, monkeypatch):
    now = utcnow()
    engine = engine_of(pg)
    partitions.enable(engine, "day", now=now - dt.timedelta(days=3))
    hook = pg.add_webhook("https://hooks.example/in")
    fill(pg, hook.id, [now - dt.timedelta(days=2.5)])
    monkeypatch.setattr(partitions, "LOCK_TIMEOUT", "200ms")
    with engine.connect() as reader:  # a long transaction that read the attempts
        reader.execute(sa.select(sa.func.count()).select_from(attempt_table))
        with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
            partitions.drop_older(engine, now - dt.timedelta(days=1))
        assert found(pg)[0].detaching
        reader.rollback()

    dropped = partitions.drop_older(engine, now - dt.timedelta(days=1))

    assert partitions.HISTORY in dropped and not any(p.detaching for p in found(pg))
    assert attempt_rows(pg) == []


def test_partitions_need_postgresql(tmp_path, redis_url, redis_conn):
    host = make_host(f"sqlite:///{tmp_path / 'clawbook.sqlite'}", redis_url,
                     str(tmp_path / "instance"))

    for command in ("enable", "status", "create-ahead"):
        result = cli(host, "partition", command)
        assert result.exit_code == 1
        assert result.output == "Error: Partitions need PostgreSQL; this database is sqlite.\n"


def test_later_revisions_apply_to_a_partitioned_install(postgres_schema_url):
    drop_ours(postgres_schema_url)
    load_0_1_0(postgres_schema_url)  # with its rows
    engine = sa.create_engine(postgres_schema_url)
    try:
        schema.upgrade(engine, "0003", say=lambda _: None)
        with engine.connect() as conn:
            before = list(conn.execute(sa.text("SELECT * FROM clawhooks_attempt ORDER BY id")))
        partitions.enable(engine, "week")

        start, now = schema.upgrade(engine, say=lambda _: None)  # 0004 indexes attempts

        assert (start, now) == ("0003", schema.head())
        with engine.connect() as conn:
            assert partitions.is_partitioned(conn)
            assert schema.differences(conn, Base.metadata) == []
            assert list(conn.execute(sa.text(
                "SELECT id, delivery_id, number, outcome, response_code, created_at "
                "FROM clawhooks_attempt ORDER BY id"))) == [
                (r.id, r.delivery_id, r.number, r.outcome, r.response_code, r.created_at)
                for r in before] and before
            assert conn.scalar(sa.text(
                "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = "
                "to_regclass('ix_clawhooks_attempt_webhook_time')"))
        assert schema.status(engine).state is schema.SchemaState.CURRENT
    finally:
        engine.dispose()
        drop_ours(postgres_schema_url)


def test_enable_changes_nothing_when_the_table_stays_locked(pg, monkeypatch):
    monkeypatch.setattr(partitions, "ENABLE_LOCK_TIMEOUT", "100ms")
    monkeypatch.setattr(partitions, "ENABLE_TRIES", 1)
    engine = engine_of(pg)
    with engine.connect() as reader:  # a long transaction that read the attempts
        reader.execute(sa.select(sa.func.count()).select_from(attempt_table))
        result = cli(pg, "partition", "enable")
        reader.rollback()

    assert result.exit_code == 1
    assert "lock timeout" in result.output and "run the command again" in result.output
    with engine.connect() as conn:
        assert not partitions.is_partitioned(conn)
        assert sa.inspect(conn).get_check_constraints("clawhooks_attempt") == []


def test_a_worker_drops_the_check_an_enable_killed_half_way_left(pg, receiver):
    with engine_of(pg).begin() as conn:  # step 1 of enable, bounded to an hour from now
        bound = first_id_at("att", utcnow() + dt.timedelta(hours=1))
        conn.exec_driver_sql(f"ALTER TABLE clawhooks_attempt ADD CONSTRAINT "
                             f"{partitions.HISTORY}_bound CHECK (id < '{bound}')")
    pg.add_webhook(receiver.url)
    pg.emit("message.received", {"n": 1})

    [delivery] = pg.work_until_settled()

    assert delivery.status == DeliveryStatus.SUCCESS
    with engine_of(pg).connect() as conn:
        assert sa.inspect(conn).get_check_constraints("clawhooks_attempt") == []


def test_partitions_detached_but_not_dropped_are_dropped_or_attached_again(pg):
    now = utcnow()
    engine = engine_of(pg)
    partitions.enable(engine, "day", now=now - dt.timedelta(days=3))
    hook = pg.add_webhook("https://hooks.example/in")
    # The new row is made at `now` itself, and the partitions are made again as of
    # `now`: an hour earlier would be yesterday's partition between 0:00 and 1:00.
    fill(pg, hook.id, [now - dt.timedelta(days=2.5), now])
    old, future = found(pg)[1], found(pg)[-3]
    [current] = [p for p in found(pg) if p.start and p.start <= now < p.end]
    with engine.begin() as conn:  # as if DROP TABLE had failed after the detach
        for partition in (old, current, future):
            conn.exec_driver_sql(f"ALTER TABLE clawhooks_attempt DETACH PARTITION "
                                 f"{partition.name}")

    dropped = partitions.drop_older(engine, now - dt.timedelta(days=1))

    # Old or empty ones go, not the one with new rows.
    assert dropped == [partitions.HISTORY, old.name, future.name]
    # The gaps from now on are partitions again (as the workers make them): the one
    # holding rows is attached back with them.
    created = partitions.create_ahead(engine, now)
    assert created[:2] == [current.name, future.name]  # then the days up to 14 ahead
    assert_contiguous_and_ahead(found(pg), dt.timedelta(days=1), now, history=False)
    assert len(attempt_rows(pg)) == 1


def test_partitions_dropped_by_hand_up_to_tomorrow_are_made_again_from_today(pg):
    now = utcnow()
    engine = engine_of(pg)
    day = dt.timedelta(days=1)
    partitions.enable(engine, "day", now=now - 3 * day)
    today = partitions.interval_start(now, day)
    with engine.begin() as conn:  # the history partition and every one up to tomorrow's
        for partition in found(pg):
            if partition.end <= today + 2 * day:
                conn.exec_driver_sql(f"ALTER TABLE clawhooks_attempt DETACH PARTITION "
                                     f"{partition.name}")
                conn.exec_driver_sql(f"DROP TABLE {partition.name}")

    created = partitions.create_ahead(engine, now)

    assert created[:2] == [f"clawhooks_attempt_p{today:%Y%m%d}",  # then up to 14 days on
                           f"clawhooks_attempt_p{today + day:%Y%m%d}"]
    assert_contiguous_and_ahead(found(pg), day, now, history=False)


def test_one_worker_an_hour_makes_the_partitions_ahead(pg):
    partitions.enable(engine_of(pg), "day", ahead=dt.timedelta(days=2))

    first = partitions.run_due_maintenance(pg.app)
    again = partitions.run_due_maintenance(pg.app)  # another worker, within the hour

    assert first and again is None
    assert_contiguous_and_ahead(found(pg), dt.timedelta(days=1), utcnow())


def test_a_test_send_makes_the_partitions_no_worker_made(pg, receiver):
    """No worker ran for longer than the partitions reach ahead: the web process's test
    send (it claims and records its attempt itself) makes them instead of failing."""
    partitions.enable(engine_of(pg), "day", now=utcnow() - dt.timedelta(days=20),
                      ahead=dt.timedelta(days=1))
    assert found(pg)[-1].end < utcnow() - dt.timedelta(days=15)
    webhook = pg.add_webhook(receiver.url)

    with pg.app.app_context():
        delivery = pg.clawhooks.send_test(webhook)
        status, attempts = delivery.status, [a.outcome for a in delivery.attempts]

    assert status == DeliveryStatus.SUCCESS and attempts == ["success"]
    assert len(receiver.requests) == 1
    # From today on, as a worker would have made them (the days between hold nothing).
    today = partitions.interval_start(utcnow(), dt.timedelta(days=1))
    made = [p for p in found(pg) if p.start is not None and p.start >= today]
    assert made[0].start == today
    assert_contiguous_and_ahead(made, dt.timedelta(days=1), utcnow(), history=False)
