"""The envelope's frozen bytes and the signature headers.

``X-ClawBook-Signature`` is the ClawBook page's scheme: HMAC-SHA256 of the body. Beside
it every delivery carries the Standard Webhooks headers (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``), whose signature also covers the event id
and the time of the attempt, so receivers that check them can refuse replays.

The body is serialized once, at emit time, as compact UTF-8 JSON with the keys in the
order ``id, type, created_at, data``; every attempt sends those exact bytes. Compact
JSON is what ``JSON.stringify`` produces, so even receivers that re-serialize the parsed
body (as the ClawBook page's Node.js example does) compute the same signature.
"""

from __future__ import annotations

import base64
import functools
import hmac
import json
import secrets
from collections.abc import Sequence
from typing import Any

from .version import USER_AGENT

#: Made once: json.dumps with options makes a new encoder per call.
_envelope_json = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def envelope_bytes(event_id: str, event_type: str, created_at: str, data: Any) -> bytes:
    """Serialize the envelope. Raises :class:`TypeError` for data JSON cannot hold."""
    envelope = {"id": event_id, "type": event_type, "created_at": created_at, "data": data}
    return _envelope_json(envelope).encode("utf-8")


def signature_header(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of body keyed with secret>``."""
    return "sha256=" + hmac.digest(secret.encode("utf-8"), body, "sha256").hex()


#: Prefix of generated secrets, as the Standard Webhooks specification writes them.
SECRET_PREFIX = "whsec_"


def generate_secret() -> str:
    """A new secret: ``whsec_`` and 24 random bytes in base64 (a 192-bit key)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


@functools.lru_cache(maxsize=1024)
def standard_key(secret: str) -> bytes:
    """The HMAC key the Standard Webhooks signature uses for ``secret``.

    A ``whsec_`` secret is base64 after the prefix, as the specification says, and its
    decoded bytes are the key. Any other (user-chosen) secret is used as its UTF-8 bytes;
    to verify such a secret with a Standard Webhooks library, give it
    ``"whsec_" + base64(secret)``.
    """
    if secret.startswith(SECRET_PREFIX):
        try:
            # Padding added as the reference library does, so unpadded secrets work too.
            key = base64.b64decode(secret[len(SECRET_PREFIX):] + "==")
        except ValueError:
            key = b""
        if key:
            return key
    return secret.encode("utf-8")


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 over "id.timestamp.body">`` for one secret."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.digest(standard_key(secret), signed, "sha256")
    return "v1," + base64.b64encode(digest).decode("ascii")


class Signer:
    """What the headers of one webhook's attempts share, worked out once: the HMAC keys
    of its secrets, ready to be copied (a copy skips the key set-up of every HMAC)."""

    __slots__ = ("_clawbook", "_standard")

    def __init__(self, signing_secrets: Sequence[str]) -> None:
        self._clawbook = hmac.new(signing_secrets[0].encode("utf-8"), digestmod="sha256")
        self._standard = tuple(hmac.new(standard_key(secret), digestmod="sha256")
                               for secret in signing_secrets)

    def headers(self, body: bytes, event_id: str, event_type: str, delivery_id: str,
                timestamp: int) -> dict[str, str]:
        """The headers of one attempt (see :func:`request_headers`)."""
        clawbook = self._clawbook.copy()
        clawbook.update(body)
        signed = f"{event_id}.{timestamp}.".encode() + body
        signatures = []
        for prepared in self._standard:
            standard = prepared.copy()
            standard.update(signed)
            signatures.append("v1," + base64.b64encode(standard.digest()).decode("ascii"))
        return {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-ClawBook-Event": event_type,
            "X-ClawBook-Delivery": delivery_id,
            "X-ClawBook-Signature": "sha256=" + clawbook.hexdigest(),
            "webhook-id": event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join(signatures),
        }


@functools.lru_cache(maxsize=4096)
def signer(signing_secrets: tuple[str, ...]) -> Signer:
    """The :class:`Signer` of ``signing_secrets``, made once per set of secrets (a
    rotation makes a new set, so nothing stale is kept)."""
    return Signer(signing_secrets)


def request_headers(
    signing_secrets: Sequence[str], body: bytes, event_id: str, event_type: str,
    delivery_id: str,
    timestamp: int,
) -> dict[str, str]:
    """The headers of one attempt. ``signing_secrets[0]`` is current; any others are still in
    their rotation grace period and only add Standard Webhooks signatures."""
    return signer(tuple(signing_secrets)).headers(body, event_id, event_type, delivery_id,
                                                  timestamp)
