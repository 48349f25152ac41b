"""The event catalog: every event type a webhook can subscribe to.

The names and descriptions are the ClawBook webhooks page's tables, grouped as the
dashboard shows them. ``webhook.test`` is sent only by the test endpoint, so it is
not offered for subscription. Hosts add their own types with
:meth:`flask_clawhooks.ClawHooks.register_event_type`, with a schema of their own or none.
Each type's ``schema`` is the JSON Schema of its ``data`` (:mod:`flask_clawhooks.schemas`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .schemas import DATA_SCHEMAS


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    group: str
    #: The JSON Schema (draft 2020-12) of the event's ``data``; ``None`` for a host type
    #: registered without one. Not compared: a dict cannot be hashed.
    schema: dict[str, Any] | None = field(default=None, compare=False)


def _typed(name: str, description: str, group: str) -> EventType:
    return EventType(name, description, group, DATA_SCHEMAS[name])


CATALOG: tuple[EventType, ...] = (
    _typed("message.received", "New inbound message received", "Message"),
    _typed("message.sent", "Outbound message sent", "Message"),
    _typed("message.delivered", "Message delivery confirmed", "Message"),
    _typed("message.failed", "Message delivery failed", "Message"),
    _typed("integration.connected", "Platform connected", "Integration"),
    _typed("integration.disconnected", "Platform disconnected", "Integration"),
    _typed("integration.error", "Integration error occurred", "Integration"),
    _typed("ai.request", "AI request sent", "AI"),
    _typed("ai.response", "AI response received", "AI"),
    _typed("ai.error", "AI provider error", "AI"),
    _typed("ai.rate_limited", "Rate limit hit", "AI"),
    _typed("system.health", "Health status change", "System"),
    _typed("backup.completed", "Backup finished", "System"),
    _typed("backup.failed", "Backup failed", "System"),
)

#: Sent by ``POST /webhooks/{id}/test`` to that one webhook, whatever it subscribes to.
TEST_EVENT = "webhook.test"

#: The ``webhook.test`` type, for the places that list it with the catalog (the API's
#: ``/event-types``, the OpenAPI ``webhooks``); it is not offered for subscription.
TEST_EVENT_TYPE = _typed(TEST_EVENT, "Test event sent by the test endpoint", "Test")
