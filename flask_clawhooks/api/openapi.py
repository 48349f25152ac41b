"""The OpenAPI 3.1 document of the API, served at ``{prefix}/openapi.json``.

Built per request from the app's settings (its prefix) and event catalog (hosts may
register types). ``tests/api/test_openapi.py`` runs schemathesis against it, so a
response that does not match what is written here fails the suite.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import custom_headers
from ..catalog import TEST_EVENT, EventType
from ..models import AttemptOutcome, DeliveryStatus, WebhookStatus
from ..samples import SAMPLES
from ..schemas import envelope_schema
from ..version import __version__
from . import validation
from .resources import RECENT_DELIVERIES

TIME = {"type": "string", "format": "date-time", "examples": ["2026-01-30T14:30:00Z"]}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
NULLABLE_INT = {"type": ["integer", "null"]}
NULLABLE_TEXT = {"type": ["string", "null"]}
WEBHOOK_STATUS = {"type": "string", "enum": [status.value for status in WebhookStatus]}
DELIVERY_STATUS = {"type": "string", "enum": [status.value for status in DeliveryStatus]}
URL = {"type": "string", "minLength": 1, "maxLength": validation.URL_MAX,
       "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://",
       "description": "Absolute http(s) URL with a host. https only when the install sets "
                      "CLAWHOOKS_REQUIRE_HTTPS. Literal private or loopback addresses are "
                      "refused unless the install allows them.",
       "examples": ["https://your-server.com/webhook"]}
SECRET: dict[str, Any] = {"type": "string", "minLength": validation.SECRET_MIN,
          "maxLength": validation.SECRET_MAX,
          "description": "Key of the HMAC-SHA256 signature in X-ClawBook-Signature."}
DESCRIPTION = {"type": ["string", "null"], "maxLength": validation.DESCRIPTION_MAX}
# Delivery control (flask_clawhooks.control), as the webhook JSON shows it and as create
# and update take it.
ORDERING = {"type": "string", "enum": list(validation.ORDERINGS),
            "description": "fifo: one delivery at a time, in emit order; the ones behind "
                           "a failing delivery wait, without attempts, until it succeeds "
                           "or fails for good. none (the default): no order kept."}
MAX_PER_SECOND = {"type": ["number", "null"], "minimum": validation.PER_SECOND_MIN,
                  "maximum": validation.PER_SECOND_MAX,
                  "description": "Most requests a second to this webhook, counted across "
                                 "every worker, evenly spaced; null: no limit."}
MAX_IN_FLIGHT = {"type": ["integer", "null"], "minimum": validation.IN_FLIGHT_MIN,
                 "maximum": validation.IN_FLIGHT_MAX,
                 "description": "Most requests open at once to this webhook, counted "
                                "across every worker; null: no limit."}
CONTROL_INPUT = {"ordering": ORDERING, "max_per_second": MAX_PER_SECOND,
                 "max_in_flight": MAX_IN_FLIGHT}


def _id(prefix: str) -> dict[str, Any]:
    return {"type": "string", "pattern": validation.ID_PATTERN.format(prefix=prefix),
            "examples": [f"{prefix}_01jkq8m3z5v6w7x8y9a0b1c2d3"]}


def _obj(properties: dict[str, Any], *, required: Sequence[str] | None = None,
         closed: bool = True) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "required": list(properties if required is None else required)}
    if closed:
        schema["additionalProperties"] = False
    return schema


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return {"$ref": f"#/components/responses/{description}"}


def _page(item: str) -> dict[str, Any]:
    return _obj({
        "data": {"type": "array", "items": _ref(item)},
        "has_more": {"type": "boolean"},
        "next_cursor": {"type": ["string", "null"],
                        "description": "Pass as `after` to get the next page."},
    })


def _paging(prefix: str) -> list[dict[str, Any]]:
    return [
        {"name": "limit", "in": "query", "required": False,
         "description": "Items per page.",
         "schema": {"type": "integer", "minimum": 1, "maximum": validation.PAGE_MAX,
                    "default": validation.PAGE_DEFAULT}},
        {"name": "after", "in": "query", "required": False,
         "description": "The `next_cursor` of the previous page.", "schema": _id(prefix)},
    ]


def _path(name: str, prefix: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": _id(prefix)}


#: The headers of every webhook request, as the ``webhooks`` section lists them.
DELIVERY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-ClawBook-Signature", "sha256= and the hex HMAC-SHA256 of the raw body, keyed with "
                             "the webhook's secret."),
    ("X-ClawBook-Event", "The event type."),
    ("X-ClawBook-Delivery", "The delivery id (del_…), the same on every retry."),
    ("webhook-id", "Standard Webhooks: the event id; dedupe on it."),
    ("webhook-timestamp", "Standard Webhooks: Unix seconds of this attempt."),
    ("webhook-signature", "Standard Webhooks: v1, and the base64 HMAC-SHA256 of "
                          "'{webhook-id}.{webhook-timestamp}.{body}'; one per valid secret, "
                          "separated by spaces."),
)


def event_schema_name(name: str) -> str:
    """The component name of an event type's request body: ``MessageReceivedEvent``."""
    words = "".join(c if c.isalnum() else " " for c in name).split()
    return "".join(word[:1].upper() + word[1:] for word in words) + "Event"


def _webhooks(types: Sequence[EventType], schemas: dict[str, Any]) -> dict[str, Any]:
    """One ``webhooks`` entry per event type, its body schema added to ``schemas``."""
    entries: dict[str, Any] = {}
    for kind in types:
        component = event_schema_name(kind.name)
        while component in schemas:  # a host type named like one of ours
            component += "_"
        schemas[component] = {**envelope_schema(kind.name, kind.schema),
                              "title": kind.name, "description": kind.description}
        content: dict[str, Any] = {"schema": _ref(component)}
        if kind.name in SAMPLES:
            content["example"] = SAMPLES[kind.name]
        note = (" Sent only by the test endpoint; it cannot be subscribed to."
                if kind.name == TEST_EVENT else "")
        entries[kind.name] = {"post": {
            "operationId": f"receive{component}",
            "summary": kind.description,
            "description": f"A `{kind.name}` event ({kind.group}), POSTed to the webhook's "
                           f"URL.{note}",
            "tags": [kind.group],
            "parameters": [{"name": name, "in": "header", "required": True,
                            "description": text, "schema": {"type": "string"}}
                           for name, text in DELIVERY_HEADERS],
            "requestBody": {"required": True, "content": {"application/json": content}},
            "responses": {
                "2XX": {"description": "Received: the delivery succeeded."},
                "4XX": {"description": "Refused for good: not retried."},
                "5XX": {"description": "Failed for now: retried on the schedule."},
            },
        }}
    return entries


def document(prefix: str, event_types: Sequence[str], *,
             max_custom_headers: int = 10,
             webhook_types: Sequence[EventType] = ()) -> dict[str, Any]:
    """The document for an API mounted at ``prefix`` whose webhooks may subscribe to
    ``event_types`` and carry up to ``max_custom_headers`` custom headers; its
    ``webhooks`` section describes the request of each of ``webhook_types``."""
    event_type = {"type": "string", "enum": list(event_types)}
    headers_input = {
        "type": "array", "items": _ref("CustomHeaderInput"), "maxItems": max_custom_headers,
        "description": "Headers added to every request, replacing the saved list. A secret "
                       "header already saved may leave out its value (or send "
                       f"{custom_headers.MASK}) to keep it."}
    webhook_props = {
        "id": _id("wh"),
        "url": {"type": "string"},
        "events": {"type": "array", "items": {"type": "string"}},
        "status": WEBHOOK_STATUS,
        "enabled": {"type": "boolean"},
        "description": NULLABLE_TEXT,
        "headers": {"type": "array", "items": _ref("CustomHeader")},
        "ordering": ORDERING,
        "max_per_second": MAX_PER_SECOND,
        "max_in_flight": MAX_IN_FLIGHT,
        "created_at": TIME,
        "updated_at": TIME,
    }
    recent_props = {
        "id": _id("del"),
        "event_id": _id("evt"),
        "status": DELIVERY_STATUS,
        "response_code": NULLABLE_INT,
        "response_time_ms": NULLABLE_INT,
        "timestamp": TIME,
    }
    delivery_props = {
        **recent_props,
        "webhook_id": _id("wh"),
        "event_type": {"type": "string"},
        "attempt_count": {"type": "integer", "minimum": 0},
        "next_attempt_at": NULLABLE_TIME,
        "last_error": NULLABLE_TEXT,
        "status_detail": {"type": "string", "description": (
            "What the dashboard shows beside the status: what happened and what happens "
            "next, such as `attempt 1 failed (HTTP 500), retry 1 of 5`; empty when the "
            "status says it all.")},
        "waiting_behind": {**_id("del"), "type": ["string", "null"],
                           "description": "While this delivery waits behind the head of "
                                          "its FIFO webhook's queue: that head's id."},
        "created_at": TIME,
    }
    schemas = {
        "Error": _obj({"error": _obj({
            "code": {"type": "string"},
            "message": {"type": "string"},
            "errors": {"type": "array", "description": (
                "With `validation_error`: every invalid field at once, each with what "
                "is wrong with it (`message` joins them)."),
                "items": _obj({"field": {"type": "string"},
                               "message": {"type": "string"}})},
        }, required=["code", "message"])}),
        "Webhook": _obj(webhook_props),
        "CreatedWebhook": _obj({**webhook_props, "secret": {"type": "string"}}),
        "WebhookDetails": _obj({**webhook_props, "recent_deliveries": {
            "type": "array", "items": _ref("RecentDelivery"),
            "description": f"The newest {RECENT_DELIVERIES} deliveries."},
            "queue": {"oneOf": [{"type": "null"}, _obj({
                "head": {**_id("del"), "type": ["string", "null"],
                         "description": "The delivery being sent or retried."},
                "waiting": {"type": "integer", "minimum": 0,
                            "description": "Deliveries queued behind it."}})],
                "description": "A FIFO webhook's queue; null for other webhooks."}}),
        "RecentDelivery": _obj(recent_props),
        "Delivery": _obj(delivery_props),
        "Attempt": _obj({
            "id": _id("att"),
            "number": {"type": "integer", "minimum": 1},
            "outcome": {"type": "string",
                        "enum": [outcome.value for outcome in AttemptOutcome]},
            "response_code": NULLABLE_INT,
            "response_time_ms": {"type": "integer", "minimum": 0},
            "error": NULLABLE_TEXT,
            "request_headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "response_headers": {"type": ["object", "null"]},
            "response_excerpt": NULLABLE_TEXT,
            "timestamp": TIME,
        }),
        "StatsWindow": _obj({
            "attempts": {"type": "integer", "minimum": 0,
                         "description": "Finished attempts (success, retry, failed)."},
            "successes": {"type": "integer", "minimum": 0},
            "failures": {"type": "integer", "minimum": 0},
            "success_rate": {"type": ["number", "null"], "minimum": 0, "maximum": 1,
                             "description": "successes / attempts; null without attempts."},
            "p50_ms": {**NULLABLE_INT, "description": "Median response time of the "
                       "attempts that got an HTTP answer (nearest rank)."},
            "p95_ms": {**NULLABLE_INT, "description": "95th percentile of the same."},
        }),
        "WebhookStats": _obj({
            "webhook_id": _id("wh"),
            "status": WEBHOOK_STATUS,
            "disabled_reason": {**NULLABLE_TEXT, "description": "Why the health check "
                                "switched the webhook off, while it is off."},
            "generated_at": TIME,
            "last_24h": _ref("StatsWindow"),
            "last_7d": _ref("StatsWindow"),
            "last_success_at": NULLABLE_TIME,
            "last_failure_at": NULLABLE_TIME,
            "consecutive_failures": {"type": "integer", "minimum": 0, "description":
                                     "Failed attempts since the last successful one."},
            "failing_since": {**NULLABLE_TIME, "description": "The first of those."},
            "hourly": {"type": "array", "minItems": 24, "maxItems": 24,
                       "description": "The last 24 hours, oldest first.",
                       "items": _obj({"start": TIME,
                                      "successes": {"type": "integer", "minimum": 0},
                                      "failures": {"type": "integer", "minimum": 0}})},
        }),
        "DeliveryDetails": _obj({**delivery_props, "attempts": {
            "type": "array", "items": _ref("Attempt")}}),
        "TestResult": _obj({"delivery": _ref("DeliveryDetails"),
                            "attempt": {"oneOf": [_ref("Attempt"), {"type": "null"}]}}),
        "Event": _obj({"id": _id("evt"), "type": {"type": "string"}, "created_at": TIME,
                       "data": {"description": "The event's data, as it was sent."}}),
        "CustomHeader": _obj({
            "name": {"type": "string"},
            "value": {"type": "string", "description": f"{custom_headers.MASK} when secret."},
            "secret": {"type": "boolean"}}),
        "CustomHeaderInput": _obj({
            "name": {"type": "string", "minLength": 1, "maxLength": custom_headers.NAME_MAX,
                     "pattern": custom_headers.NAME_PATTERN,
                     "description": "An RFC 7230 token. Refused: Content-Type, "
                                    "Content-Length, Content-Encoding, Host, User-Agent, "
                                    "Expect, hop-by-hop headers (Connection, Keep-Alive, "
                                    "Transfer-Encoding, TE, Trailer, Upgrade, Proxy-*), "
                                    "X-ClawBook-* and webhook-*.",
                     "examples": ["Authorization"]},
            "value": {"type": "string", "minLength": 1, "maxLength": custom_headers.VALUE_MAX,
                      "pattern": custom_headers.VALUE_PATTERN,
                      "description": "Printable ASCII; no CR, LF or NUL."},
            "secret": {"type": "boolean", "default": False,
                       "description": "Never shown again: masked in answers and logs."},
        }, required=["name"]),
        "RecoverRequest": _obj({
            "since": {"type": "string", "format": "date-time",
                      "description": "Recover deliveries made at or after this time."},
            "until": {"type": ["string", "null"], "format": "date-time",
                      "description": "... and before this time (default: now)."},
            "deliveries": {"type": "string", "enum": ["failed", "all"], "default": "failed",
                           "description": "Only failed deliveries, or every finished one."},
        }, required=["since"]),
        "RecoverResult": _obj({
            "webhook_id": _id("wh"), "since": TIME, "until": NULLABLE_TIME,
            "deliveries": {"type": "string", "enum": ["failed", "all"]},
            "requeued": {"type": "integer", "minimum": 0,
                         "description": "How many deliveries were queued again."}}),
        "EventType": _obj({
            "name": {"type": "string", "examples": ["message.received"]},
            "description": {"type": "string"},
            "group": {"type": "string", "examples": ["Message"]},
            "subscribable": {"type": "boolean",
                             "description": "False for webhook.test, which only the test "
                                            "endpoint sends."},
            "schema": {"type": ["object", "null"],
                       "description": "The JSON Schema (draft 2020-12) of the event's "
                                      "data; null for a type registered without one."},
            "example": {"type": ["object", "null"],
                        "description": "A sample envelope (id, type, created_at, data); "
                                       "null when there is none."},
        }),
        "EventTypeList": _obj({"data": {"type": "array", "items": _ref("EventType")}}),
        "WebhookList": _page("Webhook"),
        "DeliveryList": _page("Delivery"),
        "EventList": _page("Event"),
        "WebhookCreate": _obj({
            "url": URL,
            "events": {"type": "array", "items": event_type, "minItems": 1,
                       "uniqueItems": True},
            "secret": {**SECRET, "description": SECRET["description"]
                       + " Generated (whsec_…) when omitted."},
            "description": DESCRIPTION,
            "headers": headers_input,
            **CONTROL_INPUT,
        }, required=["url", "events"]),
        "WebhookUpdate": _obj({
            "url": URL,
            "events": {"type": "array", "items": event_type, "minItems": 1,
                       "uniqueItems": True},
            "enabled": {"type": "boolean"},
            "secret": {**SECRET, "description": "A new secret. The old one keeps signing "
                       "webhook-signature during CLAWHOOKS_SECRET_ROTATION_GRACE."},
            "description": DESCRIPTION,
            "headers": headers_input,
            **CONTROL_INPUT,
        }, required=[]),
    }
    errors = {
        "BadRequest": "The body is not JSON, or not a JSON object.",
        "Unauthorized": "No API key, or an unknown or revoked one.",
        "NotFound": "No such resource for this API key's owner.",
        "Conflict": "Not possible in the resource's current state.",
        "PayloadTooLarge": "The body is larger than 64 KB.",
        "UnsupportedMediaType": "The body is not application/json.",
        "UnprocessableEntity": "A field or query parameter is invalid.",
        "TooManyRequests": "More than CLAWHOOKS_API_RATE_LIMIT requests a minute with this "
                           "API key.",
    }
    responses: dict[str, Any] = {name: _json(_ref("Error"), text)
                                 for name, text in errors.items()}
    responses["Unauthorized"]["headers"] = {
        "WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}
    responses["TooManyRequests"]["headers"] = {
        "Retry-After": {"schema": {"type": "string"},
                        "description": "Seconds until requests are accepted again."}}

    def operation(summary: str, ok: dict[str, Any], *codes: str, op_id: str,
                  parameters: list[dict[str, Any]] | None = None,
                  body: str | None = None) -> dict[str, Any]:
        status, response = next(iter(ok.items()))
        op: dict[str, Any] = {"operationId": op_id, "summary": summary,
                              "responses": {status: response, "401": _error("Unauthorized"),
                                            "429": _error("TooManyRequests")}}
        for code in codes:
            op["responses"][code] = _error({
                "400": "BadRequest", "404": "NotFound", "409": "Conflict",
                "413": "PayloadTooLarge", "415": "UnsupportedMediaType",
                "422": "UnprocessableEntity"}[code])
        if parameters:
            op["parameters"] = parameters
        if body:
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": _ref(body)}}}
        return op

    body_errors = ("400", "413", "415", "422")
    webhook_id = [_path("webhook_id", "wh")]
    delivery_filters = [
        {"name": "status", "in": "query", "required": False, "schema": DELIVERY_STATUS},
        {"name": "event_type", "in": "query", "required": False,
         "schema": {"type": "string", "maxLength": validation.EVENT_TYPE_MAX}},
    ]
    paths = {
        "/": {"get": {
            "operationId": "getApiIndex", "security": [],
            "summary": "What this API is: its version and links to this document, the "
                       "dashboard and the collections.",
            "responses": {"200": {"description": "The API's index.",
                                  "content": {"application/json": {"schema": _obj({
                                      "name": {"type": "string"},
                                      "version": {"type": "string"},
                                      "authentication": {"type": "string"},
                                      "links": {"type": "object", "additionalProperties": {
                                          "type": "string"}}})}}}}}},
        "/openapi.json": {"get": {
            "operationId": "getOpenApi", "summary": "This document.", "security": [],
            "responses": {"200": {"description": "The OpenAPI document.",
                                  "content": {"application/json": {"schema": {
                                      "type": "object"}}}}}}},
        "/event-types": {"get": {
            "operationId": "listEventTypes", "security": [],
            "summary": "Every event type: name, description, group, the JSON Schema of its "
                       "data and an example. Needs no API key.",
            "responses": {"200": _json(_ref("EventTypeList"), "The event types."),
                          "422": _error("UnprocessableEntity")}}},
        "/webhooks": {
            "post": operation(
                "Create a webhook. The answer is the only one that shows its secret.",
                {"201": {**_json(_ref("CreatedWebhook"), "Created."), "headers": {
                    "Location": {"schema": {"type": "string"}}}}},
                *body_errors, op_id="createWebhook", body="WebhookCreate"),
            "get": operation("List webhooks, newest first.",
                             {"200": _json(_ref("WebhookList"), "A page of webhooks.")},
                             "422", op_id="listWebhooks", parameters=_paging("wh")),
        },
        "/webhooks/{webhook_id}": {
            "get": operation("A webhook and its recent deliveries.",
                             {"200": _json(_ref("WebhookDetails"), "The webhook.")},
                             "404", op_id="getWebhook", parameters=webhook_id),
            "patch": operation(
                "Change a webhook: url, events, enabled, secret (rotation), description.",
                {"200": _json(_ref("Webhook"), "The changed webhook.")},
                "404", *body_errors, op_id="updateWebhook", parameters=webhook_id,
                body="WebhookUpdate"),
            "delete": operation(
                "Delete a webhook and its delivery log.",
                {"204": {"description": "Deleted."}}, "404", op_id="deleteWebhook",
                parameters=webhook_id),
        },
        "/webhooks/{webhook_id}/stats": {"get": operation(
            "The webhook's health: success rate and response times over the last 24 "
            "hours and 7 days, last success and failure, failures in a row.",
            {"200": _json(_ref("WebhookStats"), "The webhook's statistics.")},
            "404", op_id="getWebhookStats", parameters=webhook_id)},
        "/webhooks/{webhook_id}/test": {"post": operation(
            "Send a webhook.test event now and answer with the attempt.",
            {"200": _json(_ref("TestResult"), "The test delivery and its attempt.")},
            "404", "409", op_id="testWebhook", parameters=webhook_id)},
        "/webhooks/{webhook_id}/deliveries": {"get": operation(
            "The delivery log of a webhook, newest first.",
            {"200": _json(_ref("DeliveryList"), "A page of deliveries.")},
            "404", "422", op_id="listDeliveries",
            parameters=[*webhook_id, *_paging("del"), *delivery_filters])},
        "/webhooks/{webhook_id}/deliveries/{delivery_id}": {"get": operation(
            "One delivery with all its attempts.",
            {"200": _json(_ref("DeliveryDetails"), "The delivery.")},
            "404", op_id="getDelivery",
            parameters=[*webhook_id, _path("delivery_id", "del")])},
        "/webhooks/{webhook_id}/deliveries/{delivery_id}/retry": {"post": operation(
            "Make the delivery pending and due now; a worker sends it.",
            {"202": _json(_ref("Delivery"), "Queued.")},
            "404", "409", op_id="retryDelivery",
            parameters=[*webhook_id, _path("delivery_id", "del")])},
        "/webhooks/{webhook_id}/recover": {"post": operation(
            "Queue the webhook's failed (or all finished) deliveries made in a time range "
            "again, oldest first, as new attempts. A range holding more than "
            "CLAWHOOKS_RECOVER_LIMIT deliveries is refused with 422 range_too_large.",
            {"202": _json(_ref("RecoverResult"), "Queued.")},
            "404", "409", *body_errors, op_id="recoverDeliveries", parameters=webhook_id,
            body="RecoverRequest")},
        "/deliveries": {"get": operation(
            "Search the delivery log of all the owner's webhooks, newest first.",
            {"200": _json(_ref("DeliveryList"), "A page of deliveries.")},
            "422", op_id="searchDeliveries",
            parameters=[*_paging("del"), *delivery_filters,
                        {"name": "event_id", "in": "query", "required": False,
                         "description": "Deliveries of this event.", "schema": _id("evt")},
                        {"name": "response_code", "in": "query", "required": False,
                         "description": "An HTTP status code (404) or class (4xx).",
                         "schema": {"type": "string",
                                    "pattern": validation.RESPONSE_CODE_PATTERN}},
                        {"name": "since", "in": "query", "required": False,
                         "description": "Deliveries made at or after this time.",
                         "schema": {"type": "string", "format": "date-time"}},
                        {"name": "until", "in": "query", "required": False,
                         "description": "Deliveries made before this time.",
                         "schema": {"type": "string", "format": "date-time"}},
                        {"name": "webhook_id", "in": "query", "required": False,
                         "description": "Only this webhook's deliveries.",
                         "schema": _id("wh")}])},
        "/events": {"get": operation(
            "The owner's events, newest first, as they were sent.",
            {"200": _json(_ref("EventList"), "A page of events.")},
            "422", op_id="listEvents",
            parameters=[*_paging("evt"), {
                "name": "type", "in": "query", "required": False,
                "schema": {"type": "string", "maxLength": validation.EVENT_TYPE_MAX}}])},
        "/events/{event_id}": {"get": operation(
            "One event, as it was sent.", {"200": _json(_ref("Event"), "The event.")},
            "404", op_id="getEvent", parameters=[_path("event_id", "evt")])},
    }
    webhooks = _webhooks(webhook_types, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "ClawBook webhooks API", "version": __version__,
                 "description": "Manage the webhooks of the API key's owner."},
        "servers": [{"url": prefix or "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "webhooks": webhooks,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "An API key, cbk_…"}},
            "schemas": schemas,
            "responses": responses,
        },
    }
