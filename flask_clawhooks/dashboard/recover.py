""""Recover failed deliveries since …": the dashboard's side of :mod:`flask_clawhooks.recovery`.

The form on a webhook's page goes (GET) to a confirmation page that counts what would be
re-queued and says so on its button; only its POST re-queues them, through the same
:func:`flask_clawhooks.recovery.recover` as the API, with the same
``CLAWHOOKS_RECOVER_LIMIT``. Times are typed and shown in UTC.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from .. import recovery
from ..state import get_state
from ..timeutil import utcnow
from .views import back_to, db_session, owned_webhook

#: How far back the form's "since" starts.
DEFAULT_SINCE = dt.timedelta(hours=24)
#: ``datetime-local`` inputs take this form.
INPUT_FORMAT = "%Y-%m-%dT%H:%M:%S"


def _input_value(moment: dt.datetime | None) -> str:
    return moment.strftime(INPUT_FORMAT) if moment is not None else ""


def _job(webhook_id: str, args: Any) -> recovery.Recovery:
    """The recovery a form asks for. :raises ValueError: with a message for a person."""
    since_text = (args.get("since") or "").strip()
    if not since_text:
        raise ValueError("Choose the time to recover deliveries from.")
    since = recovery.parse_moment(since_text)
    until_text = (args.get("until") or "").strip()
    until = recovery.parse_moment(until_text) if until_text else None
    include = recovery.ALL if args.get("all") else recovery.FAILED
    return recovery.Recovery(webhook_id, since, until, include)


def confirm(webhook_id: str) -> Response | str:
    """Count what the range holds and ask before re-queuing it."""
    hook = owned_webhook(webhook_id)
    try:
        job = _job(hook.id, request.args)
    except ValueError as exc:
        flash(f"Cannot recover: {exc}", "error")
        return back_to(hook)
    found = recovery.count(db_session(), job)
    db_session().rollback()
    return render_template(
        "clawhooks/recover_confirm.html", webhook=hook, job=job, found=found,
        limit=get_state().settings.recover_limit, description=recovery.describe(job),
        noun=recovery.noun(job, found), since=job.since.isoformat(),
        until=job.until.isoformat() if job.until is not None else "",
    )


def run(webhook_id: str) -> Response:
    """Re-queue the range (the confirmation page's button)."""
    hook = owned_webhook(webhook_id)
    if not hook.enabled:
        flash("Enable the webhook before recovering its deliveries.", "error")
        return back_to(hook)
    try:
        job = _job(hook.id, request.form)
    except ValueError as exc:
        flash(f"Cannot recover: {exc}", "error")
        return back_to(hook)
    state = get_state()
    try:
        done = recovery.recover(db_session(), job, state.enqueue,
                                limit=state.settings.recover_limit)
    except recovery.RangeTooLarge as exc:
        flash(f"This range holds {exc.found} {recovery.noun(job, exc.found)}, more than "
              f"the {exc.limit} one recovery may re-queue. Choose a shorter range.", "error")
        return back_to(hook)
    if done:
        flash(f"Re-queued {recovery.describe(job, done)}: a worker sends them again, "
              "oldest first.", "success")
    else:
        flash(f"No {recovery.describe(job)} to re-queue.", "success")
    return redirect(url_for(".webhook", webhook_id=hook.id) + "#deliveries")


def _context() -> dict[str, Any]:
    return {"recover_default_since": lambda: _input_value(
        (utcnow() - DEFAULT_SINCE).replace(second=0, microsecond=0))}


def register(blueprint: Blueprint) -> None:
    blueprint.context_processor(_context)
    blueprint.add_url_rule("/<webhook_id>/recover", "recover", confirm, methods=["GET"])
    blueprint.add_url_rule("/<webhook_id>/recover", "recover_run", run, methods=["POST"])
