"""Sample events: one documented envelope per catalog type and for ``webhook.test``.

This is the one copy of the examples. ``docs/events.rst`` renders them with the
``.. clawhooks-sample::`` directive, the dashboard's *Send test* sends the ``data`` of
the type an owner picks, and the demo app's simulator starts from them. The three types
the ClawBook webhooks page shows carry the page's own example; the others follow the same
style. Ids and times in them are fixed, so a receiver (and a reader) can tell a sample
from a real event.
"""

from __future__ import annotations

import copy
from typing import Any

from .catalog import TEST_EVENT

#: Envelopes as the sender writes them (keys ``id, type, created_at, data``), by type.
SAMPLES: dict[str, dict[str, Any]] = {
    'message.received': {
        "id": "evt_abc123",
        "type": "message.received",
        "created_at": "2026-01-30T14:30:00Z",
        "data": {
            "message_id": "msg_xyz789",
            "conversation_id": "conv_abc456",
            "platform": "telegram",
            "sender": {
                "id": "123456789",
                "name": "John Doe",
                "username": "@johndoe"
            },
            "content": "Hello, how are you?",
            "timestamp": "2026-01-30T14:29:58Z"
        }
    },
    'message.sent': {
        "id": "evt_def456",
        "type": "message.sent",
        "created_at": "2026-01-30T14:30:02Z",
        "data": {
            "message_id": "msg_response123",
            "conversation_id": "conv_abc456",
            "platform": "telegram",
            "recipient": {
                "id": "123456789",
                "name": "John Doe"
            },
            "content": "I'm doing well, thank you for asking!",
            "ai_model": "claude-3-5-sonnet",
            "tokens": {
                "input": 45,
                "output": 15
            },
            "latency_ms": 1250
        }
    },
    'message.delivered': {
        "id": "evt_01m8dacb7fpzv6dtfd7jbhebyk",
        "type": "message.delivered",
        "created_at": "2026-01-30T14:30:03Z",
        "data": {
            "message_id": "msg_response123",
            "platform": "telegram",
            "delivered_at": "2026-01-30T14:30:03Z"
        }
    },
    'message.failed': {
        "id": "evt_01m8dacb8a2n6q4x0ks7c1hv3d",
        "type": "message.failed",
        "created_at": "2026-01-30T14:31:10Z",
        "data": {
            "message_id": "msg_01m8dacb8a9wq3x2c0zj5e7hkt",
            "platform": "discord",
            "error": "Recipient blocked the bot"
        }
    },
    'integration.connected': {
        "id": "evt_01m8dacc1b7xrm2f4d9tq6ew8n",
        "type": "integration.connected",
        "created_at": "2026-01-30T14:34:00Z",
        "data": {
            "platform": "slack",
            "connected_at": "2026-01-30T14:34:00Z"
        }
    },
    'integration.disconnected': {
        "id": "evt_ghi789",
        "type": "integration.disconnected",
        "created_at": "2026-01-30T14:35:00Z",
        "data": {
            "platform": "whatsapp",
            "reason": "Phone went offline",
            "last_connected_at": "2026-01-30T12:00:00Z",
            "auto_reconnect": True
        }
    },
    'integration.error': {
        "id": "evt_01m8dacc3q0b4w8n2ex6rj5tyk",
        "type": "integration.error",
        "created_at": "2026-01-30T14:36:12Z",
        "data": {
            "platform": "telegram",
            "error": "Webhook secret mismatch"
        }
    },
    'ai.request': {
        "id": "evt_01m8dacc5d6a1m3k9fz2hx0w7p",
        "type": "ai.request",
        "created_at": "2026-01-30T14:29:59Z",
        "data": {
            "request_id": "req_01m8dacc5d2c7e5v8yq3kn1bgs",
            "model": "claude-3-5-sonnet",
            "tokens": {
                "input": 45
            }
        }
    },
    'ai.response': {
        "id": "evt_01m8dacc6t3w0h7qk4e9cz1m2r",
        "type": "ai.response",
        "created_at": "2026-01-30T14:30:01Z",
        "data": {
            "request_id": "req_01m8dacc5d2c7e5v8yq3kn1bgs",
            "model": "claude-3-5-sonnet",
            "tokens": {
                "input": 45,
                "output": 15
            },
            "latency_ms": 1250
        }
    },
    'ai.error': {
        "id": "evt_01m8dacc8b5n2y6r0tq4xw9e3k",
        "type": "ai.error",
        "created_at": "2026-01-30T14:40:00Z",
        "data": {
            "model": "claude-3-5-sonnet",
            "error": "upstream 502"
        }
    },
    'ai.rate_limited': {
        "id": "evt_01m8dacc9m7p4c1z8hw2dk6q0t",
        "type": "ai.rate_limited",
        "created_at": "2026-01-30T14:41:00Z",
        "data": {
            "model": "claude-3-5-sonnet",
            "retry_after_s": 20
        }
    },
    'system.health': {
        "id": "evt_01m8dacd0x9r6e3b5nq7tz1y4w",
        "type": "system.health",
        "created_at": "2026-01-30T14:45:00Z",
        "data": {
            "status": "degraded",
            "checked_at": "2026-01-30T14:45:00Z"
        }
    },
    'backup.completed': {
        "id": "evt_01m8dacd2c1t8g5w3kx9qr0e6m",
        "type": "backup.completed",
        "created_at": "2026-01-30T15:00:00Z",
        "data": {
            "backup_id": "bak_01m8dacd2c4m9p2r7tz5wy8n1q",
            "size_bytes": 48213112
        }
    },
    'backup.failed': {
        "id": "evt_01m8dacd3r3y0k7e1hw5nc8t2b",
        "type": "backup.failed",
        "created_at": "2026-01-31T15:00:00Z",
        "data": {
            "backup_id": "bak_01m8dacd3r6b2x9q4mz7tk0w5e",
            "error": "disk full"
        }
    },
    'webhook.test': {
        "id": "evt_01m8dacd5e5a2p9w3rz6kx1y8c",
        "type": "webhook.test",
        "created_at": "2026-01-30T14:50:00Z",
        "data": {
            "webhook_id": "wh_abc123",
            "message": "This is a test event from ClawBook."
        }
    },
}


def sample_data(event_type: str) -> dict[str, Any]:
    """A fresh copy of the sample ``data`` of ``event_type``.

    :raises KeyError: for a type with no sample (one a host registered itself).
    """
    return copy.deepcopy(SAMPLES[event_type]["data"])


def sample_types() -> list[str]:
    """The types that have a sample, :data:`~flask_clawhooks.catalog.TEST_EVENT` first."""
    return [TEST_EVENT, *(name for name in SAMPLES if name != TEST_EVENT)]
