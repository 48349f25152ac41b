"""Finding and changing webhooks, deliveries and events, scoped to an owner.

The API passes the owner of the API key, so another owner's rows are simply not found
(``404``, never ``403``); the CLI is an operator's tool and passes ``owner=None`` (any
owner). Both go through these functions, so each thing is done one way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import selectinload

from .. import ordering, search
from ..models import (
    NOT_PENDING,
    PENDING,
    AnySession,
    Attempt,
    Delivery,
    Event,
    Ordering,
    Webhook,
    rollup_table,
)
from ..signing import generate_secret
from ..timeutil import utcnow
from . import validation
from .errors import NoSuchResource, StateConflict

#: How many deliveries ``GET /webhooks/{id}`` shows under ``recent_deliveries``.
RECENT_DELIVERIES = 10

#: ``db.session`` (a scoped session) or a plain one.


def paginate(session: AnySession, query: Select[Any], id_column: Any, limit: int,
             after: str | None) -> tuple[list[Any], bool]:
    """Newest first (ids sort by creation time); ``after`` is the last id already seen."""
    if after is not None:
        query = query.where(id_column < after)
    rows = list(session.scalars(query.order_by(id_column.desc()).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def _owned(query: Select[Any], column: Any, owner: str | None) -> Select[Any]:
    return query if owner is None else query.where(column == owner)


def get_webhook(session: AnySession, webhook_id: str, owner: str | None) -> Webhook:
    """:raises NoSuchResource: for a malformed id, an unknown one or another owner's."""
    hook: Webhook | None = None
    if validation.is_id(webhook_id, "wh"):
        hook = session.scalars(
            _owned(select(Webhook).where(Webhook.id == webhook_id), Webhook.owner, owner)
        ).first()
    if hook is None:
        raise NoSuchResource(f"No webhook {webhook_id!r}.")
    return hook


def list_webhooks(session: AnySession, owner: str | None, limit: int,
                  after: str | None = None) -> tuple[list[Webhook], bool]:
    return paginate(session, _owned(select(Webhook), Webhook.owner, owner), Webhook.id,
                    limit, after)


def create_webhook(session: AnySession, owner: str, fields: dict[str, Any]) -> Webhook:
    """Add a webhook from checked ``fields`` (see :func:`validation.webhook_fields`) and
    commit. Without a ``secret`` one is generated."""
    now = utcnow()
    hook = Webhook(
        owner=owner, url=fields["url"], events=fields["events"],
        secret=fields.get("secret") or generate_secret(),
        description=fields.get("description"), enabled=True, created_at=now, updated_at=now,
        custom_headers=fields.get("headers") or None,
        ordering=fields.get("ordering") or Ordering.NONE,
        max_per_second=fields.get("max_per_second"),
        max_in_flight=fields.get("max_in_flight"),
    )
    session.add(hook)
    session.commit()
    return hook


def update_webhook(session: AnySession, hook: Webhook, fields: dict[str, Any],
                   rotation_grace: float) -> Webhook:
    """Apply checked ``fields``; commit.

    A new ``secret`` is a rotation: the old one keeps signing ``webhook-signature`` for
    ``rotation_grace`` seconds. Switching a webhook back on clears its run of failed
    deliveries, so ``CLAWHOOKS_DISABLE_AFTER_FAILURES`` does not switch it off again at
    the next failure.
    """
    if "url" in fields:
        hook.url = fields["url"]
    if "events" in fields:
        hook.events = fields["events"]
    if "description" in fields:
        hook.description = fields["description"]
    if "headers" in fields:
        hook.custom_headers = fields["headers"] or None
    if hook.ordering == Ordering.FIFO and fields.get("ordering") == Ordering.NONE:
        ordering.release_parked(session, hook.id, utcnow())
    for name in validation.CONTROL_FIELDS:
        if name in fields:
            setattr(hook, name, fields[name])
    if "secret" in fields:
        hook.rotate_secret(fields["secret"], rotation_grace)
    if "enabled" in fields:
        hook.enabled = fields["enabled"]
    hook.updated_at = utcnow()
    session.commit()
    return hook


def delete_webhook(session: AnySession, hook: Webhook) -> None:
    """Delete the webhook, its deliveries, their attempts and its roll-ups; commit.
    Events stay.

    Deleted explicitly rather than left to ``ON DELETE CASCADE``, which SQLite does not
    enforce unless asked to.
    """
    # Pending, then finished: each on its partial index, and a delivery a worker
    # finishes in between is in the second.
    for part in (PENDING, NOT_PENDING):
        of_hook = (Delivery.webhook_id == hook.id, part)
        session.execute(delete(Attempt).where(
            Attempt.delivery_id.in_(select(Delivery.id).where(*of_hook))))
        session.execute(delete(Delivery).where(*of_hook))
    session.execute(delete(rollup_table).where(rollup_table.c.webhook_id == hook.id))
    session.execute(delete(Webhook).where(Webhook.id == hook.id))
    session.commit()
    if hook in session:
        session.expunge(hook)


def ensure_enabled(hook: Webhook, action: str) -> None:
    """:raises StateConflict: if ``hook`` is switched off, so ``action`` would only fail."""
    if not hook.enabled:
        raise StateConflict(f"Webhook {hook.id} is disabled; enable it "
                            f'(PATCH {{"enabled": true}}) before {action}.')


def ensure_not_in_flight(delivery: Delivery) -> None:
    """:raises StateConflict: while a worker holds the delivery's lease."""
    if delivery.lease_until is not None and delivery.lease_until > utcnow():
        raise StateConflict(f"Delivery {delivery.id} is being sent right now; "
                            "look again in a moment.")


def recent_deliveries(session: AnySession, hook: Webhook) -> list[Delivery]:
    ids, _more = search.page_ids(session, [hook.id], search.DeliveryQuery(), RECENT_DELIVERIES)
    return search.load(session, ids)


def list_deliveries(session: AnySession, hook: Webhook, limit: int, after: str | None = None,
                    status: str | None = None,
                    event_type: str | None = None) -> tuple[list[Delivery], bool]:
    """A page of the webhook's deliveries, newest first; ``after`` is the last id seen."""
    query = search.DeliveryQuery(status=status, event_type=event_type)
    ids, more = search.page_ids(session, [hook.id], query, limit, below=after)
    # Attempts come along: a delivery's status_detail reads the last one's outcome.
    return search.load(session, ids, selectinload(Delivery.attempts)), more


def get_delivery(session: AnySession, delivery_id: str, owner: str | None,
                 webhook_id: str | None = None) -> Delivery:
    """A delivery with its attempts loaded.

    :raises NoSuchResource: unless it exists, its webhook is ``owner``'s and, when given,
        is ``webhook_id``.
    """
    found: Delivery | None = None
    if validation.is_id(delivery_id, "del"):
        query = (select(Delivery).join(Webhook, Delivery.webhook_id == Webhook.id)
                 .where(Delivery.id == delivery_id)
                 .options(selectinload(Delivery.attempts)))
        if webhook_id is not None:
            query = query.where(Delivery.webhook_id == webhook_id)
        found = session.scalars(_owned(query, Webhook.owner, owner)).first()
    if found is None:
        raise NoSuchResource(f"No delivery {delivery_id!r}"
                             + (f" of webhook {webhook_id!r}." if webhook_id else "."))
    return found


def list_events(session: AnySession, owner: str, limit: int, after: str | None = None,
                event_type: str | None = None) -> tuple[list[Event], bool]:
    query = select(Event).where(Event.owner == owner)
    if event_type is not None:
        query = query.where(Event.type == event_type)
    return paginate(session, query, Event.id, limit, after)


def get_event(session: AnySession, event_id: str, owner: str) -> Event:
    found = None
    if validation.is_id(event_id, "evt"):
        found = session.scalars(
            select(Event).where(Event.id == event_id, Event.owner == owner)
        ).first()
    if found is None:
        raise NoSuchResource(f"No event {event_id!r}.")
    return found
