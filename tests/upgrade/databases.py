"""Databases for the upgrade tests: the committed 0.1.0 dumps loaded into SQLite or the
session's PostgreSQL schema, and our tables dropped again afterwards (the PostgreSQL
schema is shared by the session's tests, so nothing may be left behind)."""

from __future__ import annotations

import datetime as dt
import pathlib
import sqlite3

import sqlalchemy as sa

from flask_clawhooks.migrations.schema import TABLE_PREFIX
from flask_clawhooks.timeutil import utcnow

DATA = pathlib.Path(__file__).parent / "data"

#: The token of the API key in the dumps (only its hash is stored).
API_KEY_0_1_0 = "cbk_0.1.0-api-key-for-the-upgrade-tests"

#: The rows 0.1.0 wrote into each table of the dumps.
TABLES_0_1_0 = ("clawhooks_webhook", "clawhooks_event", "clawhooks_delivery",
                "clawhooks_attempt", "clawhooks_api_key")


def load_0_1_0(database_url: str) -> None:
    """Make the database what 0.1.0 left: its tables and rows, no version table."""
    engine = sa.create_engine(database_url)
    try:
        dialect = engine.dialect.name
        dump = (DATA / f"clawhooks-0.1.0.{dialect}.sql").read_text()
        if dialect == "sqlite":
            conn = sqlite3.connect(str(engine.url.database))
            try:
                conn.executescript(dump)
            finally:
                conn.close()
        else:
            with engine.begin() as conn:
                conn.exec_driver_sql(dump)
    finally:
        engine.dispose()


def move_attempts_into_the_last_day(database_url: str) -> None:
    """The dumps' attempts were made on 2026-11-20; the statistics count the last 24 h
    and 7 days, so move them (keeping their order and spacing) to end an hour ago."""
    engine = sa.create_engine(database_url)
    attempt = sa.table("clawhooks_attempt", sa.column("id", sa.String),
                       sa.column("created_at", sa.DateTime))
    try:
        with engine.begin() as conn:
            rows = conn.execute(sa.select(attempt.c.id, attempt.c.created_at)).all()
            shift = utcnow() - dt.timedelta(hours=1) - max(row[1] for row in rows)
            for id_, created_at in rows:
                conn.execute(sa.update(attempt).where(attempt.c.id == id_)
                             .values(created_at=created_at + shift))
    finally:
        engine.dispose()


def ids(database_url: str) -> dict[str, list[str]]:
    """The primary keys in each of the 0.1.0 tables, sorted."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return {table: sorted(conn.exec_driver_sql(f"SELECT id FROM {table}").scalars())
                    for table in TABLES_0_1_0}
    finally:
        engine.dispose()


def drop_ours(database_url: str) -> None:
    """Drop every ``clawhooks_*`` table, the version table included."""
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            names = [n for n in sa.inspect(conn).get_table_names()
                     if n.startswith(TABLE_PREFIX)]
            cascade = " CASCADE" if engine.dialect.name == "postgresql" else ""
            for name in names:
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}{cascade}")
    finally:
        engine.dispose()
