"""flask-clawhooks: real-time, signed, reliable webhooks for Flask-based ClawBook installs."""

from __future__ import annotations

__version__ = "0.1.0"

from .catalog import CATALOG, TEST_EVENT, EventType  # noqa: E402
from .errors import (  # noqa: E402
    ClawHooksError,
    ConfigurationError,
    NotInitialized,
    UnknownEventType,
)
from .extension import ClawHooks  # noqa: E402

__all__ = [
    "CATALOG",
    "TEST_EVENT",
    "ClawHooks",
    "ClawHooksError",
    "ConfigurationError",
    "EventType",
    "NotInitialized",
    "UnknownEventType",
    "__version__",
]
