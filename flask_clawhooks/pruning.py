"""Removing old events, with their deliveries and attempts (``flask clawhooks prune``).

Rows are deleted explicitly, attempts first, rather than through ``ON DELETE CASCADE``:
SQLite enforces foreign keys only when asked to, and hosts rarely ask. An event is kept
while any of its deliveries is still pending, however old it is.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, exists, func, select

from .models import AnySession, Attempt, Delivery, DeliveryStatus, Event
from .timeutil import utcnow

#: Events deleted per transaction.
PRUNE_BATCH = 1000

_AGE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: The longest age taken: about a thousand years, far beyond any log yet well inside
#: what :mod:`datetime` can subtract from today.
MAX_AGE = dt.timedelta(days=365_000)


def parse_age(text: str) -> dt.timedelta:
    """``30d``, ``12h``, ``90m``, ``2w`` or ``45s`` as a :class:`~datetime.timedelta`.

    :raises ValueError: with the accepted forms, for anything else, and for an age
        longer than :data:`MAX_AGE` (it would overflow the arithmetic on times).
    """
    match = _AGE.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not an age; write a number and a unit, such as 30d, 12h, 90m, 2w."
        )
    digits = match.group(1)
    seconds = int(digits) * _UNIT_SECONDS[match.group(2)] if len(digits) <= 18 else None
    if seconds is None or seconds > MAX_AGE.total_seconds():
        raise ValueError(f"{text.strip()!r} is too long an age; the longest is "
                         f"{MAX_AGE.days}d (about a thousand years).")
    return dt.timedelta(seconds=seconds)


def _prunable(older_than: dt.timedelta) -> Any:
    cutoff = utcnow() - older_than
    still_pending = exists().where(Delivery.event_id == Event.id,
                                   Delivery.status == DeliveryStatus.PENDING)
    return (Event.created_at < cutoff, ~still_pending)


def prunable(session: AnySession, older_than: dt.timedelta) -> int:
    """How many events :func:`prune` would delete now (the total of its progress bar)."""
    return int(session.scalar(select(func.count()).select_from(Event)
                              .where(*_prunable(older_than))) or 0)


def prune(
    session: AnySession,
    older_than: dt.timedelta,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Delete events created more than ``older_than`` ago whose deliveries all ended.

    Commits every :data:`PRUNE_BATCH` events and calls ``progress(deleted_so_far)``.
    :returns: how many events were deleted.
    """
    conditions = _prunable(older_than)
    deleted = 0
    while True:
        ids = list(session.scalars(
            select(Event.id).where(*conditions)
            .order_by(Event.id).limit(PRUNE_BATCH)
        ))
        if not ids:
            return deleted
        deliveries = select(Delivery.id).where(Delivery.event_id.in_(ids))
        session.execute(delete(Attempt).where(Attempt.delivery_id.in_(deliveries)))
        session.execute(delete(Delivery).where(Delivery.event_id.in_(ids)))
        session.execute(delete(Event).where(Event.id.in_(ids)))
        session.commit()
        deleted += len(ids)
        if progress is not None:
            progress(deleted)

