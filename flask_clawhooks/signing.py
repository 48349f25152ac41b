"""The envelope's frozen bytes and the ``X-ClawBook-Signature`` header.

The body is serialized once, at emit time, as compact UTF-8 JSON with the keys in the
order ``id, type, created_at, data``; every attempt sends those exact bytes. Compact
JSON is what ``JSON.stringify`` produces, so even receivers that re-serialize the parsed
body (as the ClawBook page's Node.js example does) compute the same signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any


def envelope_bytes(event_id: str, event_type: str, created_at: str, data: Any) -> bytes:
    """Serialize the envelope. Raises :class:`TypeError` for data JSON cannot hold."""
    envelope = {"id": event_id, "type": event_type, "created_at": created_at, "data": data}
    return json.dumps(
        envelope, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def signature_header(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of body keyed with secret>``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"
