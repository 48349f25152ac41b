"""flask-clawhooks: real-time, signed, reliable webhooks for Flask-based ClawBook installs."""

from __future__ import annotations

from .catalog import CATALOG, TEST_EVENT, EventType
from .errors import (
    ClawHooksError,
    ConfigurationError,
    InvalidEventData,
    NotInitialized,
    UnknownEventType,
)
from .extension import ClawHooks
from .version import __version__

__all__ = [
    "CATALOG",
    "TEST_EVENT",
    "ClawHooks",
    "ClawHooksError",
    "ConfigurationError",
    "EventType",
    "InvalidEventData",
    "NotInitialized",
    "UnknownEventType",
    "__version__",
]
