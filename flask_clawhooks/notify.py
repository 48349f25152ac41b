"""The e-mail an owner gets when a webhook has used up its retries.

The host says where an owner's mail goes with :meth:`ClawHooks.owner_email_loader`;
SMTP settings come from ``CLAWHOOKS_MAIL_*``. Without a mail server or an address for
the owner, nothing is sent (the ``webhook_failed`` signal still fires).
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .extension import State
    from .ledger import Failure

log = logging.getLogger("flask_clawhooks")


def failure_message(failure: Failure, sender: str, recipient: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[ClawBook] Webhook {failure.webhook_id} failed"
    message["From"] = sender
    message["To"] = recipient
    message.set_content(
        f"Your webhook {failure.webhook_id} ({failure.url}) has been marked as failed.\n\n"
        f"Delivery {failure.delivery_id} of event {failure.event_id} ({failure.event_type})\n"
        f"failed {failure.attempts} times. Last error: {failure.reason}\n\n"
        "New events are still sent to this webhook, and it becomes active again after its\n"
        "next successful delivery. Check that the endpoint answers 2xx within the timeout,\n"
        "then retry the delivery from the dashboard or with\n"
        f"  POST /api/v1/webhooks/{failure.webhook_id}/deliveries/{failure.delivery_id}/retry\n"
    )
    return message


def send_failure_email(state: State, failure: Failure) -> bool:
    """Send the failure e-mail; return whether one was sent."""
    settings = state.settings
    recipient = state.owner_email(failure.owner)
    if settings.mail_server is None or not recipient:
        log.info("No failure e-mail for %s (no mail server or no address for owner %r)",
                 failure.webhook_id, failure.owner)
        return False
    message = failure_message(failure, settings.mail_sender, recipient)
    smtp_class = smtplib.SMTP_SSL if settings.mail_use_ssl else smtplib.SMTP
    with smtp_class(settings.mail_server, settings.mail_port, timeout=30) as smtp:
        if settings.mail_use_tls:
            smtp.starttls()
        if settings.mail_username:
            smtp.login(settings.mail_username, settings.mail_password or "")
        smtp.send_message(message)
    return True
