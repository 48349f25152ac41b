"""The event catalog: every event type a webhook can subscribe to.

The names and descriptions are the ClawBook webhooks page's tables, grouped as the
dashboard shows them. ``webhook.test`` is sent only by the test endpoint, so it is
not offered for subscription. Hosts add their own types with
:meth:`flask_clawhooks.ClawHooks.register_event_type`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    group: str


CATALOG: tuple[EventType, ...] = (
    EventType("message.received", "New inbound message received", "Message"),
    EventType("message.sent", "Outbound message sent", "Message"),
    EventType("message.delivered", "Message delivery confirmed", "Message"),
    EventType("message.failed", "Message delivery failed", "Message"),
    EventType("integration.connected", "Platform connected", "Integration"),
    EventType("integration.disconnected", "Platform disconnected", "Integration"),
    EventType("integration.error", "Integration error occurred", "Integration"),
    EventType("ai.request", "AI request sent", "AI"),
    EventType("ai.response", "AI response received", "AI"),
    EventType("ai.error", "AI provider error", "AI"),
    EventType("ai.rate_limited", "Rate limit hit", "AI"),
    EventType("system.health", "Health status change", "System"),
    EventType("backup.completed", "Backup finished", "System"),
    EventType("backup.failed", "Backup failed", "System"),
)

#: Sent by ``POST /webhooks/{id}/test`` to that one webhook, whatever it subscribes to.
TEST_EVENT = "webhook.test"
