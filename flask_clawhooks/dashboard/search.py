"""Searching the delivery log of all the viewer's webhooks (:mod:`flask_clawhooks.search`).

The webhooks list has a search box that takes an event id; the search page adds the
other filters (event type, status, HTTP code or class, time range) and pages with
"Older" links on the delivery id, like the API.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, request, url_for

from .. import recovery, search
from ..api import validation
from ..models import Webhook
from ..state import get_state
from .forms import PAGE_SIZE, STATUSES
from .views import db_session


def _query(args: Any) -> tuple[search.DeliveryQuery, dict[str, str], list[str]]:
    """The query, the filters as typed (to refill the form) and what was wrong with them."""
    typed = {name: (args.get(name) or "").strip()
             for name in ("event_id", "event_type", "status", "response_code", "since",
                          "until")}
    errors: list[str] = []
    fields: dict[str, Any] = {}
    if typed["event_id"]:
        if validation.is_id(typed["event_id"], "evt"):
            fields["event_id"] = typed["event_id"]
        else:
            errors.append(f"{typed['event_id']!r} is not an event id; they look like "
                          "evt_01jkq8m3z5v6w7x8y9a0b1c2d3.")
    if typed["event_type"]:
        fields["event_type"] = typed["event_type"][:validation.EVENT_TYPE_MAX]
    if typed["status"] in STATUSES:
        fields["status"] = typed["status"]
    if typed["response_code"]:
        try:
            fields["response_code"], fields["response_class"] = search.parse_code(
                typed["response_code"])
        except ValueError as exc:
            errors.append(str(exc))
    for name in ("since", "until"):
        if typed[name]:
            try:
                fields[name] = recovery.parse_moment(typed[name])
            except ValueError as exc:
                errors.append(f"{name.capitalize()}: {exc}")
    return search.DeliveryQuery(**fields), typed, errors


def page() -> str:
    """Search results, newest first."""
    query, typed, errors = _query(request.args)
    after = request.args.get("after") or None
    if after is not None and not validation.is_id(after, "del"):
        after = None
    rows: list[Any] = []
    more = False
    searched = not query.is_empty() and not errors
    if searched:
        rows, more = search.search(db_session(), g.clawhooks_owner, query, PAGE_SIZE, after)
    webhooks = {}
    if rows:
        ids = {row.webhook_id for row in rows}
        found = db_session().query(Webhook).filter(Webhook.id.in_(ids))
        webhooks = {hook.id: hook for hook in found}
    filters: dict[str, Any] = {k: v for k, v in typed.items() if v}
    return render_template(
        "clawhooks/search.html", rows=rows, webhooks=webhooks, typed=typed, errors=errors,
        searched=searched, statuses=STATUSES,
        event_types=list(get_state().extension.event_types),
        older_url=url_for(".search", after=rows[-1].id, **filters) if more and rows else None,
        newest_url=url_for(".search", **filters) if after else None,
    )


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/search", "search", page)
