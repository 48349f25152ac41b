"""Receive ClawBook webhooks safely: signatures, idempotency and an IP allowlist.

Use :func:`verify_webhook` on a Flask view, :class:`WebhookMiddleware` around any WSGI
app, or :func:`check_request`, :func:`verify_signature` and :func:`verify_standard` (the
Standard Webhooks headers, with replay protection) from any other code. This
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
    StaleTimestamp,
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
from .standard import (
    DEFAULT_TOLERANCE,
    STANDARD_HEADERS,
    check_standard,
    sign_standard,
    standard_key,
    verify_standard,
)
from .verification import check_request, parse_event
from .wsgi import EVENT_ENVIRON_KEY, WebhookMiddleware

__all__ = [
    "ALLOW_ALL",
    "Claim",
    "ConfigurationError",
    "DEFAULT_ALLOWLIST",
    "DEFAULT_TOLERANCE",
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
    "STANDARD_HEADERS",
    "StaleTimestamp",
    "WebhookMiddleware",
    "WebhookRejected",
    "check_request",
    "check_standard",
    "claim_event",
    "client_address",
    "current_event",
    "parse_address",
    "parse_event",
    "parse_networks",
    "sign",
    "sign_standard",
    "standard_key",
    "verify_signature",
    "verify_standard",
    "verify_webhook",
]
