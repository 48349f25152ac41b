"""What makes ``db upgrade`` safe on a live database: one upgrader at a time, index
builds that survive an interruption, a backfill that cannot loop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from flask_clawhooks.migrations import schema
from flask_clawhooks.models import Base

from .databases import drop_ours, load_0_1_0


@pytest.fixture
def postgres(postgres_schema_url: str) -> Iterator[sa.Engine]:
    drop_ours(postgres_schema_url)
    engine = sa.create_engine(postgres_schema_url)
    yield engine
    engine.dispose()
    drop_ours(postgres_schema_url)


def test_a_second_upgrader_waits_for_the_first(postgres_schema_url):
    drop_ours(postgres_schema_url)
    # The upgrader's engine has one connection, so that the lock can be looked for on it
    # afterwards; the first upgrader and the checks use connections of their own.
    upgrader = sa.create_engine(postgres_schema_url, pool_size=1, max_overflow=0)
    other = sa.create_engine(postgres_schema_url, poolclass=sa.pool.NullPool)
    said: list[str] = []
    done: list[tuple[str | None, str]] = []
    key = {"key": schema.UPGRADE_LOCK_KEY}
    try:
        with other.connect() as holder:  # the first upgrader, mid-upgrade
            holder.execute(sa.text("SELECT pg_advisory_lock(:key)"), key)
            second = threading.Thread(
                target=lambda: done.append(schema.upgrade(upgrader, say=said.append)))
            second.start()
            deadline = time.monotonic() + 30
            while not said and time.monotonic() < deadline:
                time.sleep(0.05)
            assert said == ["Another upgrade of the webhook tables is running; waiting for "
                            "it to finish."]
            assert second.is_alive()
            assert schema.status(other).state is schema.SchemaState.EMPTY  # nothing yet
            holder.execute(sa.text("SELECT pg_advisory_unlock(:key)"), key)
            holder.commit()
        second.join(timeout=120)

        assert done == [(None, schema.head())]
        assert schema.status(other).state is schema.SchemaState.CURRENT
        with upgrader.connect() as conn:  # the upgrader's own connection gave it back
            assert conn.scalar(sa.text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid = pg_backend_pid()")) == 0
    finally:
        upgrader.dispose()
        other.dispose()
        drop_ours(postgres_schema_url)


def test_an_interrupted_concurrent_index_build_is_built_again(postgres, postgres_schema_url):
    load_0_1_0(postgres_schema_url)
    schema.upgrade(postgres, "0003", say=lambda _: None)
    # A concurrent build that fails (here: unique over duplicates) leaves an INVALID index.
    with postgres.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        with pytest.raises(sa.exc.IntegrityError):
            conn.exec_driver_sql("CREATE UNIQUE INDEX CONCURRENTLY "
                                 "ix_clawhooks_attempt_webhook_time "
                                 "ON clawhooks_attempt (webhook_id)")
        assert conn.exec_driver_sql(
            "SELECT indisvalid FROM pg_index JOIN pg_class ON oid = indexrelid "
            "WHERE relname = 'ix_clawhooks_attempt_webhook_time' "
            "AND pg_table_is_visible(oid)").scalar() is False

    schema.upgrade(postgres, say=lambda _: None)

    with postgres.connect() as conn:
        assert schema.differences(conn, Base.metadata) == []
        assert conn.exec_driver_sql(
            "SELECT indisvalid AND NOT indisunique FROM pg_index JOIN pg_class "
            "ON oid = indexrelid WHERE relname = 'ix_clawhooks_attempt_webhook_time' "
            "AND pg_table_is_visible(oid)").scalar() is True


def test_the_backfill_leaves_attempts_without_a_delivery_alone(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'clawbook.sqlite'}"
    load_0_1_0(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # SQLite does not enforce foreign keys by default
        conn.exec_driver_sql(
            "INSERT INTO clawhooks_attempt (id, delivery_id, number, outcome, "
            "response_time_ms, request_headers, created_at) VALUES ('att_orphan', "
            "'del_gone', 1, 'failed', 5, '{}', '2026-11-20 09:00:00')")

    schema.upgrade(engine, say=lambda _: None)

    with engine.connect() as conn:
        rows = dict(conn.exec_driver_sql("SELECT id, webhook_id FROM clawhooks_attempt").all())
    engine.dispose()
    assert rows.pop("att_orphan") is None
    assert rows and all(webhook_id.startswith("wh_") for webhook_id in rows.values())
