"""Event-type JSON Schemas: every sample matches its schema, and emit() checks data against
them as CLAWHOOKS_VALIDATE_PAYLOADS says (off, warn, strict)."""

from __future__ import annotations

import copy
import logging

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from jsonschema import Draft202012Validator

from flask_clawhooks import (
    CATALOG,
    TEST_EVENT,
    ClawHooks,
    ClawHooksError,
    ConfigurationError,
    InvalidEventData,
)
from flask_clawhooks.models import Event
from flask_clawhooks.samples import SAMPLES
from flask_clawhooks.schemas import DATA_SCHEMAS, data_errors, envelope_schema

ALL_TYPES = [*(t.name for t in CATALOG), TEST_EVENT]


def app_with(tmp_path, **config):
    app = Flask("schemas", instance_path=str(tmp_path))
    app.config.update({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite'}",
                       **config})
    db = SQLAlchemy(app)
    clawhooks = ClawHooks(app, db=db)
    with app.app_context():
        clawhooks.create_all()
    return app, db, clawhooks


def test_there_is_a_schema_for_each_of_the_15_types_and_each_is_valid_draft_2020_12():
    assert len(ALL_TYPES) == 15
    assert set(DATA_SCHEMAS) == set(ALL_TYPES)
    for event_type in CATALOG:
        assert event_type.schema is DATA_SCHEMAS[event_type.name]
    for schema in DATA_SCHEMAS.values():
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_every_sample_matches_its_schema_data_and_envelope(event_type):
    sample = SAMPLES[event_type]
    assert data_errors(DATA_SCHEMAS[event_type], sample["data"]) == []
    envelope = envelope_schema(event_type, DATA_SCHEMAS[event_type])
    assert list(Draft202012Validator(envelope).iter_errors(sample)) == []


def test_a_missing_nested_field_and_a_wrong_type_are_named_by_their_path():
    data = copy.deepcopy(SAMPLES["message.received"]["data"])
    del data["sender"]["name"]
    data["content"] = 5
    assert data_errors(DATA_SCHEMAS["message.received"], data) == [
        "data.content: 5 is not of type 'string'",
        "data.sender.name: 'name' is a required property",
    ]


def test_optional_fields_may_be_left_out_and_unknown_fields_are_allowed():
    data = copy.deepcopy(SAMPLES["message.received"]["data"])
    del data["sender"]["username"]
    data["reply_to"] = "msg_1"
    assert data_errors(DATA_SCHEMAS["message.received"], data) == []


def test_strict_refuses_data_missing_a_required_field_and_records_nothing(tmp_path):
    app, db, clawhooks = app_with(tmp_path, CLAWHOOKS_VALIDATE_PAYLOADS="strict")
    data = copy.deepcopy(SAMPLES["message.received"]["data"])
    del data["conversation_id"]
    with app.app_context():
        with pytest.raises(InvalidEventData) as caught:
            clawhooks.emit("message.received", data, owner="acme")
        db.session.commit()
        assert db.session.query(Event).count() == 0
    error = caught.value
    assert isinstance(error, ClawHooksError)
    assert error.errors == ["data.conversation_id: 'conversation_id' is a required property"]
    assert "data.conversation_id" in str(error)
    assert "CLAWHOOKS_VALIDATE_PAYLOADS" in str(error)


def test_strict_accepts_the_sample(tmp_path):
    app, db, clawhooks = app_with(tmp_path, CLAWHOOKS_VALIDATE_PAYLOADS="strict")
    with app.app_context():
        event = clawhooks.emit("message.received", SAMPLES["message.received"]["data"],
                               owner="acme")
        assert event.type == "message.received"
        db.session.rollback()


def test_warn_logs_the_mismatch_once_and_records_the_event(tmp_path, caplog):
    app, db, clawhooks = app_with(tmp_path, CLAWHOOKS_VALIDATE_PAYLOADS="warn")
    with app.app_context(), caplog.at_level(logging.WARNING, logger="flask_clawhooks"):
        clawhooks.emit("backup.completed", {"size_bytes": -1}, owner="acme")
        assert db.session.query(Event).count() == 1
        db.session.rollback()
    records = [r for r in caplog.records if "schema" in r.getMessage()]
    assert len(records) == 1
    message = records[0].getMessage()
    assert "data.backup_id: 'backup_id' is a required property" in message
    assert "data.size_bytes: -1 is less than the minimum of 0" in message


def test_off_checks_nothing(tmp_path, caplog):
    app, db, clawhooks = app_with(tmp_path, CLAWHOOKS_VALIDATE_PAYLOADS="off")
    with app.app_context(), caplog.at_level(logging.WARNING, logger="flask_clawhooks"):
        clawhooks.emit("backup.completed", {}, owner="acme")
        db.session.rollback()
    assert not [r for r in caplog.records if "schema" in r.getMessage()]


@pytest.mark.parametrize(("debug", "expected"), [(True, "warn"), (False, "off")])
def test_the_default_is_warn_in_debug_mode_and_off_otherwise(tmp_path, debug, expected):
    _app, _db, clawhooks = app_with(tmp_path, DEBUG=debug)
    assert clawhooks.state(_app).settings.validate_payloads == expected


@pytest.mark.parametrize("value", ["loud", True, 1])
def test_a_bad_mode_is_a_configuration_error_listing_the_allowed_ones(tmp_path, value):
    with pytest.raises(ConfigurationError, match="'off', 'warn', 'strict'"):
        app_with(tmp_path, CLAWHOOKS_VALIDATE_PAYLOADS=value)


def test_a_host_type_may_carry_a_schema_that_emit_checks(tmp_path):
    app, db, clawhooks = app_with(tmp_path, CLAWHOOKS_VALIDATE_PAYLOADS="strict")
    clawhooks.register_event_type("invoice.paid", "Invoice paid", schema={
        "type": "object", "properties": {"amount": {"type": "integer"}},
        "required": ["amount"]})
    clawhooks.register_event_type("invoice.sent", "Invoice sent")
    with app.app_context():
        with pytest.raises(InvalidEventData, match=r"data\.amount"):
            clawhooks.emit("invoice.paid", {"amount": "5"}, owner="acme")
        clawhooks.emit("invoice.paid", {"amount": 5}, owner="acme")
        clawhooks.emit("invoice.sent", {"anything": True}, owner="acme")  # no schema
        db.session.rollback()


def test_a_host_schema_that_is_not_valid_json_schema_is_refused_at_registration(tmp_path):
    _app, _db, clawhooks = app_with(tmp_path)
    with pytest.raises(ValueError, match="draft 2020-12"):
        clawhooks.register_event_type("invoice.paid", "Invoice paid",
                                      schema={"type": "integer-ish"})
    assert "invoice.paid" not in clawhooks.event_types


def test_flask_clawhooks_emit_in_strict_mode_names_the_field_and_records_nothing(tmp_path):
    app, db, _clawhooks = app_with(tmp_path, CLAWHOOKS_VALIDATE_PAYLOADS="strict")
    result = app.test_cli_runner().invoke(args=[
        "clawhooks", "emit", "system.health", '{"status": "ok"}', "--owner", "acme"])
    assert result.exit_code == 2
    assert "data.checked_at: 'checked_at' is a required property" in result.output
    with app.app_context():
        assert db.session.query(Event).count() == 0
