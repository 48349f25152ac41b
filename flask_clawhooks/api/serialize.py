"""The JSON shapes of the API's objects. ``openapi.py`` describes each one; keep them in step.

A webhook's secret appears only in the answer to its creation (:func:`created_webhook`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .. import custom_headers, ordering
from ..apikeys import ApiKey
from ..catalog import TEST_EVENT, EventType
from ..delivery_state import delivery_state
from ..models import Attempt, Delivery, DeliveryStatus, Event, Webhook
from ..samples import SAMPLES
from ..state import get_state
from ..stats import WebhookStats, WindowStats
from ..timeutil import isoformat, utcnow


def webhook(hook: Webhook) -> dict[str, Any]:
    return {
        "id": hook.id,
        "url": hook.url,
        "events": list(hook.events),
        "status": hook.public_status,
        "enabled": hook.enabled,
        "description": hook.description,
        "headers": custom_headers.public(hook.custom_headers),
        "ordering": hook.ordering,
        "max_per_second": hook.max_per_second,
        "max_in_flight": hook.max_in_flight,
        "created_at": isoformat(hook.created_at),
        "updated_at": isoformat(hook.updated_at),
    }


def created_webhook(hook: Webhook) -> dict[str, Any]:
    """The answer to a creation: the only time the secret is shown."""
    return {**webhook(hook), "secret": hook.secret}


def recent_delivery(delivery: Delivery) -> dict[str, Any]:
    """Exactly the keys the ClawBook page shows under ``recent_deliveries``."""
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "status": delivery.status,
        "response_code": delivery.response_code,
        "response_time_ms": delivery.response_time_ms,
        "timestamp": isoformat(delivery.updated_at),
    }


def webhook_details(hook: Webhook, recent: list[Delivery],
                    queue: tuple[str | None, int] | None = None) -> dict[str, Any]:
    """``queue`` is the head of a FIFO webhook's queue and how many wait behind it
    (:func:`flask_clawhooks.ordering.waiting`); None for other webhooks."""
    return {**webhook(hook), "recent_deliveries": [recent_delivery(d) for d in recent],
            "queue": {"head": queue[0], "waiting": queue[1]} if queue is not None else None}


def delivery(row: Delivery, heads: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A delivery in the log: the seed's keys, then the event type and retry state.

    ``timestamp`` is when it last changed: its last attempt, or its creation.
    ``waiting_behind`` is the head of its FIFO queue while it waits behind it, given the
    ``heads`` of the queues (:func:`flask_clawhooks.ordering.heads`).
    """
    return {
        **recent_delivery(row),
        "webhook_id": row.webhook_id,
        "event_type": row.event_type,
        "attempt_count": row.attempt_count,
        "next_attempt_at": isoformat(row.next_attempt_at)
        if row.status == DeliveryStatus.PENDING else None,
        "last_error": row.last_error,
        "status_detail": state_detail(row),
        "waiting_behind": ordering.waiting_behind(row.status, row.id, row.webhook_id,
                                                  heads or {}),
        "created_at": isoformat(row.created_at),
    }


def state_detail(row: Delivery) -> str:
    """What the dashboard says beside the status word (:mod:`..delivery_state`), without
    the countdown: ``attempt 1 failed (HTTP 500), retry 1 of 5``."""
    settings = get_state().settings
    return delivery_state(row, settings.retry_delays, utcnow()).detail


def attempt(row: Attempt) -> dict[str, Any]:
    return {
        "id": row.id,
        "number": row.number,
        "outcome": row.outcome,
        "response_code": row.response_code,
        "response_time_ms": row.response_time_ms,
        "error": row.error,
        "request_headers": row.request_headers,
        "response_headers": row.response_headers,
        "response_excerpt": row.response_excerpt,
        "timestamp": isoformat(row.created_at),
    }


def delivery_details(row: Delivery, heads: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {**delivery(row, heads), "attempts": [attempt(a) for a in row.attempts]}


def event(row: Event) -> dict[str, Any]:
    """The envelope exactly as it was sent: ``id``, ``type``, ``created_at``, ``data``;
    ``data`` is null once the payload expired (``CLAWHOOKS_PAYLOAD_RETENTION``)."""
    if row.body is None:
        return {"id": row.id, "type": row.type, "created_at": isoformat(row.created_at),
                "data": None}
    return json.loads(row.body)  # type: ignore[no-any-return]


def api_key(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "owner": key.owner,
        "name": key.name,
        "prefix": key.prefix,
        "created_at": isoformat(key.created_at),
        "last_used_at": isoformat(key.last_used_at),
        "revoked_at": isoformat(key.revoked_at),
    }


def recovery(webhook_id: str, fields: dict[str, Any], requeued: int) -> dict[str, Any]:
    """The answer to ``POST /webhooks/{id}/recover``."""
    return {"webhook_id": webhook_id, "since": isoformat(fields["since"]),
            "until": isoformat(fields["until"]), "deliveries": fields["deliveries"],
            "requeued": requeued}


def page(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    """One page of a list; ``next_cursor`` is the ``after`` that fetches the next one."""
    return {"data": data, "has_more": has_more,
            "next_cursor": data[-1]["id"] if has_more and data else None}


def _window(stats: WindowStats) -> dict[str, Any]:
    rate = stats.success_rate
    return {
        "attempts": stats.attempts,
        "successes": stats.successes,
        "failures": stats.failures,
        "success_rate": round(rate, 4) if rate is not None else None,
        "p50_ms": stats.p50_ms,
        "p95_ms": stats.p95_ms,
    }


def webhook_stats(hook: Webhook, stats: WebhookStats) -> dict[str, Any]:
    """``GET /webhooks/{id}/stats``: the webhook's health (:mod:`flask_clawhooks.stats`)."""
    return {
        "webhook_id": hook.id,
        "status": hook.public_status,
        "disabled_reason": hook.disabled_reason if not hook.enabled else None,
        "generated_at": isoformat(stats.generated_at),
        "last_24h": _window(stats.windows["24h"]),
        "last_7d": _window(stats.windows["7d"]),
        "last_success_at": isoformat(stats.last_success_at),
        "last_failure_at": isoformat(stats.last_failure_at),
        "consecutive_failures": stats.consecutive_failures,
        "failing_since": isoformat(stats.failing_since),
        "hourly": [{"start": isoformat(h.start), "successes": h.successes,
                    "failures": h.failures} for h in stats.hours],
    }


def event_type(kind: EventType) -> dict[str, Any]:
    """``GET /event-types``: one type of the catalog (or ``webhook.test``), its schema and
    its sample envelope, ``null`` for a host type that has none."""
    return {
        "name": kind.name,
        "description": kind.description,
        "group": kind.group,
        "subscribable": kind.name != TEST_EVENT,
        "schema": kind.schema,
        "example": SAMPLES.get(kind.name),
    }
