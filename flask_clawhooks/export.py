"""Exporting the delivery log as JSON lines (``flask clawhooks export``), e.g. before it
is pruned.

One line per event, oldest first: the event (its envelope as sent, or null once its
payload expired) with each of its deliveries and their attempts, so a line stands on
its own. The range is a range of event ids (ids sort by creation time,
:func:`flask_clawhooks.ids.first_id_at`), read in batches of :data:`BATCH` events in
short read transactions: an export of millions of rows holds no snapshot for long and
uses memory for one batch only.

.. versionadded:: 0.3.0
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import IO, Any

from sqlalchemy import select

from .ids import first_id_at
from .models import AnySession, attempt_table, delivery_table, event_table
from .timeutil import isoformat

#: Events read per query.
BATCH = 500

_events, _deliveries, _attempts = event_table, delivery_table, attempt_table


def _attempt(row: Any) -> dict[str, Any]:
    return {"id": row.id, "number": row.number, "outcome": row.outcome,
            "response_code": row.response_code, "response_time_ms": row.response_time_ms,
            "error": row.error, "request_headers": row.request_headers,
            "response_headers": row.response_headers,
            "response_excerpt": row.response_excerpt, "created_at": isoformat(row.created_at)}


def _delivery(row: Any, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": row.id, "webhook_id": row.webhook_id, "status": row.status,
            "attempt_count": row.attempt_count, "response_code": row.response_code,
            "response_time_ms": row.response_time_ms, "last_error": row.last_error,
            "created_at": isoformat(row.created_at), "updated_at": isoformat(row.updated_at),
            "attempts": attempts}


def records(session: AnySession, since: dt.datetime | None = None,
            until: dt.datetime | None = None, batch: int = BATCH) -> Iterator[dict[str, Any]]:
    """The events made from ``since`` (included) up to ``until`` (excluded), oldest
    first, each with its deliveries and their attempts, as JSON-ready dicts."""
    after = first_id_at("evt", since) if since is not None else ""
    inclusive = since is not None
    while True:
        query = select(_events).order_by(_events.c.id).limit(batch)
        query = query.where(_events.c.id >= after if inclusive else _events.c.id > after)
        if until is not None:
            query = query.where(_events.c.id < first_id_at("evt", until))
        events = session.execute(query).all()
        if not events:
            session.rollback()
            return
        ids = [row.id for row in events]
        deliveries = session.execute(select(_deliveries).where(_deliveries.c.event_id.in_(ids))
                                     .order_by(_deliveries.c.id)).all()
        attempts: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in session.execute(
                select(_attempts).where(_attempts.c.delivery_id.in_([d.id for d in deliveries]))
                .order_by(_attempts.c.delivery_id, _attempts.c.number)):
            attempts[row.delivery_id].append(_attempt(row))
        session.rollback()  # end the read: no snapshot is held between batches
        by_event: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        for d in deliveries:
            by_event[d.event_id].append(_delivery(d, attempts[d.id]))
        for row in events:
            yield {"id": row.id, "owner": row.owner, "type": row.type,
                   "created_at": isoformat(row.created_at),
                   "payload": None if row.body is None else json.loads(row.body),
                   "deliveries": by_event[row.id]}
        after, inclusive = ids[-1], False


def export(session: AnySession, out: IO[str], since: dt.datetime | None = None,
           until: dt.datetime | None = None,
           progress: Callable[[int], None] | None = None) -> int:
    """Write :func:`records` to ``out``, one JSON object a line; return how many."""
    written = 0
    for record in records(session, since, until):
        out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        written += 1
        if progress is not None and written % BATCH == 0:
            progress(BATCH)
    return written
