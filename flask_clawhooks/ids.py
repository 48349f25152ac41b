"""Public identifiers: ``evt_``, ``wh_``, ``del_``, ``att_`` and ``key_`` plus 26 characters.

The characters are a ULID: 48 bits of milliseconds since the epoch, then 80 random bits,
in Crockford's base32 (lower case). Ids made later sort after ids made earlier, which
is what cursor paging and "newest first" listings rely on, and they are URL-safe.
"""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _base32(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, rest = divmod(number, 32)
        chars.append(_ALPHABET[rest])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """Return ``prefix_`` followed by a new time-sortable random id."""
    millis = time.time_ns() // 1_000_000
    return f"{prefix}_{_base32(millis, 10)}{_base32(secrets.randbits(80), 16)}"
