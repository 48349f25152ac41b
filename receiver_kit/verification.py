"""Framework-free checks of one webhook request: address, signature, payload.

:func:`check_request` is what every adapter runs (through
:meth:`~.options.ReceiverOptions.check`); call it yourself from any other code. The checks
run in this order, and the first that fails raises (each error carries its HTTP answer,
see :mod:`receiver_kit.errors`):

1. the client address is in the allowlist, else :class:`~.errors.ForbiddenAddress` (403);
2. the signature matches the raw body, else :class:`~.errors.InvalidSignature` (401).
   When the request carries all three Standard Webhooks headers (``webhook-id``,
   ``webhook-timestamp``, ``webhook-signature``, see :mod:`receiver_kit.standard`), they
   decide, and a correctly signed but old or future timestamp is
   :class:`~.errors.StaleTimestamp` (401); ``X-ClawBook-Signature`` is then not looked at,
   since a replayed request still carries a valid one. Without them,
   ``X-ClawBook-Signature`` decides, unless ``require_standard`` refuses such requests;
3. the body is a JSON object with string ``id`` and ``type``, else
   :class:`~.errors.InvalidPayload` (400).

Nothing of the body is parsed before its signature has been verified.
"""

from __future__ import annotations

import json
from typing import Any

from .allowlist import DEFAULT_ALLOWLIST, IPAllowlist, NetworksSpec
from .errors import InvalidPayload, InvalidSignature
from .headers import FORWARDED_FOR_HEADER, SIGNATURE_HEADER, Headers, header_values
from .signature import Secrets, verify_signature
from .standard import DEFAULT_TOLERANCE, check_standard, check_tolerance, has_standard_headers

__all__ = ["Headers", "check_request", "header_values", "parse_event"]

_STANDARD_REQUIRED = (
    "This receiver accepts only requests signed with the Standard Webhooks headers "
    "webhook-id, webhook-timestamp and webhook-signature."
)


def parse_event(body: bytes) -> dict[str, Any]:
    """Parse a webhook body into the event envelope.

    :raises InvalidPayload: unless the body is UTF-8 JSON holding an object whose ``id`` and
        ``type`` are non-empty strings.
    """
    try:
        event = json.loads(bytes(body).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidPayload("The body is not valid UTF-8 JSON.") from None
    if not isinstance(event, dict):
        raise InvalidPayload("The body must be a JSON object.")
    for field in ("id", "type"):
        value = event.get(field)
        if not isinstance(value, str) or not value:
            raise InvalidPayload(f'The event has no non-empty string "{field}".')
    return event


def check_request(
    body: bytes,
    headers: Headers,
    remote_addr: str | None,
    *,
    secrets: Secrets,
    allowlist: IPAllowlist | NetworksSpec = DEFAULT_ALLOWLIST,
    tolerance: float = DEFAULT_TOLERANCE,
    require_standard: bool = False,
) -> dict[str, Any]:
    """Verify one webhook request and return its event (the parsed JSON object).

    :param body: the raw request body, exactly as received.
    :param headers: the request headers (see :func:`header_values` for the forms accepted).
    :param remote_addr: the direct peer address (``REMOTE_ADDR``).
    :param secrets: the webhook secret, or several during a rotation.
    :param allowlist: an :class:`~.allowlist.IPAllowlist` (which also knows the trusted
        proxies), or just its networks; ``"*"`` accepts any address.
    :param tolerance: seconds a Standard Webhooks ``webhook-timestamp`` may be from this
        server's clock, either way.
    :param require_standard: refuse (401) requests without the Standard Webhooks headers,
        so that every accepted request was checked for replay.
    :raises WebhookRejected: a 403, 401 or 400 error as listed in the module docs.
    :raises ~receiver_kit.ConfigurationError: when ``secrets``, ``allowlist`` or ``tolerance`` is
        unusable.
    """
    check_tolerance(tolerance)  # a bad setting fails every request, not only standard ones
    if not isinstance(allowlist, IPAllowlist):
        allowlist = IPAllowlist(allowlist)
    allowlist.check(remote_addr, header_values(headers, FORWARDED_FOR_HEADER))
    if has_standard_headers(headers):
        check_standard(body, headers, secrets, tolerance=tolerance)
    elif require_standard:
        raise InvalidSignature(_STANDARD_REQUIRED)
    else:
        signatures = header_values(headers, SIGNATURE_HEADER)
        signature = signatures[0] if len(signatures) == 1 else None
        if not verify_signature(body, signature, secrets):
            raise InvalidSignature()
    return parse_event(body)
