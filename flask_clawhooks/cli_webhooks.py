"""``flask clawhooks webhooks update|disable|enable|rotate-secret``: changing a webhook
from the command line, through the same checks and writes as ``PATCH /webhooks/{id}``
(:func:`flask_clawhooks.api.resources.update_webhook`), for any owner.

:mod:`flask_clawhooks.cli` adds :data:`COMMANDS` to its ``webhooks`` group; each runs in
the app's context (``with_appcontext``, as ``AppGroup`` commands do).

.. versionadded:: 0.3.0
"""

from __future__ import annotations

from typing import Any

import click
from flask.cli import with_appcontext

from .state import get_state


def _update(webhook_id: str, body: dict[str, Any]) -> Any:
    """Check ``body`` as the API would and apply it; the webhook."""
    from .api import resources, validation
    from .api.errors import InvalidField, NoSuchResource
    from .catalog import TEST_EVENT

    state = get_state()
    session = state.db.session
    try:
        hook = resources.get_webhook(session, webhook_id, None)
    except NoSuchResource as exc:
        raise click.ClickException(str(exc.description)) from None
    known = set(state.extension.event_types) - {TEST_EVENT}
    try:
        fields = validation.webhook_fields(body, state.settings, known, creating=False,
                                           current_headers=hook.custom_headers or [])
    except InvalidField as exc:
        hint = {"events": "--event"}.get(exc.field, f"--{exc.field.replace('_', '-')}")
        raise click.BadParameter(exc.reason, param_hint=hint) from None
    return resources.update_webhook(session, hook, fields,
                                    state.settings.secret_rotation_grace)


@click.command("update")
@click.argument("webhook_id")
@click.option("--url", default=None, help="A new endpoint URL.")
@click.option("--event", "events", multiple=True,
              help="Subscribe to exactly these event types (repeat it); the old list is "
                   "replaced.")
@click.option("--description", default=None, help="A new note; '' clears it.")
@click.option("--ordering", type=click.Choice(["none", "fifo"]), default=None,
              help="fifo: one delivery at a time, in emit order; none: as many as the "
                   "workers can (what waited behind a FIFO head goes out at once).")
@click.option("--max-per-second", default=None, metavar="N|none",
              help="Most requests a second across all workers; 'none' lifts the limit.")
@click.option("--max-in-flight", default=None, metavar="N|none",
              help="Most requests open at once across all workers; 'none' lifts it.")
@with_appcontext
def webhooks_update(webhook_id: str, url: str | None, events: tuple[str, ...],
                    description: str | None, ordering: str | None,
                    max_per_second: str | None, max_in_flight: str | None) -> None:
    """Change WEBHOOK_ID's URL, events, description or delivery control; what is not
    given stays."""
    body: dict[str, Any] = {}
    if url is not None:
        body["url"] = url
    if events:
        body["events"] = list(events)
    if description is not None:
        body["description"] = description or None
    if ordering is not None:
        body["ordering"] = ordering
    for name, given, number in (("max_per_second", max_per_second, float),
                                ("max_in_flight", max_in_flight, int)):
        if given is not None:
            body[name] = _limit(given, number, f"--{name.replace('_', '-')}")
    if not body:
        raise click.UsageError("Nothing to change: give --url, --event, --description, "
                               "--ordering, --max-per-second or --max-in-flight.")
    hook = _update(webhook_id, body)
    click.echo(f"Updated {hook.id}: {', '.join(hook.events)} -> {hook.url}")
    if {"ordering", "max_per_second", "max_in_flight"} & set(body):
        click.echo(f"Delivery control: ordering {hook.ordering}, max per second "
                   f"{'none' if hook.max_per_second is None else f'{hook.max_per_second:g}'}"
                   f", max in flight "
                   f"{'none' if hook.max_in_flight is None else hook.max_in_flight}")


def _limit(given: str, number: type[int] | type[float], hint: str) -> int | float | None:
    """A limit option's value: ``none`` lifts the limit, anything else is a number (the
    API's checks then say which numbers are allowed)."""
    if given.strip().lower() == "none":
        return None
    try:
        return number(given)
    except ValueError:
        kind = "a whole number" if number is int else "a number"
        raise click.BadParameter(f"{given!r} is not {kind} or 'none'.",
                                 param_hint=hint) from None


@click.command("disable")
@click.argument("webhook_id")
@with_appcontext
def webhooks_disable(webhook_id: str) -> None:
    """Stop delivering to WEBHOOK_ID; deliveries waiting for a retry end as failed."""
    hook = _update(webhook_id, {"enabled": False})
    click.echo(f"Disabled {hook.id}: no events are delivered to it until it is enabled.")


@click.command("enable")
@click.argument("webhook_id")
@with_appcontext
def webhooks_enable(webhook_id: str) -> None:
    """Deliver to WEBHOOK_ID again; its failures so far no longer count towards switching
    it off."""
    hook = _update(webhook_id, {"enabled": True})
    click.echo(f"Enabled {hook.id}: new events are delivered to it again.")


@click.command("rotate-secret")
@click.argument("webhook_id")
@with_appcontext
def webhooks_rotate_secret(webhook_id: str) -> None:
    """Give WEBHOOK_ID a new signing secret and print it (shown this once).

    For CLAWHOOKS_SECRET_ROTATION_GRACE the old secret still signs the
    webhook-signature header too, so receivers can switch without losing deliveries.
    """
    from .signing import generate_secret

    secret = generate_secret()
    hook = _update(webhook_id, {"secret": secret})
    grace = get_state().settings.secret_rotation_grace
    note = f"; the old one also signs for {grace:g} s" if grace else ""
    click.echo(f"New secret for {hook.id} (shown only now{note}):")
    click.echo(secret)


#: The commands, in the order ``webhooks --help`` lists them.
COMMANDS = [webhooks_update, webhooks_disable, webhooks_enable, webhooks_rotate_secret]
