"""The models and the revisions agree: a database brought to head by the revisions is
the schema the models describe, on SQLite and PostgreSQL. A model changed without a
revision fails here, with the differences named.

To add a revision, see the docstring of ``flask_clawhooks/migrations/__init__.py`` or
the "Adding a revision" section of docs/upgrading.rst.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from flask_clawhooks import apikeys  # noqa: F401 - its table is one of ours
from flask_clawhooks.migrations import frozen, schema
from flask_clawhooks.models import Base

from .databases import drop_ours, load_0_1_0

HOW_TO_ADD = ("The models and the migrations disagree: add a revision for the change "
              "(flask_clawhooks/migrations/__init__.py says how). Differences:\n  ")


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    drop_ours(database_url)
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()
    drop_ours(database_url)


def quiet(_: str) -> None:
    pass


def test_the_revisions_have_one_head():
    assert len(schema.script_directory().get_heads()) == 1, (
        "Two revisions share a down_revision: make the newer one follow the other.")


def test_each_revision_is_numbered_as_its_file_and_the_newest_file_is_alembics_head():
    # schema.HEAD, which every process checks the database against without importing
    # Alembic, is read off the file names: they must say what the revisions say.
    scripts = schema.script_directory()
    by_file = {Path(script.path).name[:4]: script.revision
               for script in scripts.walk_revisions()}
    assert all(number == revision for number, revision in by_file.items()), by_file
    assert schema.HEAD == scripts.get_current_head() == max(by_file)


def test_loading_the_extension_does_not_import_alembic():
    # Web processes and ``worker --burst`` only ask whether the database is at HEAD.
    code = ("import sys, flask_clawhooks, flask_clawhooks.migrations.gate; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_upgrading_an_empty_database_gives_the_models_schema(engine):
    start, now = schema.upgrade(engine, say=quiet)

    assert (start, now) == (None, schema.head())
    with engine.connect() as conn:
        found = schema.differences(conn, Base.metadata)
    assert not found, HOW_TO_ADD + "\n  ".join(found)
    assert schema.status(engine).state is schema.SchemaState.CURRENT


def test_upgrading_0_1_0_tables_gives_the_models_schema(engine, database_url):
    load_0_1_0(database_url)

    start, now = schema.upgrade(engine, say=quiet)

    assert (start, now) == ("0001", schema.head())
    with engine.connect() as conn:
        found = schema.differences(conn, Base.metadata)
    assert not found, HOW_TO_ADD + "\n  ".join(found)


def test_a_model_change_without_a_revision_is_named(engine):
    schema.upgrade(engine, say=quiet)
    changed = MetaData_with_changes()

    with engine.connect() as conn:
        found = schema.differences(conn, changed)

    assert "add_column: clawhooks_webhook.rate_per_minute" in found
    assert any(line.startswith("index condition: ix_clawhooks_delivery_webhook_status")
               for line in found), found
    assert any("ix_clawhooks_delivery_webhook_finished_type" in line for line in found), found


def MetaData_with_changes() -> sa.MetaData:  # noqa: N802 - reads as the type it makes
    """The models' metadata with a new column, a partial index's condition changed and
    an index dropped: what a model change without its revision looks like."""
    metadata = sa.MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    webhook = metadata.tables["clawhooks_webhook"]
    webhook.append_column(sa.Column("rate_per_minute", sa.Integer))
    delivery = metadata.tables["clawhooks_delivery"]
    for index in list(delivery.indexes):
        if index.name == "ix_clawhooks_delivery_webhook_finished_type":
            delivery.indexes.remove(index)
        if index.name == "ix_clawhooks_delivery_webhook_status":
            for dialect in ("sqlite", "postgresql"):
                index.dialect_options[dialect]["where"] = sa.text("status = 'failed'")
    return metadata


def test_tables_of_0_2_0_without_a_version_are_recognised(engine):
    frozen.schema_0_2().create_all(engine)  # what 0.2.0's init-db made, unversioned

    with engine.connect() as conn:
        assert schema.recognise(conn) == ("0.2.0", "0004")
    start, now = schema.upgrade(engine, say=quiet)

    assert (start, now) == ("0004", schema.head())
    with engine.connect() as conn:
        assert schema.differences(conn, Base.metadata) == []


def test_tables_changed_by_hand_are_left_alone(engine, database_url):
    load_0_1_0(database_url)  # then the column the 0.2 docs' SQL added by hand
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE clawhooks_webhook ADD COLUMN enabled_at TIMESTAMP")

    with pytest.raises(schema.UnrecognisedSchema) as raised:
        schema.upgrade(engine, say=quiet)

    message = str(raised.value)
    assert "nothing was changed" in message and "Closest is 0.1.0" in message
    assert "enabled_at" in message
    with engine.connect() as conn:
        assert schema.connection_status(conn).state is schema.SchemaState.UNVERSIONED
        assert not sa.inspect(conn).has_table(schema.VERSION_TABLE)
        assert "consecutive_failures" in {
            c["name"] for c in sa.inspect(conn).get_columns("clawhooks_webhook")}


def test_init_db_creates_the_tables_at_head_and_keeps_them(engine):
    schema.create_all(engine, Base.metadata)
    schema.create_all(engine, Base.metadata)  # again: nothing to do

    found = schema.status(engine)
    assert (found.state, found.revision) == (schema.SchemaState.CURRENT, schema.head())
    with engine.connect() as conn:
        assert schema.differences(conn, Base.metadata) == []


def test_init_db_refuses_tables_of_an_older_version(engine, database_url):
    load_0_1_0(database_url)

    with pytest.raises(schema.SchemaNotCurrent, match="flask clawhooks db upgrade"):
        schema.create_all(engine, Base.metadata)

    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("clawhooks_idempotency_key")


def test_a_database_upgraded_by_a_newer_release_is_used_but_not_changed(engine):
    schema.create_all(engine, Base.metadata)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {schema.VERSION_TABLE} SET version_num = '9999'")

    found = schema.status(engine)
    assert found.state is schema.SchemaState.AHEAD and found.usable
    assert "newer" in found.message
    with pytest.raises(schema.SchemaError, match="Deploy that release here too"):
        schema.upgrade(engine, say=quiet)
