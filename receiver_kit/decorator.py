"""Moved to :mod:`receiver_kit.flask`; this name is kept so old imports keep working."""

from __future__ import annotations

from .flask import (
    ALLOWLIST_KEY,
    CONFIG_DEFAULTS,
    EVENT_ATTRIBUTE,
    IDEMPOTENCY_KEY,
    REQUIRE_STANDARD_KEY,
    SECRETS_KEY,
    TOLERANCE_KEY,
    TRUSTED_PROXIES_KEY,
    current_event,
    verify_webhook,
)

__all__ = [
    "ALLOWLIST_KEY",
    "CONFIG_DEFAULTS",
    "EVENT_ATTRIBUTE",
    "IDEMPOTENCY_KEY",
    "REQUIRE_STANDARD_KEY",
    "SECRETS_KEY",
    "TOLERANCE_KEY",
    "TRUSTED_PROXIES_KEY",
    "current_event",
    "verify_webhook",
]
