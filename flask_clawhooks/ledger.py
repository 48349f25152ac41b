"""The database side of delivering: claiming deliveries and recording what happened.

Claiming writes a lease (a random token and an expiry) on each delivery and an attempt
row in the state ``sending``, in one transaction, *before* anything is sent. A worker
killed in the middle of a POST therefore leaves an attempt row behind, and once its lease
has run out the sweeper marks that attempt ``interrupted`` and hands the delivery to
another worker. Every request a receiver sees has an attempt row.

Recording writes a batch of finished attempts and their deliveries in one transaction and
returns the follow-ups (retries to schedule, signals, e-mails) to run after the commit.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, or_, select, update

from . import custom_headers
from .config import Settings
from .ids import new_id
from .models import (
    AnySession,
    Delivery,
    DeliveryStatus,
    Event,
    Webhook,
    WebhookStatus,
    attempt_table,
    delivery_table,
)
from .outcome import Verdict, classify, describe, retry_after_seconds, retry_delay
from .signing import signature_header, standard_signature
from .timeutil import utcnow
from .transport import USER_AGENT, HttpResult

_attempts = attempt_table
_deliveries = delivery_table


@dataclass
class Work:
    """A claimed delivery, with everything needed to send it without the database."""

    delivery_id: str
    attempt_id: str
    attempt_number: int
    lease_token: str
    webhook_id: str
    owner: str
    url: str
    event_id: str
    event_type: str
    body: bytes
    headers: dict[str, str]
    #: What the attempt log stores when it differs from ``headers``: secret custom
    #: header values masked (:mod:`flask_clawhooks.custom_headers`).
    log_headers: dict[str, str] | None = None
    #: Secret custom header values, masked in the receiver's logged answer.
    secret_values: tuple[str, ...] = ()


@dataclass
class Outcome:
    """A finished POST. ``started_at`` becomes the attempt's time: the claim wrote a
    provisional one, but a claimed delivery may wait for a free sender first."""

    work: Work
    result: HttpResult
    started_at: dt.datetime
    finished_at: dt.datetime


@dataclass
class Failure:
    """A delivery that ended without success, for signals and e-mail."""

    delivery_id: str
    webhook_id: str
    owner: str
    url: str
    event_id: str
    event_type: str
    reason: str
    attempts: int
    exhausted: bool


@dataclass
class Followups:
    """What to do once a recording transaction has committed."""

    retries: list[tuple[str, dt.datetime]] = field(default_factory=list)
    succeeded: list[Outcome] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    recovered_webhooks: list[str] = field(default_factory=list)


def request_headers(
    signing_secrets: Sequence[str], body: bytes, event_id: str, event_type: str,
    delivery_id: str,
    timestamp: int,
) -> dict[str, str]:
    """The headers of one attempt. ``signing_secrets[0]`` is current; any others are still in
    their rotation grace period and only add Standard Webhooks signatures."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-ClawBook-Event": event_type,
        "X-ClawBook-Delivery": delivery_id,
        "X-ClawBook-Signature": signature_header(signing_secrets[0], body),
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            standard_signature(secret, event_id, timestamp, body) for secret in signing_secrets
        ),
    }


def claim(
    session: AnySession,
    delivery_ids: Sequence[str],
    settings: Settings,
    admit: Callable[[str], bool] | None = None,
) -> tuple[list[Work], list[str]]:
    """Lease those of ``delivery_ids`` that are pending, due and not leased; commit.

    Deliveries of a disabled webhook are failed instead of sent. With ``admit``, each
    claimable delivery's URL is offered to it first, and those it turns down are left
    unclaimed and returned as the second item, to be tried again a little later.
    """
    if not delivery_ids:
        return [], []
    now = utcnow()
    claimable = (
        _deliveries.c.status == DeliveryStatus.PENDING,
        or_(_deliveries.c.next_attempt_at.is_(None), _deliveries.c.next_attempt_at <= now),
        # Not leased. An expired lease is released only by interrupt_expired (the
        # sweeper), which closes its "sending" attempt first; taking it over here would
        # leave that attempt "sending" for ever.
        _deliveries.c.lease_until.is_(None),
    )
    deferred: list[str] = []
    if admit is not None:
        candidates = session.execute(
            select(_deliveries.c.id, Webhook.url)
            .join(Webhook, _deliveries.c.webhook_id == Webhook.id)
            .where(_deliveries.c.id.in_(delivery_ids), *claimable)
        ).all()
        delivery_ids = []
        for delivery_id, url in candidates:
            (delivery_ids if admit(url) else deferred).append(delivery_id)
        if not delivery_ids:
            session.rollback()
            return [], deferred
    token = secrets.token_hex(16)
    session.execute(
        update(_deliveries)
        .where(_deliveries.c.id.in_(delivery_ids), *claimable)
        .values(
            lease_token=token,
            lease_until=now + dt.timedelta(seconds=settings.lease_seconds),
            attempt_count=_deliveries.c.attempt_count + 1,
            updated_at=now,
        )
    )
    rows = session.execute(
        select(
            Delivery.id, Delivery.attempt_count, Webhook.id, Webhook.owner, Webhook.url,
            Webhook.secret, Webhook.previous_secret, Webhook.previous_secret_expires_at,
            Webhook.enabled, Event.id, Event.type, Event.body, Webhook.custom_headers,
        )
        .join(Webhook, Delivery.webhook_id == Webhook.id)
        .join(Event, Delivery.event_id == Event.id)
        .where(Delivery.id.in_(delivery_ids), Delivery.lease_token == token)
    ).all()

    works: list[Work] = []
    disabled: list[str] = []
    timestamp = int(time.time())
    for (delivery_id, count, webhook_id, owner, url, secret, previous, previous_until,
         enabled, event_id, event_type, body, custom) in rows:
        if not enabled:
            disabled.append(delivery_id)
            continue
        secrets_now = [secret]
        if previous and previous_until is not None and previous_until > now:
            secrets_now.append(previous)
        work = Work(
            delivery_id=delivery_id, attempt_id=new_id("att"), attempt_number=count,
            lease_token=token, webhook_id=webhook_id, owner=owner, url=url,
            event_id=event_id, event_type=event_type, body=body,
            headers=request_headers(secrets_now, body, event_id, event_type, delivery_id,
                                    timestamp),
        )
        if custom:
            work.headers, work.log_headers, work.secret_values = custom_headers.apply(
                work.headers, custom)
        works.append(work)
    if disabled:
        session.execute(
            update(_deliveries).where(_deliveries.c.id.in_(disabled)).values(
                status=DeliveryStatus.FAILED, lease_token=None, lease_until=None,
                attempt_count=_deliveries.c.attempt_count - 1,
                last_error="webhook was disabled before this delivery was sent",
                updated_at=now,
            )
        )
    if works:
        session.execute(_attempts.insert(), [
            {"id": w.attempt_id, "delivery_id": w.delivery_id, "webhook_id": w.webhook_id,
             "number": w.attempt_number, "outcome": "sending", "response_time_ms": 0,
             "request_headers": w.headers if w.log_headers is None else w.log_headers,
             "created_at": now}
            for w in works
        ])
    session.commit()
    return works, deferred


def record(session: AnySession, outcomes: Sequence[Outcome], settings: Settings) -> Followups:
    """Write the attempts and delivery states of ``outcomes`` in one transaction; commit."""
    follow = Followups()
    attempt_rows = []
    delivery_rows = []
    terminal: list[tuple[Failure | None, str]] = []  # (failure or None for success, webhook)
    gone: set[str] = set()
    exhausted: set[str] = set()

    for outcome in outcomes:
        work, result = outcome.work, outcome.result
        verdict = classify(result)
        error = describe(result)
        status = DeliveryStatus.PENDING
        next_at: dt.datetime | None = None
        attempt_outcome = "failed"
        if verdict is Verdict.SUCCESS:
            status, attempt_outcome = DeliveryStatus.SUCCESS, "success"
            follow.succeeded.append(outcome)
        elif verdict is Verdict.RETRY:
            wait = retry_after_seconds(result.headers, result.status, outcome.finished_at)
            delay = retry_delay(settings.retry_delays, work.attempt_number, wait)
            if delay is None:
                status = DeliveryStatus.FAILED
                exhausted.add(work.webhook_id)
            else:
                attempt_outcome = "retry"
                next_at = outcome.finished_at + dt.timedelta(seconds=delay)
                follow.retries.append((work.delivery_id, next_at))
        else:
            status = DeliveryStatus.FAILED
            if verdict is Verdict.GONE:
                gone.add(work.webhook_id)
        excerpt, response_headers = result.excerpt, result.headers or None
        if work.secret_values:
            excerpt, response_headers = custom_headers.scrub(
                work.secret_values, excerpt, response_headers)
        if status == DeliveryStatus.FAILED:
            failure = Failure(
                delivery_id=work.delivery_id, webhook_id=work.webhook_id, owner=work.owner,
                url=work.url, event_id=work.event_id, event_type=work.event_type,
                reason=error or "failed", attempts=work.attempt_number,
                exhausted=verdict is Verdict.RETRY,
            )
            follow.failures.append(failure)
            terminal.append((failure, work.webhook_id))
        elif status == DeliveryStatus.SUCCESS:
            terminal.append((None, work.webhook_id))
        attempt_rows.append({
            "b_id": work.attempt_id, "outcome": attempt_outcome,
            "started_at": outcome.started_at,
            "response_code": result.status, "response_time_ms": result.elapsed_ms,
            "error": error, "response_headers": response_headers,
            "response_excerpt": excerpt,
        })
        delivery_rows.append({
            "b_id": work.delivery_id, "b_token": work.lease_token, "status": status,
            "next_attempt_at": next_at, "lease_token": None, "lease_until": None,
            "response_code": result.status, "response_time_ms": result.elapsed_ms,
            "last_error": error, "updated_at": outcome.finished_at,
        })

    session.execute(
        _attempts.update().where(_attempts.c.id == bindparam("b_id")).values(
            outcome=bindparam("outcome"), response_code=bindparam("response_code"),
            created_at=bindparam("started_at"),
            response_time_ms=bindparam("response_time_ms"), error=bindparam("error"),
            response_headers=bindparam("response_headers"),
            response_excerpt=bindparam("response_excerpt"),
        ),
        attempt_rows,
    )
    session.execute(
        _deliveries.update()
        .where(_deliveries.c.id == bindparam("b_id"),
               _deliveries.c.lease_token == bindparam("b_token"))
        .values(
            status=bindparam("status"), next_attempt_at=bindparam("next_attempt_at"),
            lease_token=bindparam("lease_token"), lease_until=bindparam("lease_until"),
            response_code=bindparam("response_code"),
            response_time_ms=bindparam("response_time_ms"),
            last_error=bindparam("last_error"), updated_at=bindparam("updated_at"),
        ),
        delivery_rows,
    )
    _update_webhooks(session, terminal, gone, exhausted, follow, settings)
    session.commit()
    return follow


def _update_webhooks(
    session: AnySession,
    terminal: list[tuple[Failure | None, str]],
    gone: set[str],
    exhausted: set[str],
    follow: Followups,
    settings: Settings,
) -> None:
    """Webhook status after a batch: recovered, failed, or gone.

    Switching off a webhook that keeps failing is not done here but by the periodic
    health check (:mod:`flask_clawhooks.health`), which reads the attempts: nothing on
    this path counts failures on the webhook row.
    """
    succeeded = [wid for failure, wid in terminal if failure is None]
    if succeeded:
        recovered = session.scalars(
            select(Webhook.id).where(Webhook.id.in_(succeeded),
                                     Webhook.status == WebhookStatus.FAILED)
        ).all()
        if recovered:
            session.execute(update(Webhook).where(Webhook.id.in_(recovered))
                            .values(status=WebhookStatus.ACTIVE))
            follow.recovered_webhooks.extend(recovered)
    if exhausted:
        session.execute(update(Webhook).where(Webhook.id.in_(exhausted))
                        .values(status=WebhookStatus.FAILED))
    if gone:
        session.execute(update(Webhook).where(Webhook.id.in_(gone)).values(enabled=False))


def interrupt_expired(session: AnySession, now: dt.datetime) -> list[str]:
    """Close the ``sending`` attempts of deliveries whose lease ran out; commit.

    Returns the ids of those deliveries. A receiver may or may not have seen such an
    attempt: the worker died before it could tell.
    """
    expired = session.scalars(
        select(Delivery.id).where(
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.lease_until.is_not(None),
            Delivery.lease_until < now,
        )
    ).all()
    if not expired:
        return []
    session.execute(
        update(_attempts)
        .where(_attempts.c.delivery_id.in_(expired), _attempts.c.outcome == "sending")
        .values(outcome="interrupted",
                error="interrupted: the worker stopped before the outcome was recorded")
    )
    session.execute(
        update(_deliveries)
        .where(_deliveries.c.id.in_(expired), _deliveries.c.lease_until < now)
        .values(lease_token=None, lease_until=None, next_attempt_at=now)
    )
    session.commit()
    return list(expired)


def due(session: AnySession, now: dt.datetime, grace: float, limit: int) -> list[str]:
    """Ids of pending, unleased deliveries that were due at least ``grace`` seconds ago."""
    cutoff = now - dt.timedelta(seconds=grace)
    return list(session.scalars(
        select(Delivery.id)
        .where(
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.lease_until.is_(None),
            or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= cutoff),
        )
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
    ).all())
