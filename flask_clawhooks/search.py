"""Searching the delivery log across all the webhooks of one owner.

``GET /deliveries`` and the dashboard's search box call :func:`search`: filters on the
event id, event type, status, HTTP status code (``404``) or class (``4xx``) and the time
range the deliveries were made in, newest first, cursor-paged on the delivery id.

It stays fast however long the log is. Time bounds become bounds on the delivery id
(ids sort by creation time), and the query is one ``SELECT … ORDER BY id DESC LIMIT n``
per webhook of the owner and per part of its log, glued with ``UNION ALL``: each reads
at most one page from an index that starts with ``webhook_id`` (and the filtered column),
then ``id``. A webhook's log is two parts, its pending deliveries
(``ix_clawhooks_delivery_webhook_pending``) and its finished ones
(``…_webhook_finished``, ``…_finished_type``, ``…_webhook_status``), so that ``emit()``
writes one index keyed by webhook, not three (revision 0010). A filter that only one
part can match reads that part alone: a status, or an HTTP status code or class
(``…_webhook_class``, on ``response_code / 100``, so that ``5xx`` is an equality too,
answered deliveries pending a retry included); the event id is the first column of the
``(event_id, webhook_id)`` unique constraint. A page therefore costs about the same with
a thousand deliveries or a million. Owners with more than :data:`UNION_MAX` webhooks get
one query per part over all of them instead.

:func:`page_ids` is that query for any list of webhooks; the API's and the dashboard's
lists of one webhook's deliveries use it too.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Select, literal_column, select, union_all
from sqlalchemy.orm import selectinload

from .ids import first_id_at
from .models import (
    ANSWERED,
    NOT_PENDING,
    PENDING,
    AnySession,
    Delivery,
    DeliveryStatus,
    Webhook,
    delivery_table,
)

#: Owners with more webhooks than this are searched with one ``IN`` query.
UNION_MAX = 50

_deliveries = delivery_table
#: The class of a delivery's HTTP status (5 for 5xx), written exactly as the index
#: ``ix_clawhooks_delivery_webhook_class`` holds it (integer division, a literal 100).
RESPONSE_CLASS = _deliveries.c.response_code.op("/")(literal_column("100"))


@dataclass(frozen=True)
class DeliveryQuery:
    """The filters of a search; None means "any"."""

    event_id: str | None = None
    event_type: str | None = None
    status: str | None = None
    #: An exact HTTP status code, such as 404.
    response_code: int | None = None
    #: A class of codes: 2 for 2xx, 4 for 4xx, 5 for 5xx.
    response_class: int | None = None
    #: Deliveries made at or after this time (naive UTC) ...
    since: dt.datetime | None = None
    #: ... and before this one.
    until: dt.datetime | None = None
    webhook_id: str | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def parts(self) -> list[list[Any]]:
        """The conditions of each part of the log to read: the pending and the finished
        deliveries, each with the condition of its partial indexes written out (a
        bound parameter would hide from SQLite that the query implies it), or one of
        them, or the whole log where an index other than those serves the filter."""
        found = self.conditions()
        if self.status == DeliveryStatus.PENDING:
            return [[*found, PENDING]]
        if self.status is not None:
            return [[*found, NOT_PENDING]]  # the (webhook_id, status, id) index
        if self.event_id is not None or self.response_code is not None \
                or self.response_class is not None:
            return [found]
        return [[*found, NOT_PENDING], [*found, PENDING]]

    def conditions(self) -> list[Any]:
        c = _deliveries.c
        found: list[Any] = []
        if self.event_id is not None:
            found.append(c.event_id == self.event_id)
        if self.event_type is not None:
            found.append(c.event_type == self.event_type)
        if self.status is not None:
            found.append(c.status == self.status)
        if self.response_code is not None:
            # BETWEEN, not =: SQLite would put the constant into RESPONSE_CLASS (constant
            # propagation) and no longer see that the class index applies.
            found += [RESPONSE_CLASS == self.response_code // 100, ANSWERED,
                      c.response_code.between(self.response_code, self.response_code)]
        if self.response_class is not None:
            found += [RESPONSE_CLASS == self.response_class, ANSWERED]
        if self.since is not None:
            found.append(c.id >= first_id_at("del", self.since))
        if self.until is not None:
            found.append(c.id < first_id_at("del", self.until))
        return found


def parse_code(value: str) -> tuple[int | None, int | None]:
    """``"404"`` → ``(404, None)``; ``"4xx"`` → ``(None, 4)``.

    :raises ValueError: for anything else.
    """
    text = value.strip().lower()
    if len(text) == 3 and text[0] in "12345":
        if text[1:] == "xx":
            return None, int(text[0])
        if text[1:].isdigit() and text.isascii():
            return int(text), None
    raise ValueError(f"{value!r} is not an HTTP status code (404) or class (4xx).")


def search(session: AnySession, owner: str | None, query: DeliveryQuery, limit: int,
           after: str | None = None) -> tuple[list[Delivery], bool]:
    """One page of ``owner``'s deliveries matching ``query``, newest first.

    :param owner: whose webhooks to search; None searches every owner's (the CLI).
    :param after: the last delivery id of the previous page.
    :returns: the deliveries and whether there are more.
    """
    hooks = select(Webhook.id)
    if owner is not None:
        hooks = hooks.where(Webhook.owner == owner)
    if query.webhook_id is not None:
        hooks = hooks.where(Webhook.id == query.webhook_id)
    webhook_ids = list(session.scalars(hooks.order_by(Webhook.id).limit(UNION_MAX + 1)))
    if not webhook_ids:
        return [], False
    ids, more = page_ids(session, webhook_ids if len(webhook_ids) <= UNION_MAX else hooks,
                         query, limit, below=after)
    # Attempts come along: the state's detail reads the last one's outcome.
    return load(session, ids, selectinload(Delivery.attempts)), more


def page_ids(session: AnySession, webhooks: list[str] | Select[Any], query: DeliveryQuery,
             limit: int, *, below: str | None = None,
             above: str | None = None) -> tuple[list[str], bool]:
    """The ids of up to ``limit`` deliveries of ``webhooks`` matching ``query``: newest
    first (below the id ``below``, if given), or oldest first above the id ``above``;
    and whether there are more.

    :param webhooks: webhook ids, or a query of them (more than :data:`UNION_MAX`).
    """
    d = _deliveries.c
    bounds = ([d.id < below] if below is not None else []) + (
        [d.id > above] if above is not None else [])
    order = d.id.asc() if above is not None else d.id.desc()

    def part(webhook: Any, conditions: list[Any]) -> Select[Any]:
        return (select(d.id).where(webhook, *conditions, *bounds)
                .order_by(order).limit(limit + 1))

    if isinstance(webhooks, list) and len(webhooks) <= UNION_MAX and query.event_id is None:
        each = [d.webhook_id == webhook_id for webhook_id in webhooks]
    else:
        each = [d.webhook_id.in_(webhooks)]
    parts = [part(webhook, conditions) for webhook in each for conditions in query.parts()]
    if len(parts) == 1:
        ids_query = parts[0]
    else:
        merged = union_all(*(select(p.subquery().c.id) for p in parts)).subquery()
        ids_query = (select(merged.c.id)
                     .order_by(merged.c.id.asc() if above is not None else merged.c.id.desc())
                     .limit(limit + 1))
    ids = list(session.scalars(ids_query))
    return ids[:limit], len(ids) > limit


def load(session: AnySession, ids: list[str], *options: Any) -> list[Delivery]:
    """The deliveries ``ids``, in that order, with ``options`` (what to load along)."""
    if not ids:
        return []
    found = {delivery.id: delivery for delivery in session.scalars(
        select(Delivery).where(Delivery.id.in_(ids)).options(*options))}
    return [found[delivery_id] for delivery_id in ids if delivery_id in found]
