"""The served OpenAPI document, and schemathesis runs against the app that serves it.

Schemathesis reads ``/api/v1/openapi.json`` from the app and generates requests for every
operation, both valid ones (positive) and ones that break the document (negative). Each
response must be no 5xx, have a status, content type, headers and body that the document
declares, and negative requests must be refused with a 4xx. Half the valid requests use
the ids of a real webhook, delivery and event of the key's owner, so the operations also
run past their 404s.
"""

from __future__ import annotations

import collections
import time

import hypothesis
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks
from sqlalchemy import select

from flask_clawhooks.models import Delivery, Event, Webhook

from .conftest import PREFIX

EXAMPLES_PER_OPERATION = 40
CHECKS = [getattr(checks, name) for name in (
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_headers_conformance", "response_schema_conformance",
    "negative_data_rejection")]


def test_the_document_is_served_without_a_key_and_lists_every_route(host):
    response = host.app.test_client().get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200
    document = response.json
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": PREFIX}]
    served = {
        (rule.rule.removeprefix(PREFIX).replace("<", "{").replace(">", "}"), method.lower())
        for rule in host.app.url_map.iter_rules()
        if rule.endpoint.startswith("clawhooks_api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, item in document["paths"].items()
                  for method in item}
    assert documented == served
    events = document["components"]["schemas"]["WebhookCreate"]["properties"]["events"]
    assert "message.received" in events["items"]["enum"]
    assert "webhook.test" not in events["items"]["enum"]


class Target:
    """A real webhook (on the receiver), delivery and event of acme, made again after a
    generated DELETE removes them."""

    def __init__(self, host, receiver):
        self.host, self.receiver = host, receiver

    def ids(self) -> dict[str, str]:
        host = self.host
        with host.app.app_context():
            session = host.db.session
            hook = session.scalars(select(Webhook).where(Webhook.owner == "acme")).first()
            if hook is None:
                hook = Webhook(owner="acme", url=self.receiver.url, secret="x" * 16,
                               events=["message.received"])
                session.add(hook)
                session.commit()
            # generated PATCHes change these; put them back so /test reaches the receiver
            hook.url, hook.enabled = self.receiver.url, True
            session.commit()
            delivery = session.scalars(select(Delivery.id)
                                       .where(Delivery.webhook_id == hook.id)).first()
            if delivery is None:
                delivery = host.clawhooks.send_test(hook).id
            event = session.scalars(select(Event.id).where(Event.owner == "acme")).first()
            return {"webhook_id": hook.id, "delivery_id": delivery, "event_id": event}


def test_schemathesis_finds_no_5xx_and_no_response_the_document_does_not_allow(
        host, acme, receiver, capsys):
    schema = schemathesis.openapi.from_wsgi(f"{PREFIX}/openapi.json", host.app)
    target = Target(host, receiver)
    headers = {"Authorization": f"Bearer {acme.key}"}
    tried: collections.Counter[tuple[str, str, int]] = collections.Counter()
    started = time.monotonic()

    operations = [result.ok() for result in schema.get_all_operations()]
    # every operation but GET /openapi.json, which schemathesis leaves out (it is the schema)
    assert len(operations) == 16

    def fuzz(operation, mode):
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  derandomize=True, phases=[hypothesis.Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode), real_ids=st.booleans())
        def run(case, real_ids):
            if real_ids and mode is GenerationMode.POSITIVE and case.path_parameters:
                ids = target.ids()
                for name in case.path_parameters:
                    case.path_parameters[name] = ids[name]
            # the key goes in unless this negative case is about the headers (no key)
            negative_headers = case.meta is not None and case.meta.is_negative_at(
                "header")  # type: ignore[arg-type]
            response = case.call_and_validate(
                headers=None if negative_headers else headers, checks=CHECKS)
            tried[(case.operation.label, mode.value, response.status_code)] += 1

        run()

    for operation in operations:
        # an operation with no input and no key to send (GET /event-types) has nothing
        # a negative case could break
        takes_input = any(True for _ in operation.iter_parameters()) or any(
            True for _ in operation.body) or operation.definition.raw.get("security") != []
        modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if takes_input else (
            GenerationMode.POSITIVE,)
        for mode in modes:
            fuzz(operation, mode)

    by_operation: dict[str, collections.Counter[int]] = collections.defaultdict(
        collections.Counter)
    for (label, _, status), count in tried.items():
        by_operation[label][status] += count
    lines = [f"schemathesis: {sum(tried.values())} requests in "
             f"{time.monotonic() - started:.1f} s, no failed check"]
    lines += [f"  {label:58} " + " ".join(f"{status}x{n}" for status, n in sorted(c.items()))
              for label, c in sorted(by_operation.items())]
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    statuses = {status for counter in by_operation.values() for status in counter}
    assert not any(status >= 500 for status in statuses)
    assert {200, 201, 204, 401, 404, 422} <= statuses, statuses


def test_the_api_root_answers_json_with_links_without_a_key(host):
    answer = host.app.test_client().get(f"{PREFIX}/")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    links = answer.json["links"]
    assert links["openapi"] == f"{PREFIX}/openapi.json"
    assert host.app.test_client().get(links["openapi"]).status_code == 200
    assert links["dashboard"].endswith("/") and links["webhooks"] == f"{PREFIX}/webhooks"

