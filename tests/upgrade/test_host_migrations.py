"""A host that manages its own schema with Flask-Migrate never gets a migration that
touches our tables: flask-clawhooks gives Flask-Migrate an ``include_name`` that leaves
``clawhooks_*`` out, composed with the host's own."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from flask_clawhooks import ClawHooks
from flask_clawhooks.migrations import schema

from ..processes import run
from .databases import drop_ours

ROOT = Path(__file__).resolve().parents[2]

HOST_APP = textwrap.dedent("""
    import os

    from flask import Flask
    from flask_migrate import Migrate
    from flask_sqlalchemy import SQLAlchemy

    from flask_clawhooks import ClawHooks

    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["TEST_DATABASE_URL"]
    app.config["CLAWHOOKS_REDIS_URL"] = os.environ["TEST_REDIS_URL"]
    db = SQLAlchemy(app)
    Migrate(app, db, directory=os.environ["TEST_MIGRATIONS"])
    ClawHooks(app, db=db)


    class Note(db.Model):
        id = db.Column(db.Integer, primary_key=True)
        text = db.Column(db.String(200))
""")


@pytest.fixture
def host_dir(tmp_path: Path, database_url: str) -> Iterator[Path]:
    (tmp_path / "notes_host.py").write_text(HOST_APP)
    yield tmp_path
    drop_ours(database_url)
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS note")
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    engine.dispose()


def flask(host_dir: Path, database_url: str, redis_url: str, *args: str) -> Any:
    env = {**os.environ, "TEST_DATABASE_URL": database_url, "TEST_REDIS_URL": redis_url,
           "TEST_MIGRATIONS": str(host_dir / "migrations"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(host_dir)])}
    result = run([sys.executable, "-m", "flask", "--app", "notes_host", *args], cwd=ROOT,
                 env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_flask_migrate_proposes_nothing_for_our_tables(host_dir, database_url, redis_url):
    def cli(*args: str) -> str:
        return flask(host_dir, database_url, redis_url, *args)

    cli("db", "init")
    first = cli("db", "migrate", "-m", "notes")
    cli("db", "upgrade")
    ours = cli("clawhooks", "db", "upgrade")
    again = cli("db", "migrate", "-m", "nothing")

    assert "Detected added table 'note'" in first
    assert f"to {schema.head()}." in ours
    assert "No changes in schema detected." in again
    assert "clawhooks" not in again
    revisions = list((host_dir / "migrations" / "versions").glob("*.py"))
    assert len(revisions) == 1 and "clawhooks" not in revisions[0].read_text()
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:  # each its own version table
        assert conn.exec_driver_sql("SELECT version_num FROM clawhooks_alembic_version"
                                    ).scalar() == schema.head()
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() != (
            schema.head())
    engine.dispose()


def host_filter(name: str | None, type_: str, parent_names: Any) -> bool:
    return name != "host_scratch"


@pytest.mark.parametrize("migrate_first", [True, False])
def test_the_host_include_name_is_kept(tmp_path, migrate_first):
    app = Flask("host")
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'host.sqlite'}"
    db = SQLAlchemy(app)
    if migrate_first:
        Migrate(app, db, include_name=host_filter)
        ClawHooks(app, db=db)
    else:
        ClawHooks(app, db=db)
        Migrate(app, db, include_name=host_filter)
    with app.app_context():  # `flask db …` runs in one
        include_name = app.extensions["migrate"].configure_args["include_name"]

    assert include_name("note", "table", {}) is True
    assert include_name("host_scratch", "table", {}) is False  # the host's own filter
    assert include_name("clawhooks_webhook", "table", {}) is False
    assert include_name("clawhooks_alembic_version", "table", {}) is False
    assert include_name("owner", "column", {"table_name": "note"}) is True


def test_a_plain_alembic_host_uses_the_filter_by_name():
    assert ClawHooks.alembic_include_name("clawhooks_attempt", "table", {}) is False
    assert ClawHooks.alembic_include_name("invoice", "table", {}) is True
