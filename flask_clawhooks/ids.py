"""Public identifiers: ``evt_``, ``wh_``, ``del_``, ``att_`` and ``key_`` plus 26 characters.

The characters are a ULID: 48 bits of milliseconds since the epoch, then 80 random bits,
in Crockford's base32 (lower case). Ids made later sort after ids made earlier, which
is what cursor paging and "newest first" listings rely on, and they are URL-safe.
Within one millisecond, ids made by one process still sort in the order they were made:
the random part then counts up from the last id's, by at least :data:`STEP`.
"""

from __future__ import annotations

import secrets
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _base32(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, rest = divmod(number, 32)
        chars.append(_ALPHABET[rest])
    return "".join(reversed(chars))


#: How far, at least, an id made in the same millisecond as the last one is above it: the
#: first 22 characters always grow, and the last 4 (20 bits) are free for ids made from
#: it (the deliveries of one emit() on PostgreSQL, see :mod:`flask_clawhooks.ledger`).
STEP = 1 << 20
_last = 0
_lock = threading.Lock()


def new_id(prefix: str) -> str:
    """Return ``prefix_`` followed by a new time-sortable random id."""
    global _last
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    with _lock:
        if value // STEP <= _last // STEP:  # the same millisecond (or the clock went back)
            value = (_last // STEP + 1) * STEP + value % STEP
        _last = value
    return f"{prefix}_{_base32(value, 26)}"
