"""E-mail to an owner: a webhook used up its retries, keeps failing, or was switched off.

The host says where an owner's mail goes with :meth:`ClawHooks.owner_email_loader`;
SMTP settings come from ``CLAWHOOKS_MAIL_*``. Without a mail server or an address for
the owner, nothing is sent (the signals still fire).

* "failed": a delivery used up its retries (the ClawBook page's promise); sent by the
  worker after recording it, at most once per webhook per
  ``CLAWHOOKS_FAILURE_EMAIL_INTERVAL``, however many deliveries fail.
* "failing" (a warning) and "disabled": sent by the health check
  (:mod:`flask_clawhooks.health`), once per run of failures.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from typing import TYPE_CHECKING

from sqlalchemy import or_, update

from . import metrics
from .models import webhook_table
from .timeutil import isoformat, utcnow

if TYPE_CHECKING:
    from .health import HealthNotice
    from .ledger import Failure
    from .state import State

log = logging.getLogger("flask_clawhooks")


def _message(subject: str, text: str, sender: str, recipient: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = recipient
    message.set_content(text)
    return message


def failure_message(failure: Failure, api_prefix: str, sender: str,
                    recipient: str, *, dashboard_prefix: str | None = None) -> EmailMessage:
    """:param dashboard_prefix: where the dashboard is mounted; the e-mail then names the
        delivery's own page (a path: the worker knows no host name)."""
    page = (f"Its attempts, request and responses are on its page in the dashboard:\n"
            f"  {dashboard_prefix}/{failure.webhook_id}/deliveries/{failure.delivery_id}\n\n"
            if dashboard_prefix is not None else "")
    return _message(
        f"[ClawBook] Webhook {failure.webhook_id} failed",
        f"Your webhook {failure.webhook_id} ({failure.url}) has been marked as failed.\n\n"
        f"Delivery {failure.delivery_id} of event {failure.event_id} ({failure.event_type})\n"
        f"failed {failure.attempts} times. Last error: {failure.reason}\n\n"
        f"{page}"
        "New events are still sent to this webhook, and it becomes active again after its\n"
        "next successful delivery. Check that the endpoint answers 2xx within the timeout,\n"
        "then retry the delivery from the dashboard or with\n"
        f"  POST {api_prefix}/webhooks/{failure.webhook_id}/deliveries/"
        f"{failure.delivery_id}/retry\n",
        sender, recipient,
    )


def warning_message(notice: HealthNotice, api_prefix: str, sender: str,
                    recipient: str) -> EmailMessage:
    days = _duration(notice.failing_for)
    until = (f"It will be disabled automatically at {isoformat(notice.disable_at)} unless a\n"
             "delivery to it succeeds before then.\n\n" if notice.disable_at else "")
    return _message(
        f"[ClawBook] Webhook {notice.webhook_id} has been failing for {days}",
        f"Every attempt to deliver to your webhook {notice.webhook_id} ({notice.url})\n"
        f"has failed since {isoformat(notice.failing_since)}: {notice.failed_attempts} "
        f"attempts in a row. Last error: {notice.last_error or 'unknown'}\n\n"
        f"{until}"
        "Check that the endpoint answers 2xx within the timeout. Its health and delivery\n"
        "log are on the dashboard, or with\n"
        f"  GET {api_prefix}/webhooks/{notice.webhook_id}/stats\n"
        f"  GET {api_prefix}/webhooks/{notice.webhook_id}/deliveries?status=failed\n",
        sender, recipient,
    )


def disabled_message(notice: HealthNotice, api_prefix: str, sender: str,
                     recipient: str) -> EmailMessage:
    return _message(
        f"[ClawBook] Webhook {notice.webhook_id} was disabled",
        f"Your webhook {notice.webhook_id} ({notice.url}) was disabled: {notice.reason}.\n"
        "No events are sent to it while it is disabled.\n\n"
        f"It has failed since {isoformat(notice.failing_since)} "
        f"({notice.failed_attempts} attempts in a row).\n"
        f"Last error: {notice.last_error or 'unknown'}\n\n"
        "Fix the endpoint, then enable the webhook again in the dashboard or with\n"
        f'  PATCH {api_prefix}/webhooks/{notice.webhook_id}  {{"enabled": true}}\n',
        sender, recipient,
    )


def _duration(seconds: float) -> str:
    """``24 hours``, ``5 days``, ``90 seconds``: the largest unit that is whole enough."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds / size
            text = f"{count:.0f}" if abs(count - round(count)) < 0.05 else f"{count:.1f}"
            return f"{text} {unit}{'' if text == '1' else 's'}"
    return f"{seconds:g} seconds"


def _claim_failure_email(state: State, webhook_id: str) -> bool:
    """Take this interval's single "failed" e-mail for the webhook (atomic)."""
    session = state.db.session
    now = utcnow()
    cutoff = now - dt.timedelta(seconds=state.settings.failure_email_interval)
    result = session.execute(
        update(webhook_table)
        .where(webhook_table.c.id == webhook_id,
               or_(webhook_table.c.last_failure_email_at.is_(None),
                   webhook_table.c.last_failure_email_at <= cutoff))
        .values(last_failure_email_at=now)
    )
    session.commit()
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def send_failure_email(state: State, failure: Failure) -> bool:
    """Send the "webhook failed" e-mail unless one went out within the interval."""
    recipient = _recipient(state, failure.owner, failure.webhook_id)
    if recipient is None:
        return False
    if not _claim_failure_email(state, failure.webhook_id):
        log.info("Failure e-mail for %s skipped: one was sent within %.0f s",
                 failure.webhook_id, state.settings.failure_email_interval)
        return False
    settings = state.settings
    _send(state, failure_message(failure, settings.api_prefix, settings.mail_sender,
                                 recipient, dashboard_prefix=settings.dashboard_prefix),
          "failed")
    return True


def send_warning_email(state: State, notice: HealthNotice) -> bool:
    """Tell the owner the webhook has been failing for ``CLAWHOOKS_WARN_AFTER_FAILING_FOR``."""
    return _send_notice(state, notice, warning_message, "warning")


def send_disabled_email(state: State, notice: HealthNotice) -> bool:
    """Tell the owner the health check switched the webhook off, and why."""
    return _send_notice(state, notice, disabled_message, "disabled")


def _send_notice(state: State, notice: HealthNotice,
                 build: Callable[[HealthNotice, str, str, str], EmailMessage],
                 kind: str) -> bool:
    recipient = _recipient(state, notice.owner, notice.webhook_id)
    if recipient is None:
        return False
    settings = state.settings
    _send(state, build(notice, settings.api_prefix, settings.mail_sender, recipient), kind)
    return True


def _recipient(state: State, owner: str, webhook_id: str) -> str | None:
    recipient = state.owner_email(owner)
    if state.settings.mail_server is None or not recipient:
        log.info("No e-mail about %s (no mail server or no address for owner %r)",
                 webhook_id, owner)
        return None
    return recipient


def _send(state: State, message: EmailMessage, kind: str) -> None:
    settings = state.settings
    assert settings.mail_server is not None
    smtp_class = smtplib.SMTP_SSL if settings.mail_use_ssl else smtplib.SMTP
    try:
        with smtp_class(settings.mail_server, settings.mail_port, timeout=30) as smtp:
            if settings.mail_use_tls:
                smtp.starttls()
            if settings.mail_username:
                smtp.login(settings.mail_username, settings.mail_password or "")
            smtp.send_message(message)
    except Exception:
        metrics.emailed(kind, sent=False)
        raise
    metrics.emailed(kind, sent=True)
