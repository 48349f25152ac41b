"""A real 0.1.0 install, upgraded: the databases 0.1.0 made (committed dumps, with rows
in every table; see data/make_dumps.py), on SQLite and PostgreSQL.

Before ``flask clawhooks db upgrade`` nothing may run on them and everything says what to
run; after it, nothing is lost and the install works: the API, the worker, the history.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from flask_clawhooks.migrations import schema
from flask_clawhooks.state import get_state

from ..fixtures import Host, make_host
from .databases import API_KEY_0_1_0, drop_ours, ids, load_0_1_0, move_attempts_into_the_last_day

API = "/api/v1"
AUTH = {"Authorization": f"Bearer {API_KEY_0_1_0}"}
UPGRADE = "flask clawhooks db upgrade"


@pytest.fixture
def old_install(database_url: str) -> Iterator[str]:
    """The database as 0.1.0 left it; its attempts moved into the statistics' windows."""
    drop_ours(database_url)
    load_0_1_0(database_url)
    move_attempts_into_the_last_day(database_url)
    yield database_url
    drop_ours(database_url)


@pytest.fixture
def old_host(old_install: str, redis_url: str, redis_conn: Any, tmp_path: Any,
             caplog: pytest.LogCaptureFixture) -> Iterator[Host]:
    with caplog.at_level(logging.INFO, logger="flask_clawhooks"):
        host = make_host(old_install, redis_url, str(tmp_path / "instance"),
                         create_tables=False)
    host.start_up_log = [r for r in caplog.records if r.name == "flask_clawhooks"]
    host.app.secret_key = "upgrade-tests"  # the dashboard's CSRF tokens live in the session
    host.clawhooks.dashboard_owner_loader(lambda: "acme")
    yield host
    with host.app.app_context():
        get_state(host.app).close_dispatcher()
        host.db.engine.dispose()


def cli(host: Host, *args: str) -> Any:
    return host.app.test_cli_runner().invoke(args=["clawhooks", *args])


def webhook_ids(database_url: str) -> dict[str, str]:
    """The dumps' webhooks by the last part of their URL: hooks, failing, off."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT url, id FROM clawhooks_webhook").all()
    finally:
        engine.dispose()
    return {url.rsplit("/", 1)[1]: id_ for url, id_ in rows}


def dashboard(host: Host) -> str:
    return get_state(host.app).settings.dashboard_prefix


def test_a_0_1_0_database_is_refused_with_the_command_to_run(old_host, old_install):
    before = ids(old_install)
    client = old_host.app.test_client()

    check = cli(old_host, "db", "check")
    init_db = cli(old_host, "init-db")
    worker = cli(old_host, "worker", "--burst")
    api = client.get(f"{API}/webhooks", headers=AUTH)
    page = client.get(f"{dashboard(old_host)}/")

    assert check.exit_code == 1 and UPGRADE in check.output
    assert "made by an older release" in check.output
    assert init_db.exit_code == 1 and UPGRADE in init_db.output
    assert "Nothing was changed." in init_db.output
    assert worker.exit_code == 1 and UPGRADE in worker.output
    assert "The worker was not started." in worker.output
    assert api.status_code == 503
    assert api.json["error"]["code"] == "schema_not_current"
    assert UPGRADE in api.json["error"]["message"]
    assert page.status_code == 503 and UPGRADE in page.get_data(as_text=True)
    # said once when the app started, at error level (beside the warning that secrets
    # are stored unencrypted, as this app has no CLAWHOOKS_ENCRYPTION_KEYS)
    said = [r for r in old_host.start_up_log
            if "CLAWHOOKS_ENCRYPTION_KEYS" not in r.getMessage()]
    assert [r.levelname for r in said] == ["ERROR"]
    assert UPGRADE in said[0].getMessage()
    assert ids(old_install) == before
    with old_host.app.app_context():
        assert schema.status(old_host.db.engine).state is schema.SchemaState.UNVERSIONED


def test_upgrade_prints_its_sql_for_a_dba_and_changes_nothing(old_host, old_install):
    result = cli(old_host, "db", "upgrade", "--sql")

    assert result.exit_code == 0, result.output
    assert "Tables made by flask-clawhooks 0.1.0: recorded as revision 0001 first" in (
        result.output)
    assert "DROP COLUMN consecutive_failures" in result.output or (
        "DROP TABLE clawhooks_webhook" in result.output)  # SQLite's batch copy
    assert "UPDATE clawhooks_attempt SET webhook_id=" in result.output
    if "postgresql" in old_install:
        assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_clawhooks_attempt_webhook_time" in (
            result.output)
    assert f"UPDATE clawhooks_alembic_version SET version_num='{schema.head()}'" in (
        result.output)
    with old_host.app.app_context():
        assert schema.status(old_host.db.engine).state is schema.SchemaState.UNVERSIONED


def test_upgrade_keeps_every_row_and_the_install_works(old_host, old_install, receiver):
    before = ids(old_install)
    hook = webhook_ids(old_install)
    client = old_host.app.test_client()
    assert client.get(f"{API}/webhooks", headers=AUTH).status_code == 503

    upgraded = cli(old_host, "db", "upgrade")

    assert upgraded.exit_code == 0, upgraded.output
    assert "Recognised the schema of flask-clawhooks 0.1.0 (revision 0001)." in (
        upgraded.output)
    assert f"from schema revision 0001 to {schema.head()}." in upgraded.output
    check = cli(old_host, "db", "check")
    assert check.exit_code == 0
    assert f"up to date (schema revision {schema.head()})" in check.output
    assert ids(old_install) == before  # every row kept, ids unchanged

    # The history made by 0.1.0 counts: 4 successes (one after a retry) in 5 attempts.
    stats = client.get(f"{API}/webhooks/{hook['hooks']}/stats", headers=AUTH)
    assert stats.status_code == 200, stats.json
    assert stats.json["last_24h"]["attempts"] == 5
    assert stats.json["last_24h"]["successes"] == 4
    card = client.get(f"{dashboard(old_host)}/{hook['hooks']}").get_data(as_text=True)
    assert "(4 of 5)" in card

    # The API lists, updates, creates and deletes webhooks (the app that answered 503
    # before the upgrade, not restarted).
    listed = client.get(f"{API}/webhooks", headers=AUTH)
    assert listed.status_code == 200, listed.json
    assert sorted(w["id"] for w in listed.json["data"]) == sorted(
        [hook["hooks"], hook["failing"]])
    for id_ in (hook["hooks"], hook["failing"]):
        updated = client.patch(f"{API}/webhooks/{id_}", headers=AUTH,
                               json={"url": receiver.url})
        assert updated.status_code == 200, updated.json
    created = client.post(f"{API}/webhooks", headers=AUTH,
                          json={"url": receiver.url, "events": ["message.received"]})
    assert created.status_code == 201, created.json
    deleted = client.delete(f"{API}/webhooks/{created.json['id']}", headers=AUTH)
    assert deleted.status_code == 204

    # The worker starts and delivers what 0.1.0 left pending: 2 deliveries to one
    # webhook, 5 to the other (0.1.0 made none for the disabled webhook).
    started = cli(old_host, "worker", "--burst")
    assert started.exit_code == 0, started.output
    statuses = [(d.webhook_id, d.status) for d in old_host.deliveries()]
    assert statuses.count((hook["hooks"], "success")) == 6
    assert statuses.count((hook["failing"], "success")) == 5
    assert "pending" not in {status for _, status in statuses}
    assert len(receiver.requests) == 7
    stats = client.get(f"{API}/webhooks/{hook['hooks']}/stats", headers=AUTH).json
    assert (stats["last_24h"]["attempts"], stats["last_24h"]["successes"]) == (7, 6)
