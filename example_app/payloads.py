"""Event payloads shaped like the ClawBook webhooks page's examples.

The conversation events are built from their parts; every other type starts from the
documented sample in :mod:`flask_clawhooks.samples`, the copy the docs and the
dashboard's *Send test* use.
"""

from __future__ import annotations

import random
from typing import Any

from flask_clawhooks.ids import new_id
from flask_clawhooks.samples import sample_data
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


def _fresh(value: Any, key: str = "") -> Any:
    """``value`` with new ids (``msg_…``, ``req_…``), the current time and a random
    platform, so simulated events do not all look the same."""
    if isinstance(value, dict):
        return {k: _fresh(v, k) for k, v in value.items()}
    if isinstance(value, str):
        if key.endswith("_id") and "_" in value and not value[0].isdigit():
            return new_id(value.split("_", 1)[0])
        if key.endswith("_at") or key == "timestamp":
            return _now()
        if key == "platform":
            return random.choice(PLATFORMS)
    return value


def simple(kind: str) -> tuple[str, dict[str, Any]]:
    """An event of ``kind`` for the simulator: its documented sample
    (:mod:`flask_clawhooks.samples`) with fresh ids and times.

    :raises KeyError: for a type without a sample.
    """
    return kind, _fresh(sample_data(kind))
