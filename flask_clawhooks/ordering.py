"""FIFO webhooks: one delivery at a time, in emit order.

The *queue* of a FIFO webhook is its pending deliveries in id order, which is emit order
(ids grow with time, :mod:`flask_clawhooks.ids`). Its first is the *head*. A claim
(:mod:`flask_clawhooks.control`) sends a FIFO webhook's delivery only if it is the head
and no other delivery of the webhook is leased; any other is *parked*: its lease is
given back without an attempt and it is due again only after :data:`PARK_SECONDS`, so
the sweeper does not keep handing it to workers. The head is retried on the usual
schedule, and everything behind it waits, with no attempt of its own and no backoff.

When the head succeeds or fails for good, the worker that recorded it calls
:func:`wake`, which makes the new head due at once and returns it to be sent. If that
worker dies first, the parked head is found by the sweeper once its park runs out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from sqlalchemy import ColumnElement, func, literal_column, select, update

from .models import AnySession, DeliveryStatus, Ordering, Webhook, delivery_table

#: Seconds a delivery waiting behind its queue's head stays parked; the bound on how
#: late it goes out if the worker that should wake it dies.
PARK_SECONDS = 30.0

_d = delivery_table.c


def pending(webhook_id: str) -> tuple[ColumnElement[bool], ...]:
    """The pending deliveries of ``webhook_id``, as ix_clawhooks_delivery_webhook_pending
    (webhook_id, id) WHERE status = 'pending' holds them: the condition is the index's
    own literal (a bound parameter would keep SQLite from seeing the index applies)."""
    return (_d.webhook_id == webhook_id, _d.status == literal_column("'pending'"))


def fifo_webhooks(session: AnySession, webhook_ids: Iterable[str]) -> list[str]:
    """Those of ``webhook_ids`` whose ordering is FIFO."""
    wanted = sorted(set(webhook_ids))
    if not wanted:
        return []
    return list(session.scalars(select(Webhook.id).where(
        Webhook.id.in_(wanted), Webhook.ordering == Ordering.FIFO)))


def head(session: AnySession, webhook_id: str) -> str | None:
    """The id of the first pending delivery of ``webhook_id``, or None."""
    first: str | None = session.scalar(select(func.min(_d.id)).where(*pending(webhook_id)))
    return first


def heads(session: AnySession, webhook_ids: Iterable[str]) -> dict[str, str]:
    """The head of each FIFO webhook among ``webhook_ids`` that has one."""
    found = {}
    for webhook_id in fifo_webhooks(session, webhook_ids):
        first = head(session, webhook_id)
        if first is not None:
            found[webhook_id] = first
    return found


def waiting(session: AnySession, webhook_id: str) -> tuple[str | None, int]:
    """The head of ``webhook_id``'s queue and how many deliveries wait behind it."""
    first = head(session, webhook_id)
    if first is None:
        return None, 0
    behind = session.scalar(select(func.count()).select_from(delivery_table).where(
        *pending(webhook_id), _d.id > first)) or 0
    return first, behind


def waiting_behind(status: str, delivery_id: str, webhook_id: str,
                   queue_heads: Mapping[str, str]) -> str | None:
    """The delivery ``delivery_id`` waits behind, or None (given the heads of its
    webhook's queue, from :func:`heads`)."""
    first = queue_heads.get(webhook_id)
    if status != DeliveryStatus.PENDING or first is None or first == delivery_id:
        return None
    return first


def release_parked(session: AnySession, webhook_id: str, now: dt.datetime) -> None:
    """Make the parked deliveries of a webhook that is no longer FIFO due now, in
    ``session``'s transaction; the sweeper sends them."""
    session.execute(
        update(delivery_table)
        .where(*pending(webhook_id), _d.attempt_count == 0, _d.lease_until.is_(None),
               _d.next_attempt_at > now)
        .values(next_attempt_at=now))


def wake(session: AnySession, webhook_ids: Iterable[str], now: dt.datetime) -> list[str]:
    """Make the head of each FIFO webhook among ``webhook_ids`` due now, if it was
    parked; commit. Returns the heads, to be sent.

    A head that was already attempted keeps its retry time: only a delivery that never
    went out can have been parked (nothing behind a head is attempted).
    """
    first_of = heads(session, webhook_ids)
    if first_of:
        session.execute(
            update(delivery_table)
            .where(_d.id.in_(list(first_of.values())), _d.status == DeliveryStatus.PENDING,
                   _d.attempt_count == 0, _d.lease_until.is_(None), _d.next_attempt_at > now)
            .values(next_attempt_at=now))
    session.commit()
    return list(first_of.values())
