"""``flask clawhooks db current|check|stamp`` on a database made by ``init-db``."""

from __future__ import annotations

from typing import Any

from flask_clawhooks.migrations import schema

from ..fixtures import Host


def cli(host: Host, *args: str) -> Any:
    return host.app.test_cli_runner().invoke(args=["clawhooks", "db", *args])


def test_init_db_records_the_head_revision(host):
    current = cli(host, "current")
    check = cli(host, "check")

    assert current.exit_code == 0 and current.output == (
        f"{schema.head()} (current; this version needs {schema.head()})\n")
    assert check.exit_code == 0 and "are up to date" in check.output


def test_stamp_records_a_revision_and_check_fails_while_it_is_behind(host):
    stamped = cli(host, "stamp", "0001")
    current = cli(host, "current")
    check = cli(host, "check")
    api = host.app.test_client().get("/api/v1/webhooks")
    back = cli(host, "stamp", "head")

    assert stamped.exit_code == 0 and stamped.output == "Recorded schema revision 0001.\n"
    assert current.output == f"0001 (behind; this version needs {schema.head()})\n"
    assert check.exit_code == 1
    assert (f"are at schema revision 0001; this version of flask-clawhooks needs "
            f"{schema.head()}. Run `flask clawhooks db upgrade`") in check.output
    assert api.status_code == 503 and api.json["error"]["code"] == "schema_not_current"
    assert back.exit_code == 0 and cli(host, "check").exit_code == 0


def test_stamp_refuses_a_revision_it_does_not_know(host):
    result = cli(host, "stamp", "12345")

    assert result.exit_code == 1 and "No revision '12345'" in result.output
    assert cli(host, "check").exit_code == 0
