"""``flask clawhooks check-receiver WEBHOOK_ID``: grade a webhook's receiver with
:mod:`receiver_kit.check`, using the webhook's own URL, secret and custom headers.

The requests go where deliveries go, so they obey the same SSRF policy
(:mod:`flask_clawhooks.destinations`): every address the URL's host resolves to is checked
before anything is sent, and each connection is checked again on the address it actually
reached, so a name re-pointed in between (DNS rebinding) gets nothing.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import click
from flask.cli import with_appcontext

from receiver_kit.check import DEFAULT_OVERSIZE, Checker, HeaderStyle, format_report

from . import custom_headers
from .destinations import DestinationPolicy, DestinationRefused
from .models import Webhook
from .state import get_state


def refusal(url: str, policy: DestinationPolicy) -> str | None:
    """Why the policy refuses ``url``'s host (one of its addresses), or None."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as exc:
        return f"{host} cannot be resolved ({exc})"
    for *_, address in found:
        try:
            policy.check(str(address[0]))
        except DestinationRefused as exc:
            return str(exc)
    return None


@click.command("check-receiver")
@click.argument("webhook_id")
@click.option("--header-style", type=click.Choice(["clawbook", "standard", "both"]),
              default="both", show_default=True,
              help="Signature headers to send; ClawBook deliveries carry both.")
@click.option("--probe", metavar="URL",
              help="A URL answering GET with how many times the receiver's handler ran, "
                   "to tell whether a duplicate ran it again.")
@click.option("--pause", type=click.FloatRange(0), default=0.5, show_default=True,
              help="Seconds between two requests.")
@click.option("--oversize", type=click.IntRange(1), default=DEFAULT_OVERSIZE,
              show_default=True, help="Bytes of the oversized body.")
@with_appcontext
def check_receiver(webhook_id: str, header_style: HeaderStyle, probe: str | None,
                   pause: float, oversize: int) -> None:
    """Send WEBHOOK_ID's receiver valid, duplicate, forged, stale, replayed, oversized and
    malformed deliveries signed with its secret, and grade the answers; exits 1 when a
    check fails. Nothing is recorded in the delivery log."""
    state = get_state()
    hook = state.db.session.get(Webhook, webhook_id)
    if hook is None:
        raise click.ClickException(f"No webhook {webhook_id}; `flask clawhooks webhooks "
                                   "list` shows them.")
    policy = state.settings.destinations
    for url in (hook.url, probe):
        reason = refusal(url, policy) if url is not None else None
        if reason is not None:
            raise click.ClickException(
                f"Not checked: {reason}. Deliveries may not reach it either; an operator "
                "may allow it with CLAWHOOKS_ALLOW_PRIVATE_DESTINATIONS or "
                "CLAWHOOKS_DESTINATION_ALLOWLIST.")
    extra, _logged, _secrets = custom_headers.apply({}, hook.custom_headers or [])
    try:
        checker = Checker(hook.url, hook.secret, header_style=header_style, probe=probe,
                          pause=pause, timeout=state.settings.timeout, oversize=oversize,
                          guard=policy.check, extra_headers=extra)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    results = checker.run()
    click.echo(format_report(hook.url, header_style, results))
    if any(result.grade == "FAIL" for result in results):
        raise SystemExit(1)
