"""The ``X-ClawBook-Signature`` header: ``sha256=<hex HMAC-SHA256 of the raw body>``.

Always verify the bytes exactly as they arrived (``request.get_data()`` in Flask,
``request.body`` in Django, ``await request.body()`` in Starlette and FastAPI, the
``wsgi.input`` bytes in WSGI). Parsing the JSON and serializing it again, as the Node.js
example on the ClawBook page does, only works while both sides happen to produce the same
bytes; the raw body always works.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from .errors import ConfigurationError
from .headers import SIGNATURE_HEADER

__all__ = ["SIGNATURE_HEADER", "Secret", "Secrets", "normalize_secrets", "sign",
           "verify_signature"]

#: The only header form accepted: the ``sha256=`` prefix and 64 lowercase hex digits.
_HEADER = re.compile(r"sha256=([0-9a-f]{64})")

Secret = str | bytes
Secrets = Secret | Iterable[Secret]


def normalize_secrets(secrets: Secrets) -> tuple[bytes, ...]:
    """Return the secrets as a tuple of UTF-8 encoded keys.

    A single ``str`` or ``bytes`` is one secret; any other iterable holds several, for
    rotation (old and new secret both accepted while the sender switches over).

    :raises ~receiver_kit.ConfigurationError: when there is no secret or one of them is empty;
        an empty key would make every signature trivially forgeable.
    """
    items: list[Secret] = [secrets] if isinstance(secrets, str | bytes) else list(secrets)
    keys: list[bytes] = []
    for item in items:
        if isinstance(item, str):
            key = item.encode("utf-8")
        elif isinstance(item, bytes):
            key = item
        else:
            raise ConfigurationError(
                f"Webhook secrets must be str or bytes, not {type(item).__name__}."
            )
        if not key:
            raise ConfigurationError("A webhook secret must not be empty.")
        keys.append(key)
    if not keys:
        raise ConfigurationError(
            "No webhook secret configured: pass secret=... or set RECEIVER_KIT_SECRETS."
        )
    return tuple(keys)


def body_bytes(body: bytes | bytearray | memoryview) -> bytes:
    if isinstance(body, str):
        raise TypeError(
            "Verify the raw request body as bytes (request.get_data() in Flask), not text."
        )
    return bytes(body)


def sign(body: bytes, secret: Secret) -> str:
    """Return the ``X-ClawBook-Signature`` header value for ``body``, as ClawBook sends it.

    Handy in tests of a receiver: ``headers={"X-ClawBook-Signature": sign(body, secret)}``.
    """
    (key,) = normalize_secrets(secret)
    return "sha256=" + hmac.new(key, body_bytes(body), hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secrets: Secrets) -> bool:
    """Tell whether ``header`` is a valid signature of ``body`` under one of ``secrets``.

    Only ``sha256=`` followed by exactly 64 lowercase hex digits is accepted; anything else
    (missing or empty header, other algorithms, whitespace, trailing characters) is
    ``False``. Digests are compared with :func:`hmac.compare_digest`, and every secret is
    tried, so the time taken does not depend on where a forged signature differs nor on
    which secret matched.

    :param body: the raw request body; ``str`` raises :class:`TypeError`.
    :param header: the ``X-ClawBook-Signature`` value, or ``None`` when it is absent.
    :param secrets: one secret or several (rotation).
    :raises ~receiver_kit.ConfigurationError: when ``secrets`` is empty or holds an empty secret.
    """
    keys = normalize_secrets(secrets)
    data = body_bytes(body)
    if not isinstance(header, str):
        return False
    match = _HEADER.fullmatch(header)
    if match is None:
        return False
    received = match.group(1).encode("ascii")
    valid = False
    for key in keys:
        expected = hmac.new(key, data, hashlib.sha256).hexdigest().encode("ascii")
        valid |= hmac.compare_digest(expected, received)
    return valid
