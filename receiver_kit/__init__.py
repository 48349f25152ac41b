"""Receive ClawBook webhooks safely: signatures, idempotency and an IP allowlist.

Use :func:`verify_webhook` on a Flask view, :class:`WebhookMiddleware` around any WSGI
app, or :func:`check_request` and :func:`verify_signature` from any other code. This
package does not depend on ``flask_clawhooks``; it needs Flask for the decorator and the
``redis`` package only for :class:`RedisIdempotencyStore`.
"""

from __future__ import annotations

from .allowlist import (
    ALLOW_ALL,
    DEFAULT_ALLOWLIST,
    IPAllowlist,
    client_address,
    parse_address,
    parse_networks,
)
from .decorator import current_event, verify_webhook
from .errors import (
    ConfigurationError,
    EventInProgress,
    ForbiddenAddress,
    InvalidPayload,
    InvalidSignature,
    ReceiverKitError,
    WebhookRejected,
)
from .idempotency import (
    Claim,
    EventClaim,
    IdempotencyStore,
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
    claim_event,
)
from .signature import SIGNATURE_HEADER, sign, verify_signature
from .verification import check_request, parse_event
from .wsgi import EVENT_ENVIRON_KEY, WebhookMiddleware

__all__ = [
    "ALLOW_ALL",
    "Claim",
    "ConfigurationError",
    "DEFAULT_ALLOWLIST",
    "EVENT_ENVIRON_KEY",
    "EventClaim",
    "EventInProgress",
    "ForbiddenAddress",
    "IPAllowlist",
    "IdempotencyStore",
    "InvalidPayload",
    "InvalidSignature",
    "MemoryIdempotencyStore",
    "ReceiverKitError",
    "RedisIdempotencyStore",
    "SIGNATURE_HEADER",
    "WebhookMiddleware",
    "WebhookRejected",
    "check_request",
    "claim_event",
    "client_address",
    "current_event",
    "parse_address",
    "parse_event",
    "parse_networks",
    "sign",
    "verify_signature",
    "verify_webhook",
]
