"""E-mail to an owner: a webhook used up its retries, or was switched off.

The host says where an owner's mail goes with :meth:`ClawHooks.owner_email_loader`;
SMTP settings come from ``CLAWHOOKS_MAIL_*``. Without a mail server or an address for
the owner, nothing is sent (the signals still fire). The "failed" e-mail is sent at most
once per webhook per ``CLAWHOOKS_FAILURE_EMAIL_INTERVAL``, however many deliveries fail.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from email.message import EmailMessage
from typing import TYPE_CHECKING

from sqlalchemy import or_, update

from .models import webhook_table
from .timeutil import utcnow

if TYPE_CHECKING:
    from .extension import State
    from .ledger import Failure

log = logging.getLogger("flask_clawhooks")


def _message(subject: str, text: str, sender: str, recipient: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = recipient
    message.set_content(text)
    return message


def failure_message(failure: Failure, api_prefix: str, sender: str,
                    recipient: str) -> EmailMessage:
    return _message(
        f"[ClawBook] Webhook {failure.webhook_id} failed",
        f"Your webhook {failure.webhook_id} ({failure.url}) has been marked as failed.\n\n"
        f"Delivery {failure.delivery_id} of event {failure.event_id} ({failure.event_type})\n"
        f"failed {failure.attempts} times. Last error: {failure.reason}\n\n"
        "New events are still sent to this webhook, and it becomes active again after its\n"
        "next successful delivery. Check that the endpoint answers 2xx within the timeout,\n"
        "then retry the delivery from the dashboard or with\n"
        f"  POST {api_prefix}/webhooks/{failure.webhook_id}/deliveries/"
        f"{failure.delivery_id}/retry\n",
        sender, recipient,
    )


def disabled_message(failure: Failure, limit: int, api_prefix: str, sender: str,
                     recipient: str) -> EmailMessage:
    return _message(
        f"[ClawBook] Webhook {failure.webhook_id} was disabled",
        f"Your webhook {failure.webhook_id} ({failure.url}) was disabled after {limit}\n"
        "deliveries in a row failed. No events are sent to it while it is disabled.\n\n"
        f"The last one, {failure.delivery_id} ({failure.event_type}), failed with: "
        f"{failure.reason}\n\n"
        "Fix the endpoint, then enable the webhook again in the dashboard or with\n"
        f'  PATCH {api_prefix}/webhooks/{failure.webhook_id}  {{"enabled": true}}\n',
        sender, recipient,
    )


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
    recipient = _recipient(state, failure)
    if recipient is None:
        return False
    if not _claim_failure_email(state, failure.webhook_id):
        log.info("Failure e-mail for %s skipped: one was sent within %.0f s",
                 failure.webhook_id, state.settings.failure_email_interval)
        return False
    settings = state.settings
    _send(state, failure_message(failure, settings.api_prefix, settings.mail_sender,
                                 recipient))
    return True


def send_disabled_email(state: State, failure: Failure) -> bool:
    """Send the "webhook disabled" e-mail (CLAWHOOKS_DISABLE_AFTER_FAILURES)."""
    recipient = _recipient(state, failure)
    if recipient is None:
        return False
    limit = state.settings.disable_after_failures or 0
    _send(state, disabled_message(failure, limit, state.settings.api_prefix,
                                  state.settings.mail_sender, recipient))
    return True


def _recipient(state: State, failure: Failure) -> str | None:
    recipient = state.owner_email(failure.owner)
    if state.settings.mail_server is None or not recipient:
        log.info("No e-mail about %s (no mail server or no address for owner %r)",
                 failure.webhook_id, failure.owner)
        return None
    return recipient


def _send(state: State, message: EmailMessage) -> None:
    settings = state.settings
    assert settings.mail_server is not None
    smtp_class = smtplib.SMTP_SSL if settings.mail_use_ssl else smtplib.SMTP
    with smtp_class(settings.mail_server, settings.mail_port, timeout=30) as smtp:
        if settings.mail_use_tls:
            smtp.starttls()
        if settings.mail_username:
            smtp.login(settings.mail_username, settings.mail_password or "")
        smtp.send_message(message)
