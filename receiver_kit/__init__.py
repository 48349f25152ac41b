"""Receive ClawBook webhooks safely: signatures, replay protection, idempotency, an allowlist.

The core, everything importable from ``receiver_kit`` itself, needs only the standard
library (and the ``redis`` package for :class:`RedisIdempotencyStore` only):
:func:`check_request` verifies one request, :func:`verify_signature` and
:func:`verify_standard` check signatures, :func:`claim_event` handles each event once.
A rejection is a :class:`WebhookRejected` carrying its status, error code, message and
headers; it is never a response object, so no framework can send it as a success.

Each framework has an adapter of its own, which alone imports that framework:

==========================  ==============================================================
``receiver_kit.flask``      ``@verify_webhook`` and ``current_event()`` for Flask views
``receiver_kit.django``     ``@verify_webhook`` for Django views, reading ``settings``
``receiver_kit.fastapi``    ``WebhookVerifier``, a dependency that yields the event
``receiver_kit.asgi``       ``WebhookMiddleware`` for Starlette or any ASGI app
``receiver_kit.wsgi``       ``WebhookMiddleware`` for any WSGI app, ``headers_from_environ``
==========================  ==============================================================

``from receiver_kit import verify_webhook`` (and ``current_event``, ``WebhookMiddleware``,
``EVENT_ENVIRON_KEY``) still works, as before 0.2: the name is imported from its adapter
on first use. This package does not depend on ``flask_clawhooks``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .allowlist import (
    ALLOW_ALL,
    DEFAULT_ALLOWLIST,
    IPAllowlist,
    client_address,
    parse_address,
    parse_networks,
)
from .errors import (
    Answer,
    ConfigurationError,
    EventInProgress,
    ForbiddenAddress,
    InvalidPayload,
    InvalidSignature,
    ReceiverKitError,
    StaleTimestamp,
    WebhookRejected,
)
from .headers import SIGNATURE_HEADER, STANDARD_HEADERS, STANDARD_SIGNATURE_HEADER
from .idempotency import (
    Claim,
    EventClaim,
    IdempotencyStore,
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
    claim_event,
)
from .options import ReceiverConfig, ReceiverOptions
from .reception import Reception, receive
from .signature import sign, verify_signature
from .standard import (
    DEFAULT_TOLERANCE,
    check_standard,
    sign_standard,
    standard_key,
    verify_standard,
)
from .verification import check_request, parse_event

if TYPE_CHECKING:  # what __getattr__ gives, for type checkers
    from .flask import current_event as current_event
    from .flask import verify_webhook as verify_webhook
    from .wsgi import EVENT_ENVIRON_KEY as EVENT_ENVIRON_KEY
    from .wsgi import WebhookMiddleware as WebhookMiddleware

__version__ = "0.2.0.dev0"

__all__ = [
    "ALLOW_ALL",
    "Answer",
    "Claim",
    "ConfigurationError",
    "DEFAULT_ALLOWLIST",
    "DEFAULT_TOLERANCE",
    "EventClaim",
    "EventInProgress",
    "ForbiddenAddress",
    "IPAllowlist",
    "IdempotencyStore",
    "InvalidPayload",
    "InvalidSignature",
    "MemoryIdempotencyStore",
    "ReceiverConfig",
    "ReceiverKitError",
    "ReceiverOptions",
    "Reception",
    "RedisIdempotencyStore",
    "SIGNATURE_HEADER",
    "STANDARD_HEADERS",
    "STANDARD_SIGNATURE_HEADER",
    "StaleTimestamp",
    "WebhookRejected",
    "check_request",
    "check_standard",
    "claim_event",
    "client_address",
    "parse_address",
    "parse_event",
    "parse_networks",
    "receive",
    "sign",
    "sign_standard",
    "standard_key",
    "verify_signature",
    "verify_standard",
]

#: Names that moved to an adapter module in 0.2, and that module.
MOVED: dict[str, str] = {
    "verify_webhook": "receiver_kit.flask",
    "current_event": "receiver_kit.flask",
    "WebhookMiddleware": "receiver_kit.wsgi",
    "EVENT_ENVIRON_KEY": "receiver_kit.wsgi",
}


def __getattr__(name: str) -> Any:
    """Import a name that moved to an adapter from that adapter, on first use."""
    module_name = MOVED.get(name)
    if module_name is None:
        raise AttributeError(f"module 'receiver_kit' has no attribute {name!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # the adapter's message names the extra to install
        raise ImportError(
            f"receiver_kit.{name} is now in {module_name} (`from {module_name} import "
            f"{name}`), which cannot be imported: {exc}",
            name=module_name,
        ) from exc
    value = getattr(module, name)
    globals()[name] = value
    return value
