"""``GET /event-types`` and the OpenAPI ``webhooks`` section: every event type with its
JSON Schema, served without an API key, and a document that still validates."""

from __future__ import annotations

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from flask_clawhooks import CATALOG, TEST_EVENT
from flask_clawhooks.samples import SAMPLES
from flask_clawhooks.schemas import DATA_SCHEMAS

from .conftest import PREFIX

ALL_TYPES = [*(t.name for t in CATALOG), TEST_EVENT]


def test_event_types_lists_all_15_with_schema_and_example_without_a_key(host):
    response = host.app.test_client().get(f"{PREFIX}/event-types")
    assert response.status_code == 200
    listed = response.json["data"]
    assert [t["name"] for t in listed] == ALL_TYPES
    by_name = {t["name"]: t for t in listed}
    received = by_name["message.received"]
    assert received["description"] == "New inbound message received"
    assert received["group"] == "Message"
    assert received["subscribable"] is True
    assert by_name[TEST_EVENT]["subscribable"] is False
    for name, entry in by_name.items():
        assert entry["schema"] == DATA_SCHEMAS[name]
        assert entry["example"] == SAMPLES[name]
        assert not list(Draft202012Validator(entry["schema"]).iter_errors(
            entry["example"]["data"]))


def test_event_types_include_host_types_with_or_without_a_schema(host):
    host.clawhooks.register_event_type("invoice.paid", "Invoice paid", schema={
        "type": "object", "required": ["amount"]})
    host.clawhooks.register_event_type("invoice.sent", "Invoice sent", "Billing")
    listed = host.app.test_client().get(f"{PREFIX}/event-types").json["data"]
    by_name = {t["name"]: t for t in listed}
    assert by_name["invoice.paid"]["schema"] == {"type": "object", "required": ["amount"]}
    assert by_name["invoice.paid"]["example"] is None
    assert by_name["invoice.sent"] == {"name": "invoice.sent", "description": "Invoice sent",
                                       "group": "Billing", "subscribable": True,
                                       "schema": None, "example": None}


def test_an_unknown_query_parameter_is_refused_in_the_apis_error_format(host):
    response = host.app.test_client().get(f"{PREFIX}/event-types?group=AI")
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_error"
    assert "group" in response.json["error"]["message"]


def test_the_openapi_document_has_one_webhook_per_event_type_and_validates(host):
    document = host.app.test_client().get(f"{PREFIX}/openapi.json").json
    validate(document)
    assert list(document["webhooks"]) == ALL_TYPES
    schemas = document["components"]["schemas"]
    received = document["webhooks"]["message.received"]["post"]
    body = received["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/MessageReceivedEvent"}
    assert body["example"] == SAMPLES["message.received"]
    headers = {p["name"] for p in received["parameters"] if p["in"] == "header"}
    assert {"X-ClawBook-Signature", "webhook-id", "webhook-timestamp",
            "webhook-signature"} <= headers
    for name in ALL_TYPES:
        post = document["webhooks"][name]["post"]
        component = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schema = schemas[component.rsplit("/", 1)[-1]]
        assert schema["properties"]["type"] == {"const": name}
        assert schema["properties"]["data"] == DATA_SCHEMAS[name]
        assert not list(Draft202012Validator(schema).iter_errors(SAMPLES[name]))
    assert "/event-types" in document["paths"]
    assert document["paths"]["/event-types"]["get"]["security"] == []
