"""Registering the extension, its configuration, emit()'s contract and the CLI."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_clawhooks import CATALOG, ClawHooks, ConfigurationError, UnknownEventType
from flask_clawhooks.errors import NotInitialized
from flask_clawhooks.ids import new_id, new_ids
from flask_clawhooks.models import Delivery, Event
from flask_clawhooks.signing import envelope_bytes
from flask_clawhooks.state import get_state

SEED_TYPES = {
    "message.received", "message.sent", "message.delivered", "message.failed",
    "integration.connected", "integration.disconnected", "integration.error",
    "ai.request", "ai.response", "ai.error", "ai.rate_limited",
    "system.health", "backup.completed", "backup.failed",
}


def bare_app(tmp_path, **config):
    app = Flask("bare", instance_path=str(tmp_path))
    app.config.update({"SQLALCHEMY_DATABASE_URI": "sqlite://", **config})
    return app


def test_the_catalog_is_the_seeds_event_list():
    assert {t.name for t in CATALOG} == SEED_TYPES
    assert {t.group for t in CATALOG} == {"Message", "Integration", "AI", "System"}


def test_init_app_twice_is_an_error_and_state_lives_in_app_extensions(tmp_path):
    app = bare_app(tmp_path)
    db = SQLAlchemy(app)
    clawhooks = ClawHooks(db=db)
    clawhooks.init_app(app)
    assert get_state(app).extension is clawhooks
    assert not hasattr(clawhooks, "app")
    with pytest.raises(RuntimeError, match="already registered"):
        clawhooks.init_app(app)


def test_one_extension_serves_two_apps_with_their_own_settings(tmp_path):
    clawhooks = ClawHooks()
    first, second = bare_app(tmp_path), bare_app(tmp_path, CLAWHOOKS_QUEUE="other")
    for app in (first, second):
        SQLAlchemy(app)
        clawhooks.init_app(app)
    assert clawhooks.state(first).settings.queue == "clawhooks"
    assert clawhooks.state(second).settings.queue == "other"


def test_using_an_app_it_was_not_registered_on_says_to_call_init_app(tmp_path):
    app = bare_app(tmp_path)
    SQLAlchemy(app)
    with app.app_context(), pytest.raises(NotInitialized, match="init_app"):
        ClawHooks().emit("message.received", {}, owner="acme")


def test_without_flask_sqlalchemy_the_error_says_what_to_do(tmp_path):
    with pytest.raises(ConfigurationError, match="SQLAlchemy"):
        ClawHooks(bare_app(tmp_path))


@pytest.mark.parametrize(("key", "value", "message"), [
    ("CLAWHOOKS_RETRY_DELAYS", ["soon"], "list of seconds"),
    ("CLAWHOOKS_RETRY_DELAYS", [60, -1], "negative"),
    ("CLAWHOOKS_TIMEOUT", 0, "CLAWHOOKS_TIMEOUT must be a number"),
    ("CLAWHOOKS_CONCURRENCY", 2.5, "CLAWHOOKS_CONCURRENCY must be an integer"),
    ("CLAWHOOKS_REDIS_URL", "localhost", "CLAWHOOKS_REDIS_URL must be a URL"),
    ("CLAWHOOKS_API_PREFIX", "api", "CLAWHOOKS_API_PREFIX must be a URL path"),
    ("CLAWHOOKS_MAIL_USE_TLS", "yes", "True or False"),
])
def test_bad_settings_are_refused_at_start_up_naming_the_key(tmp_path, key, value, message):
    app = bare_app(tmp_path, **{key: value})
    SQLAlchemy(app)
    with pytest.raises(ConfigurationError, match=message):
        ClawHooks(app)


def test_retry_delays_from_the_environment_are_accepted(tmp_path):
    app = bare_app(tmp_path, CLAWHOOKS_RETRY_DELAYS="1, 2,3")
    SQLAlchemy(app)
    clawhooks = ClawHooks(app)
    assert clawhooks.state(app).settings.retry_delays == (1, 2, 3)
    assert clawhooks.state(app).settings.max_attempts == 4


def test_unknown_event_type_is_an_error_listing_the_known_ones(host):
    with host.app.app_context(), pytest.raises(UnknownEventType, match="message.received"):
        host.clawhooks.emit("message.recieved", {}, owner="acme")


def test_hosts_may_register_extra_event_types(host, receiver):
    host.clawhooks.register_event_type("invoice.paid", "An invoice was paid")
    host.add_webhook(receiver.url, ["invoice.paid"])
    host.emit("invoice.paid", {"amount": 5})
    [delivery] = host.work_until_settled()
    assert delivery.status == "success"
    assert json.loads(receiver.requests[0].body)["type"] == "invoice.paid"


def test_data_that_json_cannot_hold_is_refused_before_anything_is_stored(host, receiver):
    host.add_webhook(receiver.url)
    with host.app.app_context():
        with pytest.raises(TypeError):
            host.clawhooks.emit("message.received", {"when": object()}, owner="acme")
        with pytest.raises(ValueError):
            host.clawhooks.emit("message.received", {"x": float("nan")}, owner="acme")
        host.db.session.commit()
        assert host.db.session.query(Event).count() == 0


def test_the_envelope_is_frozen_once_and_every_delivery_stores_the_same_bytes(
    host, receiver_factory
):
    one, two = receiver_factory(), receiver_factory()
    host.add_webhook(one.url)
    host.add_webhook(two.url)
    event_id = host.emit("message.received", {"content": "héllo"})
    with host.app.app_context():
        event = host.db.session.get(Event, event_id)
        envelope = json.loads(event.body)
        assert event.body == envelope_bytes(event_id, "message.received",
                                            envelope["created_at"], {"content": "héllo"})
        assert "héllo".encode() in event.body  # ensure_ascii=False
        assert host.db.session.query(Delivery).count() == 2
    host.work_until_settled()
    assert one.requests[0].body == two.requests[0].body == event.body


def test_ids_are_prefixed_url_safe_and_sort_by_time():
    ids = [new_id("evt") for _ in range(50)]
    assert all(i.startswith("evt_") and len(i) == 30 and i.isascii() for i in ids)
    assert all(c.isalnum() or c == "_" for c in "".join(ids))
    import time

    earlier = new_id("del")
    time.sleep(0.002)
    assert new_id("del") > earlier


def test_ids_made_at_once_are_distinct_and_sort_between_the_ids_made_before_and_after():
    before = new_id("del")
    made = new_ids("del", 1025)  # across a carry into the third digit from the end
    after = new_id("del")
    assert len(set(made)) == 1025 and made == sorted(made)
    assert before < made[0] and made[-1] < after
    assert all(i.startswith("del_") and len(i) == 30 for i in made)
    assert {i[:-4] for i in made} == {made[0][:-4]}
    assert new_ids("del", 0) == []
    with pytest.raises(ValueError, match="at most 1048576 ids at once"):
        new_ids("del", 2**20 + 1)


def test_ids_made_in_a_forked_child_do_not_repeat_the_parents():
    import os

    new_id("del")  # the parent has random bytes in hand when it forks
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.write(write, " ".join(new_id("del") for _ in range(20)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        child = pipe.read().split()
    parent = [new_id("del") for _ in range(20)]
    assert len(child) == 20
    # The last 16 characters are random bits (the first 10 are the time).
    assert not {i[-16:] for i in child} & {i[-16:] for i in parent}


def test_ids_tell_when_they_were_made_and_refuse_strings_that_are_not_ids():
    import time

    from flask_clawhooks.ids import first_id_at, id_seconds

    before = time.time()
    made = id_seconds(new_id("del"))
    assert before - 0.002 <= made <= time.time() + 0.002
    moment = dt.datetime(2026, 1, 30, 14, 29, 58, 123000)
    assert id_seconds(first_id_at("del", moment)) == moment.replace(
        tzinfo=dt.UTC).timestamp()
    for bad in ("del_" + "i" * 26, "del_abc", "del_" + "é" * 26, "del_" + "u" * 26):
        with pytest.raises(ValueError):
            id_seconds(bad)


def test_cli_emit_and_events(host, receiver):
    host.add_webhook(receiver.url, ["system.health"])
    runner = host.app.test_cli_runner()

    result = runner.invoke(args=["clawhooks", "emit", "system.health", '{"status": "ok"}',
                                 "--owner", "acme"])
    assert result.exit_code == 0, result.output
    assert "emitted to 1 webhook(s)" in result.output

    bad_json = runner.invoke(args=["clawhooks", "emit", "system.health", "{", "--owner", "a"])
    assert bad_json.exit_code == 2 and "not valid JSON" in bad_json.output
    bad_type = runner.invoke(args=["clawhooks", "emit", "nope.nope", "{}", "--owner", "a"])
    assert bad_type.exit_code == 2 and "Unknown event type" in bad_type.output

    listing = runner.invoke(args=["clawhooks", "events"])
    assert all(name in listing.output for name in SEED_TYPES)

    host.work_until_settled()
    assert json.loads(receiver.requests[0].body)["data"] == {"status": "ok"}


def test_cli_init_db_creates_the_tables(tmp_path):
    app = bare_app(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.sqlite'}")
    SQLAlchemy(app)
    ClawHooks(app)
    result = app.test_cli_runner().invoke(args=["clawhooks", "init-db"])
    assert result.exit_code == 0, result.output
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    assert {"clawhooks_webhook", "clawhooks_event", "clawhooks_delivery",
            "clawhooks_attempt"} <= set(sa.inspect(engine).get_table_names())
    engine.dispose()
