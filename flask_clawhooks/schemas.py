"""JSON Schemas (draft 2020-12) of the ``data`` of every event type, and checking data
against them.

:data:`DATA_SCHEMAS` holds one schema per type of the catalog and for ``webhook.test``,
written from the ClawBook page's examples and the field notes of ``docs/events.rst``;
``tests/sender/test_schemas.py`` checks every sample of :mod:`flask_clawhooks.samples`
against its schema. The schemas describe ``data`` only: the envelope around it (``id``,
``type``, ``created_at``) is the same for every type, see :func:`envelope_schema`.

Objects stay open (no ``additionalProperties: false``): the docs promise that fields may
be added to ``data`` over time and ask receivers to ignore fields they do not know, so a
receiver generating types from a schema must not refuse a newer field. Formats
(``date-time``) are annotations, as draft 2020-12 makes them by default: they tell code
generators the field's meaning, and :func:`data_errors` does not assert them.

``emit()`` checks ``data`` against the type's schema when ``CLAWHOOKS_VALIDATE_PAYLOADS``
asks it to (:mod:`flask_clawhooks.config`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when first used: a worker never needs jsonschema to start
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

#: The dialect every schema declares.
DIALECT = "https://json-schema.org/draft/2020-12/schema"

Schema = Mapping[str, Any]

_ID: dict[str, Any] = {"type": "string", "minLength": 1}
_TEXT: dict[str, Any] = {"type": "string"}
_TIME: dict[str, Any] = {"type": "string", "format": "date-time",
                         "description": "UTC, ISO 8601 with Z."}
_COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}
_PLATFORM: dict[str, Any] = {"type": "string", "minLength": 1,
                             "description": "The messaging platform, such as telegram, "
                                            "whatsapp, discord or slack.",
                             "examples": ["telegram"]}
_MODEL: dict[str, Any] = {"type": "string", "minLength": 1,
                          "description": "The AI model.", "examples": ["claude-3-5-sonnet"]}


def _object(properties: dict[str, Any], *optional: str, description: str = "",
            ) -> dict[str, Any]:
    """An open object whose properties are all required but ``optional``."""
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "required": [name for name in properties
                                           if name not in optional]}
    if description:
        schema["description"] = description
    return schema


def _described(schema: Mapping[str, Any], description: str) -> dict[str, Any]:
    return {**schema, "description": description}


def _data_schema(name: str, description: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": DIALECT, "$id": f"urn:clawbook:event:{name}:data",
            "title": f"{name} data", "description": description, **body}


_PERSON = _object({"id": _ID, "name": _TEXT})

#: The schema of ``data``, by event type.
DATA_SCHEMAS: dict[str, dict[str, Any]] = {
    "message.received": _data_schema("message.received", "New inbound message received", _object({
        "message_id": _ID,
        "conversation_id": _ID,
        "platform": _PLATFORM,
        "sender": _object({**_PERSON["properties"],
                           "username": _described(_TEXT, "Where the platform has one.")},
                          "username", description="Who sent the message."),
        "content": _TEXT,
        "timestamp": _described(_TIME, "When the platform received the message."),
    })),
    "message.sent": _data_schema("message.sent", "Outbound message sent", _object({
        "message_id": _ID,
        "conversation_id": _ID,
        "platform": _PLATFORM,
        "recipient": _described(_PERSON, "Who the message went to."),
        "content": _TEXT,
        "ai_model": _described(_MODEL, "The model that wrote the reply, for AI replies."),
        "tokens": _object({"input": _COUNT, "output": _COUNT},
                          description="Tokens of the model call, for AI replies."),
        "latency_ms": _described(_COUNT, "Milliseconds the model call took, for AI "
                                         "replies."),
    }, "ai_model", "tokens", "latency_ms")),
    "message.delivered": _data_schema("message.delivered", "Message delivery confirmed",
                                      _object({"message_id": _ID, "platform": _PLATFORM,
                                               "delivered_at": _TIME})),
    "message.failed": _data_schema("message.failed", "Message delivery failed", _object({
        "message_id": _ID, "platform": _PLATFORM,
        "error": _described(_TEXT, "Why the platform refused or lost the message.")})),
    "integration.connected": _data_schema("integration.connected", "Platform connected",
                                          _object({"platform": _PLATFORM,
                                                   "connected_at": _TIME})),
    "integration.disconnected": _data_schema(
        "integration.disconnected", "Platform disconnected", _object({
            "platform": _PLATFORM,
            "reason": _TEXT,
            "last_connected_at": _TIME,
            "auto_reconnect": {"type": "boolean",
                               "description": "Whether ClawBook will reconnect on its own."},
        })),
    "integration.error": _data_schema("integration.error", "Integration error occurred",
                                      _object({"platform": _PLATFORM, "error": _TEXT})),
    "ai.request": _data_schema("ai.request", "AI request sent", _object({
        "request_id": _ID, "model": _MODEL, "tokens": _object({"input": _COUNT})})),
    "ai.response": _data_schema("ai.response", "AI response received", _object({
        "request_id": _described(_ID, "The request_id of the ai.request."),
        "model": _MODEL,
        "tokens": _object({"input": _COUNT, "output": _COUNT}),
        "latency_ms": _COUNT,
    })),
    "ai.error": _data_schema("ai.error", "AI provider error",
                             _object({"model": _MODEL, "error": _TEXT})),
    "ai.rate_limited": _data_schema("ai.rate_limited", "Rate limit hit", _object({
        "model": _MODEL,
        "retry_after_s": {"type": "number", "minimum": 0,
                          "description": "Seconds the provider advises to wait."},
    })),
    "system.health": _data_schema("system.health", "Health status change", _object({
        "status": {"type": "string", "minLength": 1, "examples": ["ok", "degraded"],
                   "description": "The install's new health status."},
        "checked_at": _TIME,
    })),
    "backup.completed": _data_schema("backup.completed", "Backup finished", _object({
        "backup_id": _ID, "size_bytes": _COUNT})),
    "backup.failed": _data_schema("backup.failed", "Backup failed",
                                  _object({"backup_id": _ID, "error": _TEXT})),
    "webhook.test": _data_schema("webhook.test", "A test event", _object({
        "webhook_id": _described(_ID, "The webhook the test was sent to."),
        "message": _TEXT,
    })),
}


def envelope_schema(event_type: str, data: Schema | None) -> dict[str, Any]:
    """The schema of a whole request body of ``event_type`` whose ``data`` is ``data``
    (any JSON value when ``None``: a host type registered without a schema)."""
    # Embedded whole: with its $id it stays a resource of its own, so its own "$ref"s
    # (to "#/$defs/...") still resolve inside it.
    data_schema = dict(data or {})
    return {
        "type": "object",
        "properties": {
            "id": {"type": "string", "pattern": "^evt_",
                   "description": "The event id; the same on every retry: dedupe on it."},
            "type": {"const": event_type},
            "created_at": _TIME,
            "data": data_schema or {"description": "The event's data."},
        },
        "required": ["id", "type", "created_at", "data"],
    }


def check_schema(schema: object) -> dict[str, Any]:
    """Return ``schema`` as a dict if it is a valid draft 2020-12 schema.

    :raises ValueError: saying what is wrong with it.
    """
    if not isinstance(schema, Mapping):
        raise ValueError(f"An event type's schema must be a JSON Schema object, not "
                         f"{schema!r}.")
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"Not a valid JSON Schema (draft 2020-12): {exc.message}") from None
    return dict(schema)


_validators: dict[int, tuple[Schema, Draft202012Validator]] = {}
_lock = threading.Lock()


def _validator(schema: Schema) -> Draft202012Validator:
    """One compiled validator per schema object (kept with it, so its id stays unique)."""
    entry = _validators.get(id(schema))
    if entry is None or entry[0] is not schema:
        from jsonschema import Draft202012Validator

        with _lock:
            entry = (schema, Draft202012Validator(schema))
            _validators[id(schema)] = entry
    return entry[1]


def _path(error: ValidationError) -> str:
    path = "data"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    required = error.validator_value
    if (error.validator == "required" and isinstance(error.instance, Mapping)
            and isinstance(required, list)):
        missing = [name for name in required if name not in error.instance]
        named = [name for name in missing if repr(name) in error.message]
        if named:
            path += f".{named[0]}"
    return path


def data_errors(schema: Schema, data: Any) -> list[str]:
    """What is wrong with ``data`` under ``schema``, one ``"<field path>: <problem>"``
    line per error (``data.sender.name: 'name' is a required property``), in path
    order; empty when it matches."""
    errors = sorted(_validator(schema).iter_errors(data),
                    key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{_path(error)}: {error.message}" for error in errors]
