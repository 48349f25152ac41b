"""Public identifiers: ``evt_``, ``wh_``, ``del_``, ``att_`` and ``key_`` plus 26 characters.

The characters are a ULID: 48 bits of milliseconds since the epoch, then 80 random bits,
in Crockford's base32 (lower case). Ids made later sort after ids made earlier, which
is what cursor paging and "newest first" listings rely on, and they are URL-safe.
Within one millisecond, ids made by one process still sort in the order they were made:
the random part then counts up from the last id's, by at least :data:`STEP`.
"""

from __future__ import annotations

import datetime as dt
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


def id_seconds(identifier: str) -> float:
    """When ``identifier`` was made, in seconds since the epoch (millisecond precision).

    A delivery's id thus tells when ``emit()`` created it without reading the database,
    which is how the worker measures the time from emit to the first attempt.

    :raises ValueError: for a string that is not an id made by :func:`new_id`.
    """
    _, _, chars = identifier.rpartition("_")
    if len(chars) != 26:
        raise ValueError(f"{identifier!r} is not a ClawHooks id.")
    millis = 0
    for char in chars[:10]:
        millis = millis * 32 + _ALPHABET.index(char)
    return millis / 1000


def first_id_at(prefix: str, moment: dt.datetime) -> str:
    """The smallest id :func:`new_id` could make at ``moment`` (naive UTC, or aware).

    Ids sort by the time they were made, so ``first_id_at(p, a) <= id < first_id_at(p, b)``
    selects the rows made from ``a`` up to ``b`` on the id's index alone.

    .. versionadded:: 0.2.0
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    millis = (moment - _EPOCH) // dt.timedelta(milliseconds=1)
    millis = min(max(millis, 0), 32**10 - 1)
    return f"{prefix}_{_base32(millis, 10)}{'0' * 16}"


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
