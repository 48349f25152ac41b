"""Event payloads shaped like the ClawBook webhooks page's examples."""

from __future__ import annotations

import random
from typing import Any

from flask_clawhooks.ids import new_id
from flask_clawhooks.timeutil import isoformat, utcnow

PEOPLE = [("123456789", "John Doe", "@johndoe"), ("987654321", "Ada Lovelace", "@ada")]
PLATFORMS = ["telegram", "whatsapp", "discord", "slack"]


def _now() -> str:
    return isoformat(utcnow()) or ""


def message_received(
    conversation_id: str, content: str, platform: str = "telegram"
) -> dict[str, Any]:
    person_id, name, username = random.choice(PEOPLE)
    return {
        "message_id": new_id("msg"),
        "conversation_id": conversation_id,
        "platform": platform,
        "sender": {"id": person_id, "name": name, "username": username},
        "content": content,
        "timestamp": _now(),
    }


def message_sent(conversation_id: str, content: str, model: str, tokens_in: int,
                 tokens_out: int, latency_ms: int, platform: str = "telegram") -> dict[str, Any]:
    person_id, name, _ = random.choice(PEOPLE)
    return {
        "message_id": new_id("msg"),
        "conversation_id": conversation_id,
        "platform": platform,
        "recipient": {"id": person_id, "name": name},
        "content": content,
        "ai_model": model,
        "tokens": {"input": tokens_in, "output": tokens_out},
        "latency_ms": latency_ms,
    }


def integration_disconnected(platform: str, reason: str) -> dict[str, Any]:
    return {
        "platform": platform,
        "reason": reason,
        "last_connected_at": _now(),
        "auto_reconnect": True,
    }


def simple(kind: str) -> tuple[str, dict[str, Any]]:
    """A plausible event of each remaining type, for the simulator."""
    platform = random.choice(PLATFORMS)
    examples: dict[str, dict[str, Any]] = {
        "message.delivered": {"message_id": new_id("msg"), "platform": platform,
                              "delivered_at": _now()},
        "message.failed": {"message_id": new_id("msg"), "platform": platform,
                           "error": "Recipient blocked the bot"},
        "integration.connected": {"platform": platform, "connected_at": _now()},
        "integration.error": {"platform": platform, "error": "Webhook secret mismatch"},
        "ai.request": {"request_id": new_id("req"), "model": "claude-3-5-sonnet",
                       "tokens": {"input": 45}},
        "ai.response": {"request_id": new_id("req"), "model": "claude-3-5-sonnet",
                        "tokens": {"input": 45, "output": 15}, "latency_ms": 1250},
        "ai.error": {"model": "claude-3-5-sonnet", "error": "upstream 502"},
        "ai.rate_limited": {"model": "claude-3-5-sonnet", "retry_after_s": 20},
        "system.health": {"status": random.choice(["ok", "degraded"]), "checked_at": _now()},
        "backup.completed": {"backup_id": new_id("bak"), "size_bytes": 48_213_112},
        "backup.failed": {"backup_id": new_id("bak"), "error": "disk full"},
    }
    return kind, examples[kind]
