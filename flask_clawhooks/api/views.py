"""The endpoints of the JSON API. Paths are relative to ``CLAWHOOKS_API_PREFIX``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from .. import apikeys, ordering, recovery, search
from ..catalog import TEST_EVENT, TEST_EVENT_TYPE, EventType
from ..errors import TooManyTestSends
from ..models import AnySession, Delivery, DeliveryStatus, Ordering
from ..ratelimit import over_limit
from ..state import get_state
from ..version import __version__
from . import resources, serialize, validation
from .errors import (
    InvalidApiKey,
    NotJson,
    RateLimited,
    TooManyToRecover,
    http_error_response,
    json_response,
)
from .openapi import document

#: Largest request body read, in bytes; more is answered ``413``.
MAX_BODY_BYTES = 64 * 1024

views = Blueprint("clawhooks_api", __name__)

#: The query parameters each endpoint takes; any other is refused with ``422``.
QUERY_PARAMETERS = {
    "clawhooks_api.list_webhooks": ("limit", "after"),
    "clawhooks_api.list_deliveries": ("limit", "after", "status", "event_type"),
    "clawhooks_api.list_events": ("limit", "after", "type"),
    "clawhooks_api.search_deliveries": ("limit", "after", *validation.SEARCH_PARAMETERS),
}


#: Endpoints that need no API key: they describe the API and its events, the same for
#: every owner, and hold nothing of any owner's.
PUBLIC_ENDPOINTS = frozenset({"clawhooks_api.openapi", "clawhooks_api.event_types",
                              "clawhooks_api.index"})


def _owner() -> str:
    return g.clawhooks_owner  # type: ignore[no-any-return]


@views.before_request
def authenticate() -> None:
    """Find the owner of the request's ``Authorization: Bearer`` key, or answer ``401``;
    then refuse query parameters the endpoint does not take."""
    request.max_content_length = MAX_BODY_BYTES
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise InvalidApiKey("Send your API key as 'Authorization: Bearer <api key>'; "
                            "`flask clawhooks api-key create --owner …` makes one.")
    state = get_state()
    loader = state.loaders.api_key
    owner: str | None
    if loader is not None:
        owner = loader(token)
    else:
        session = state.db.session
        key = apikeys.resolve(session, token)
        owner = key.owner if key is not None else None
        if key is not None and key in session.dirty:
            session.commit()
    if not owner:
        raise InvalidApiKey("This API key is unknown or has been revoked.")
    limit = state.settings.api_rate_limit
    if limit is not None:
        wait = over_limit(state.request_redis, apikeys.hash_key(token)[:32], limit,
                          breaker=state.breaker, fallback=state.local_rate_limit,
                          processes=state.settings.api_rate_limit_processes)
        if wait is not None:
            raise RateLimited(f"More than {limit} requests a minute with this API key; "
                              f"try again in {wait} s.", wait)
    g.clawhooks_owner = owner
    validation.query(request.args, QUERY_PARAMETERS.get(request.endpoint or "", ()))


def _json_body() -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise NotJson("Send the body as JSON with 'Content-Type: application/json'.")
    return validation.json_object(request.get_data(cache=True))


def _known_events() -> set[str]:
    return set(get_state().extension.event_types) - {TEST_EVENT}


def _all_event_types() -> list[EventType]:
    """The catalog, the host's types, then ``webhook.test``."""
    return [*get_state().extension.event_types.values(), TEST_EVENT_TYPE]


@views.get("/")
def index() -> Response:
    """What this API is and where to read about it; needs no API key, so the address a
    person opens first (the one the banner and the demo's home page show) answers."""
    state = get_state()
    prefix = state.settings.api_prefix
    dashboard = state.settings.dashboard_prefix
    return json_response({
        "name": "ClawBook webhooks API",
        "version": __version__,
        "authentication": "Send 'Authorization: Bearer <api key>' with every request "
                          "except this one and the OpenAPI document.",
        "links": {
            "openapi": f"{prefix}/openapi.json",
            "dashboard": f"{dashboard}/",
            "webhooks": f"{prefix}/webhooks",
            "deliveries": f"{prefix}/deliveries",
            "events": f"{prefix}/events",
        },
    })


@views.get("/openapi.json")
def openapi() -> Response:
    """This API's OpenAPI 3.1 document; needs no API key."""
    prefix = get_state().settings.api_prefix
    return json_response(document(prefix, sorted(_known_events()),
                                  max_custom_headers=get_state().settings.max_custom_headers,
                                  webhook_types=_all_event_types()))


@views.get("/event-types")
def event_types() -> Response:
    """Every event type with its description, group, JSON Schema and example; needs no
    API key, like the OpenAPI document whose ``webhooks`` hold the same schemas."""
    validation.query(request.args, ())
    return json_response({"data": [serialize.event_type(t) for t in _all_event_types()]})


@views.post("/webhooks")
def create_webhook() -> Response:
    state = get_state()
    fields = validation.webhook_fields(_json_body(), state.settings, _known_events(),
                                       creating=True)
    hook = resources.create_webhook(state.db.session, _owner(), fields)
    response = json_response(serialize.created_webhook(hook), 201)
    response.headers["Location"] = f"{state.settings.api_prefix}/webhooks/{hook.id}"
    return response


@views.get("/webhooks")
def list_webhooks() -> Response:
    limit = validation.page_limit(request.args.get("limit"))
    after = validation.cursor(request.args.get("after"), "wh")
    rows, more = resources.list_webhooks(get_state().db.session, _owner(), limit, after)
    return json_response(serialize.page([serialize.webhook(r) for r in rows], more))


@views.get("/webhooks/<webhook_id>")
def get_webhook(webhook_id: str) -> Response:
    session = get_state().db.session
    hook = resources.get_webhook(session, webhook_id, _owner())
    recent = resources.recent_deliveries(session, hook)
    queue = ordering.waiting(session, hook.id) if hook.ordering == Ordering.FIFO else None
    return json_response(serialize.webhook_details(hook, recent, queue))


@views.get("/webhooks/<webhook_id>/stats")
def webhook_stats(webhook_id: str) -> Response:
    """Success rate, response times and failures over the last 24 hours and 7 days."""
    from ..stats import webhook_stats as compute

    session = get_state().db.session
    hook = resources.get_webhook(session, webhook_id, _owner())
    return json_response(serialize.webhook_stats(hook, compute(session, hook.id)))


@views.patch("/webhooks/<webhook_id>")
def update_webhook(webhook_id: str) -> Response:
    state = get_state()
    hook = resources.get_webhook(state.db.session, webhook_id, _owner())
    fields = validation.webhook_fields(_json_body(), state.settings, _known_events(),
                                       creating=False, current_headers=hook.custom_headers)
    resources.update_webhook(state.db.session, hook, fields,
                             state.settings.secret_rotation_grace)
    return json_response(serialize.webhook(hook))


@views.delete("/webhooks/<webhook_id>")
def delete_webhook(webhook_id: str) -> tuple[str, int]:
    session = get_state().db.session
    resources.delete_webhook(session, resources.get_webhook(session, webhook_id, _owner()))
    return "", 204


@views.post("/webhooks/<webhook_id>/test")
def test_webhook(webhook_id: str) -> Response:
    """Send a ``webhook.test`` event now and answer with the attempt's outcome."""
    state = get_state()
    session = state.db.session
    hook = resources.get_webhook(session, webhook_id, _owner())
    resources.ensure_enabled(hook, "sending a test")
    try:
        sent = state.extension.send_test(hook)
    except TooManyTestSends as exc:
        raise RateLimited(str(exc), exc.retry_after) from None
    delivery = resources.get_delivery(session, sent.id, _owner())
    last = delivery.attempts[-1] if delivery.attempts else None
    return json_response({"delivery": serialize.delivery_details(delivery,
                                                                 _heads(session, [delivery])),
                    "attempt": serialize.attempt(last) if last is not None else None})


@views.get("/webhooks/<webhook_id>/deliveries")
def list_deliveries(webhook_id: str) -> Response:
    session = get_state().db.session
    hook = resources.get_webhook(session, webhook_id, _owner())
    args = request.args
    limit = validation.page_limit(args.get("limit"))
    after = validation.cursor(args.get("after"), "del")
    status = validation.choice("status", args.get("status"),
                               (DeliveryStatus.PENDING, DeliveryStatus.SUCCESS,
                                DeliveryStatus.FAILED))
    event_type = _event_type_filter(args.get("event_type"), "event_type")
    rows, more = resources.list_deliveries(session, hook, limit, after, status, event_type)
    heads = _heads(session, rows)
    return json_response(serialize.page([serialize.delivery(r, heads) for r in rows], more))


@views.get("/webhooks/<webhook_id>/deliveries/<delivery_id>")
def get_delivery(webhook_id: str, delivery_id: str) -> Response:
    session = get_state().db.session
    hook = resources.get_webhook(session, webhook_id, _owner())
    delivery = resources.get_delivery(session, delivery_id, _owner(), hook.id)
    return json_response(serialize.delivery_details(delivery, _heads(session, [delivery])))


@views.post("/webhooks/<webhook_id>/deliveries/<delivery_id>/retry")
def retry_delivery(webhook_id: str, delivery_id: str) -> Response:
    """Make the delivery pending and due now; a worker sends it (``202``)."""
    state = get_state()
    session = state.db.session
    hook = resources.get_webhook(session, webhook_id, _owner())
    delivery = resources.get_delivery(session, delivery_id, _owner(), hook.id)
    resources.ensure_enabled(hook, "retrying its deliveries")
    resources.ensure_not_in_flight(delivery)
    state.extension.retry(delivery.id)
    return json_response(serialize.delivery(delivery, _heads(session, [delivery])), 202)


@views.post("/webhooks/<webhook_id>/recover")
def recover_webhook(webhook_id: str) -> Response:
    """Re-queue the webhook's failed (or all) deliveries made in a time range (``202``).

    A range over ``CLAWHOOKS_RECOVER_LIMIT`` deliveries is refused (``422``
    ``range_too_large``) before anything changes; see :mod:`flask_clawhooks.recovery`.
    """
    state = get_state()
    session = state.db.session
    hook = resources.get_webhook(session, webhook_id, _owner())
    fields = validation.recovery_fields(_json_body())
    resources.ensure_enabled(hook, "recovering its deliveries")
    job = recovery.Recovery(hook.id, fields["since"], fields["until"], fields["deliveries"])
    try:
        requeued = recovery.recover(session, job, state.enqueue,
                                    limit=state.settings.recover_limit)
    except recovery.RangeTooLarge as exc:
        raise TooManyToRecover(
            f"This range holds {exc.found} {recovery.noun(job)} to re-queue; one recovery "
            f"may re-queue at most {exc.limit} (CLAWHOOKS_RECOVER_LIMIT). Narrow the range "
            "with an earlier 'until', or have "
            f"an operator run `flask clawhooks recover {hook.id} --since …`, which works "
            "through any number in batches.") from None
    return json_response(serialize.recovery(hook.id, fields, requeued), 202)


@views.get("/deliveries")
def search_deliveries() -> Response:
    """Search the delivery log of all the owner's webhooks, newest first."""
    args = request.args
    limit = validation.page_limit(args.get("limit"))
    after = validation.cursor(args.get("after"), "del")
    query = validation.delivery_query(args, (DeliveryStatus.PENDING, DeliveryStatus.SUCCESS,
                                             DeliveryStatus.FAILED))
    session = get_state().db.session
    rows, more = search.search(session, _owner(), query, limit, after)
    heads = _heads(session, rows)
    return json_response(serialize.page([serialize.delivery(r, heads) for r in rows], more))


@views.get("/events")
def list_events() -> Response:
    args = request.args
    limit = validation.page_limit(args.get("limit"))
    after = validation.cursor(args.get("after"), "evt")
    event_type = _event_type_filter(args.get("type"), "type")
    rows, more = resources.list_events(get_state().db.session, _owner(), limit, after,
                                       event_type)
    return json_response(serialize.page([serialize.event(r) for r in rows], more))


@views.get("/events/<event_id>")
def get_event(event_id: str) -> Response:
    """The event's frozen bytes, exactly as its deliveries sent them (its envelope with
    null ``data`` once the payload expired)."""
    row = resources.get_event(get_state().db.session, event_id, _owner())
    if row.body is None:
        return json_response(serialize.event(row))
    return current_app.response_class(row.body, mimetype="application/json")


def _heads(session: AnySession, rows: Sequence[Delivery]) -> dict[str, str]:
    """The heads of the FIFO queues of the pending ones among ``rows``."""
    return ordering.heads(session, {r.webhook_id for r in rows
                                    if r.status == DeliveryStatus.PENDING})


def _event_type_filter(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    return validation.text(field, value, max_length=validation.EVENT_TYPE_MAX)


views.register_error_handler(HTTPException, http_error_response)
