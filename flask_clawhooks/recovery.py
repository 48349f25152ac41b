"""Recovering a time range: after an outage, send a webhook's missed deliveries again.

``POST /webhooks/{id}/recover``, the dashboard's "Recover failed deliveries since …" and
``flask clawhooks recover`` all call :func:`recover`. It re-queues the webhook's
deliveries made from ``since`` up to ``until`` (those that *failed*, by default, or every
finished one with ``include="all"``) as :meth:`ClawHooks.retry
<flask_clawhooks.ClawHooks.retry>` does one: the delivery becomes pending and due now,
attempt numbers go on from where they were, and a delivery that used all its retries
gets exactly one more try. They are queued oldest first.

Deliveries exist only for the events the webhook was subscribed to (and enabled for)
when they were emitted, so that is what is recovered; events emitted while it was
switched off were never addressed to it (``GET /events`` lists them).

Doing it twice at once sends nothing twice. Each batch is one conditional ``UPDATE``
that only takes deliveries that are finished and not leased, so a second recovery running
at the same time waits for the first one's rows (PostgreSQL row locks, SQLite's write
lock), then finds them pending and leaves them alone. A delivery that is queued twice
anyway is still sent once: a worker must claim its lease first (:func:`.ledger.claim`).

Time bounds are turned into bounds on the delivery id, which sorts by creation time, so
a range is read on the ``(webhook_id, status, id)`` and ``(webhook_id, id)`` indexes.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, update

from .enqueue import after_commit
from .errors import ClawHooksError
from .ids import first_id_at
from .models import NOT_PENDING, AnySession, DeliveryStatus, delivery_table
from .timeutil import utcnow

#: ``include`` values: only failed deliveries, or every finished one.
FAILED = "failed"
ALL = "all"
INCLUDE = (FAILED, ALL)
#: Deliveries re-queued per transaction.
BATCH = 1000

_deliveries = delivery_table


class RangeTooLarge(ClawHooksError, ValueError):
    """The range holds more deliveries than one recovery may re-queue."""

    def __init__(self, found: int, limit: int) -> None:
        super().__init__(f"{found} deliveries to re-queue, more than the limit of {limit}.")
        self.found = found
        self.limit = limit


@dataclass(frozen=True)
class Recovery:
    """What to recover: the deliveries of ``webhook_id`` made from ``since`` (included)
    up to ``until`` (excluded; None: now), failed ones or all finished ones."""

    webhook_id: str
    since: dt.datetime
    until: dt.datetime | None = None
    include: str = FAILED

    def __post_init__(self) -> None:
        if self.include not in INCLUDE:
            raise ValueError(f"include must be one of {', '.join(INCLUDE)}, "
                             f"got {self.include!r}.")
        if self.until is not None and self.until <= self.since:
            raise ValueError("until must be later than since.")

    @property
    def statuses(self) -> tuple[str, ...]:
        if self.include == FAILED:
            return (DeliveryStatus.FAILED,)
        return (DeliveryStatus.FAILED, DeliveryStatus.SUCCESS)

    def conditions(self, now: dt.datetime) -> list[Any]:
        """Which deliveries may be re-queued now. Re-checked by the ``UPDATE`` itself."""
        found = [
            _deliveries.c.webhook_id == self.webhook_id,
            _deliveries.c.id >= first_id_at("del", self.since),
            _deliveries.c.status.in_(self.statuses),
            NOT_PENDING,  # implied, and what the partial status index needs to be used
            or_(_deliveries.c.lease_until.is_(None), _deliveries.c.lease_until < now),
        ]
        if self.until is not None:
            found.append(_deliveries.c.id < first_id_at("del", self.until))
        return found


def count(session: AnySession, recovery: Recovery) -> int:
    """How many deliveries :func:`recover` would re-queue now (for a confirmation)."""
    return int(session.scalar(
        select(func.count()).select_from(_deliveries).where(*recovery.conditions(utcnow()))
    ) or 0)


def requeue_batch(session: AnySession, recovery: Recovery, after: str | None,
                  size: int = BATCH) -> tuple[list[str], str | None]:
    """Re-queue the next ``size`` deliveries of ``recovery`` after the id ``after``.

    Does not commit. Returns the ids re-queued, oldest first, and the id to continue
    after (None when the range is done). The ``UPDATE`` repeats the conditions, so rows
    another recovery took in the meantime are skipped, not taken twice.
    """
    now = utcnow()
    conditions = recovery.conditions(now)
    candidates = select(_deliveries.c.id).where(*conditions)
    if after is not None:
        candidates = candidates.where(_deliveries.c.id > after)
    ids = list(session.scalars(candidates.order_by(_deliveries.c.id).limit(size)))
    if not ids:
        return [], None
    taken = session.scalars(
        update(_deliveries)
        .where(_deliveries.c.id.in_(ids), *conditions)
        .values(status=DeliveryStatus.PENDING, next_attempt_at=now, updated_at=now)
        .returning(_deliveries.c.id)
    ).all()
    return sorted(taken), ids[-1]


def recover(
    session: AnySession,
    recovery: Recovery,
    enqueue: Callable[[list[str]], None],
    *,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
    batch: int = BATCH,
) -> int:
    """Re-queue the deliveries of ``recovery``, oldest first; return how many.

    Commits once per batch of ``batch`` deliveries; each batch is handed to ``enqueue``
    (``State.enqueue``) after its commit, so workers start on the oldest while later
    batches are still being re-queued. If Redis is unreachable the sweeper sends them.

    :param limit: refuse, before changing anything, a range holding more deliveries.
    :param progress: called with the number re-queued by each batch.
    :raises RangeTooLarge: over ``limit``.
    """
    if limit is not None:
        found = count(session, recovery)
        if found > limit:
            session.rollback()
            raise RangeTooLarge(found, limit)
    done = 0
    after: str | None = None
    while True:
        size = batch if limit is None else min(batch, limit - done)
        ids, after = requeue_batch(session, recovery, after, size)
        if ids:
            after_commit(session, ids, enqueue)
        session.commit()
        done += len(ids)
        if progress is not None and ids:
            progress(len(ids))
        if after is None or (limit is not None and done >= limit):
            return done


def noun(recovery: Recovery, count: int = 2) -> str:
    """``"failed deliveries"``, ``"delivery"``: what a recovery re-queues."""
    word = "delivery" if count == 1 else "deliveries"
    return f"failed {word}" if recovery.include == FAILED else word


def describe(recovery: Recovery, requeued: int | None = None) -> str:
    """``"3 failed deliveries made since 2026-01-30 14:30:00 UTC"``, for messages."""
    what = noun(recovery) if requeued is None else f"{requeued} {noun(recovery, requeued)}"
    span = f"made since {_show(recovery.since)}"
    if recovery.until is not None:
        span += f" and before {_show(recovery.until)}"
    return f"{what} {span}"


_AGE_LIKE = re.compile(r"^\d+\s*[smhdw]$")


def parse_moment(text: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """A time typed by a person, as naive UTC: ``2026-01-30T14:30:00Z`` (any offset),
    ``2026-01-30 14:30`` or ``2026-01-30`` (read as UTC), or an age such as ``6h`` or
    ``2d`` (that long before ``now``), as the CLI and the dashboard take it.

    :raises ValueError: with the accepted forms.
    """
    from .durations import parse_age

    value = text.strip()
    if _AGE_LIKE.match(value):  # an age: its own error (too long) is the one to show
        return (now or utcnow()) - parse_age(value)
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a time; write 2026-01-30T14:30:00Z, "
                         "2026-01-30 14:30 (UTC) or an age such as 6h or 2d.") from None
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
        except OverflowError:
            raise ValueError(f"{text!r} is out of range once read as UTC.") from None
    return moment


def _show(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
