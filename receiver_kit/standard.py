"""The Standard Webhooks headers: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``.

Every ClawBook delivery carries them beside ``X-ClawBook-Signature``, as the Standard
Webhooks specification (https://www.standardwebhooks.com) describes. Their signature covers
more than the body::

    webhook-signature: v1,<base64 of HMAC-SHA256 over "<webhook-id>.<webhook-timestamp>.<body>">

so a receiver that also checks that ``webhook-timestamp`` is recent refuses a captured
request replayed later, which ``X-ClawBook-Signature`` alone cannot do. ClawBook signs each
attempt afresh, so its own retries always carry a current timestamp.

The header may hold several signatures separated by spaces: during a secret rotation
ClawBook signs with the old and the new secret, so a receiver still configured with the old
one keeps working until the grace period ends. Entries of versions other than ``v1`` are
ignored, as the specification asks.

The HMAC key is derived from the secret exactly as the sender does: a secret starting with
``whsec_`` is base64 after the prefix, and its decoded bytes are the key; any other secret
(one a user chose, such as ``your-webhook-secret``) is used as its UTF-8 bytes. So configure
the receiver with the secret exactly as ClawBook shows it: the same value checks both
signatures. Standard Webhooks libraries base64-decode every secret; give them
``"whsec_" + base64(secret)`` for a user-chosen one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import time

from .errors import ConfigurationError, InvalidSignature, StaleTimestamp
from .headers import (
    ID_HEADER,
    STANDARD_HEADERS,
    STANDARD_SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Headers,
    header_values,
    single_value,
)
from .signature import Secret, Secrets, body_bytes, normalize_secrets

__all__ = [
    "DEFAULT_TOLERANCE", "ID_HEADER", "SECRET_PREFIX", "STANDARD_HEADERS",
    "STANDARD_SIGNATURE_HEADER", "TIMESTAMP_HEADER", "check_standard", "check_tolerance",
    "has_standard_headers", "sign_standard", "standard_key", "verify_standard",
]

#: How far, in seconds, ``webhook-timestamp`` may be from the receiver's clock, either way.
#: Five minutes, the specification's and its reference libraries' default.
DEFAULT_TOLERANCE = 300

#: Prefix of secrets that are base64 keys, as the specification writes them.
SECRET_PREFIX = "whsec_"

_TIMESTAMP = re.compile(r"[0-9]{1,15}")

_MISSING = (
    "Missing or invalid Standard Webhooks headers: webhook-id, webhook-timestamp and "
    "webhook-signature must each be sent once, the timestamp in unix seconds."
)
_MISMATCH = (
    "Invalid webhook-signature header: no v1 signature matches; check that the receiver "
    "uses the webhook's secret exactly as ClawBook shows it."
)


def standard_key(secret: Secret) -> bytes:
    """The HMAC key of the Standard Webhooks signature for ``secret``.

    ``whsec_`` and base64 (padding optional) gives the decoded bytes; anything else, and a
    ``whsec_`` secret whose rest is not base64 or decodes to nothing, gives the secret's
    UTF-8 bytes. ``bytes`` secrets are read as UTF-8 text first; bytes that are not UTF-8
    are the key themselves.
    """
    if isinstance(secret, bytes):
        try:
            text = secret.decode("utf-8")
        except UnicodeDecodeError:
            return secret
    else:
        text = secret
    if text.startswith(SECRET_PREFIX):
        try:
            # "==" as the sender and the reference library add it: unpadded secrets work too.
            key = base64.b64decode(text[len(SECRET_PREFIX) :] + "==")
        except ValueError:
            key = b""
        if key:
            return key
    return text.encode("utf-8")


def check_tolerance(value: object, name: str = "tolerance") -> float:
    """Return ``value`` as a tolerance in seconds: a positive, finite number.

    Numeric strings are accepted, for settings read from the environment.

    :raises ~receiver_kit.ConfigurationError: naming ``name`` otherwise.
    """
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value.strip())
        except ValueError:
            seconds = None
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        raise ConfigurationError(
            f"{name} must be a positive number of seconds (default {DEFAULT_TOLERANCE}), "
            f"not {value!r}."
        )
    return seconds


def has_standard_headers(headers: Headers) -> bool:
    """Tell whether all three Standard Webhooks headers are present (possibly malformed)."""
    return all(header_values(headers, name) for name in STANDARD_HEADERS)


def _signed_content(message_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{message_id}.{timestamp}.".encode() + body


def _received_signatures(header: str) -> list[bytes]:
    """The decoded ``v1`` signatures of a ``webhook-signature`` value; others are skipped."""
    found = []
    for entry in header.split():
        version, comma, value = entry.partition(",")
        if version != "v1" or not comma:
            continue
        try:
            found.append(base64.b64decode(value, validate=True))
        except ValueError:
            continue
    return found


def sign_standard(
    body: bytes, secrets: Secrets, *, message_id: str, timestamp: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers ClawBook would send for ``body``; for tests.

    :param secrets: one secret, or several to sign as during a rotation (one ``v1``
        signature each, space-separated).
    :param message_id: the ``webhook-id``; ClawBook sends the event id.
    :param timestamp: unix seconds; default: now.
    """
    data = body_bytes(body)
    when = int(time.time()) if timestamp is None else int(timestamp)
    signed = _signed_content(message_id, when, data)
    digests = [
        hmac.new(standard_key(key), signed, hashlib.sha256).digest()
        for key in normalize_secrets(secrets)
    ]
    signatures = ["v1," + base64.b64encode(digest).decode("ascii") for digest in digests]
    return {
        ID_HEADER: message_id,
        TIMESTAMP_HEADER: str(when),
        STANDARD_SIGNATURE_HEADER: " ".join(signatures),
    }


def check_standard(
    body: bytes,
    headers: Headers,
    secrets: Secrets,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> str:
    """Verify the Standard Webhooks signature of a request and return its ``webhook-id``.

    The signature is checked first, then the timestamp, so
    :class:`~.errors.StaleTimestamp` always means a genuine request that is too old or too
    new: a replay, or a clock that is off. Every secret is tried against every ``v1``
    signature with :func:`hmac.compare_digest`, without stopping at a match.

    :param body: the raw request body; ``str`` raises :class:`TypeError`.
    :param headers: the request headers, as :func:`~.headers.header_values` accepts them.
    :param secrets: one secret or several (rotation), as ClawBook shows them.
    :param tolerance: seconds ``webhook-timestamp`` may be from ``now``, either way; a
        timestamp exactly ``tolerance`` away is still accepted.
    :param now: the current time in unix seconds; default: :func:`time.time`.
    :raises InvalidSignature: a header is missing, sent twice or malformed, or no signature
        matches.
    :raises StaleTimestamp: the signature matches but the timestamp is out of tolerance.
    :raises ~receiver_kit.ConfigurationError: for an empty secret or a bad ``tolerance``.
    """
    keys = normalize_secrets(secrets)
    limit = check_tolerance(tolerance)
    data = body_bytes(body)
    message_id = single_value(headers, ID_HEADER)
    timestamp_text = single_value(headers, TIMESTAMP_HEADER)
    signature_text = single_value(headers, STANDARD_SIGNATURE_HEADER)
    if (
        not message_id
        or not signature_text
        or timestamp_text is None
        or _TIMESTAMP.fullmatch(timestamp_text) is None
    ):
        raise InvalidSignature(_MISSING)
    timestamp = int(timestamp_text)
    received = _received_signatures(signature_text)
    signed = _signed_content(message_id, timestamp, data)
    valid = False
    for key in keys:
        expected = hmac.new(standard_key(key), signed, hashlib.sha256).digest()
        for signature in received:
            valid |= hmac.compare_digest(expected, signature)
    if not valid:
        raise InvalidSignature(_MISMATCH)
    current = time.time() if now is None else now
    if abs(current - timestamp) > limit:
        raise StaleTimestamp()
    return message_id


def verify_standard(
    body: bytes,
    headers: Headers,
    secrets: Secrets,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """Tell whether a request's Standard Webhooks headers are valid and recent.

    :func:`check_standard` returning ``True`` or ``False`` instead of raising; it still
    raises :class:`~.errors.ConfigurationError` for unusable secrets or tolerance.
    """
    try:
        check_standard(body, headers, secrets, tolerance=tolerance, now=now)
    except InvalidSignature:
        return False
    return True

