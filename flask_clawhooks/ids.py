"""Public identifiers: ``evt_``, ``wh_``, ``del_``, ``att_`` and ``key_`` plus 26 characters.

The characters are a ULID: 48 bits of milliseconds since the epoch, then 80 random bits,
in Crockford's base32 (lower case). Ids made later sort after ids made earlier, which
is what cursor paging and "newest first" listings rely on, and they are URL-safe.
Within one millisecond, ids made by one process still sort in the order they were made:
the random part then counts up from the last id's, by at least :data:`STEP`.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


#: Every pair of characters, by the 10 bits it stands for: a character at a time cost
#: the worker more CPU per delivery than both of its HMAC signatures.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
#: Our alphabet to the one :func:`int` reads in base 32 (``0-9a-v``); the letters that
#: are not ours become ``z``, which :func:`int` refuses.
_TO_INT = str.maketrans(_ALPHABET + "ilou", "0123456789abcdefghijklmnopqrstuv" + "zzzz")


def _base32(number: int, length: int) -> str:
    pairs = []
    for shift in range(5 * (length - 2 + length % 2), -1, -10):
        pairs.append(_PAIRS[(number >> shift) & 1023])
    text = "".join(pairs)
    return text[1:] if length % 2 else text


#: How far, at least, an id made in the same millisecond as the last one is above it: the
#: first 22 characters always grow, and the last 4 (20 bits) are free for ids made from
#: it (the deliveries of one emit() on PostgreSQL, see :mod:`flask_clawhooks.ledger`).
STEP = 1 << 20
_last = 0
_lock = threading.Lock()
#: Random bytes drawn from the operating system a page at a time: one ``getrandom``
#: call per id was a tenth of the CPU a worker spent claiming.
_POOL_BYTES = 4096
_pool = b""
_used = 0


def _forget_pool() -> None:
    """A forked child draws its own bytes: sharing the parent's would repeat its ids."""
    global _pool, _used, _lock
    _pool, _used, _lock = b"", 0, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def new_id(prefix: str) -> str:
    """Return ``prefix_`` followed by a new time-sortable random id."""
    global _last, _pool, _used
    millis = time.time_ns() // 1_000_000
    with _lock:
        if _used + 10 > len(_pool):
            _pool, _used = secrets.token_bytes(_POOL_BYTES), 0
        value = millis << 80 | int.from_bytes(_pool[_used:_used + 10])
        _used += 10
        if value // STEP <= _last // STEP:  # the same millisecond (or the clock went back)
            value = (_last // STEP + 1) * STEP + value % STEP
        _last = value
    return f"{prefix}_{_base32(value, 26)}"


def new_ids(prefix: str, count: int) -> list[str]:
    """``count`` new ids made at once, in order: the first 22 characters of one new id
    and their number in the last 4, as ``emit()`` numbers its deliveries on PostgreSQL
    (:mod:`flask_clawhooks.ledger`). A sixth of the CPU of ``count`` calls of
    :func:`new_id`.

    :raises ValueError: for more than 2**20 ids.
    """
    if count > STEP:
        raise ValueError(f"at most {STEP} ids at once, not {count}")
    base = new_id(prefix)[:-4]
    return [base + _PAIRS[n >> 10] + _PAIRS[n & 1023] for n in range(count)]


def id_seconds(identifier: str) -> float:
    """When ``identifier`` was made, in seconds since the epoch (millisecond precision).

    A delivery's id thus tells when ``emit()`` created it without reading the database,
    which is how the worker measures the time from emit to the first attempt.

    :raises ValueError: for a string that is not an id made by :func:`new_id`.
    """
    _, _, chars = identifier.rpartition("_")
    if len(chars) != 26 or not chars.isascii():
        raise ValueError(f"{identifier!r} is not a ClawHooks id.")
    try:
        return int(chars[:10].translate(_TO_INT), 32) / 1000
    except ValueError:
        raise ValueError(f"{identifier!r} is not a ClawHooks id.") from None


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
