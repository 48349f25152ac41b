"""The custom headers of a webhook, in the dashboard (:mod:`flask_clawhooks.custom_headers`).

A page of rows, one header each: name, value, and a "secret" box. A secret value is never
put back in the page: its row shows an empty value field, and leaving it empty keeps the
saved value. Clearing a row's name removes that header. The checks are the API's.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, render_template, request
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from .. import custom_headers
from ..api.errors import InvalidField
from ..models import Webhook
from ..state import get_state
from ..timeutil import utcnow
from .views import back_to, db_session, owned_webhook

#: Empty rows offered below the saved headers.
EMPTY_ROWS = 2


@dataclass
class Row:
    """One row of the form, as typed (a secret's saved value is never put here)."""

    name: str = ""
    value: str = ""
    secret: bool = False
    #: A secret value is saved for this name; an empty value keeps it.
    saved_secret: bool = False
    error: str | None = None


def _rows_of(hook: Webhook) -> list[Row]:
    return [Row(name=h["name"], value="" if h.get("secret") else h["value"],
                secret=bool(h.get("secret")), saved_secret=bool(h.get("secret")))
            for h in hook.custom_headers or ()]


def _padded(rows: list[Row], limit: int) -> list[Row]:
    return rows + [Row() for _ in range(max(0, min(EMPTY_ROWS, limit - len(rows))))]


def _rows_from(form: MultiDict[str, str], hook: Webhook) -> list[Row]:
    saved = {h["name"].lower() for h in hook.custom_headers or () if h.get("secret")}
    indexes = sorted({int(m.group(1)) for key in form
                      if (m := re.fullmatch(r"header-(\d{1,3})-name", key))})
    rows = []
    for i in indexes:
        name = form.get(f"header-{i}-name", "").strip()
        rows.append(Row(name=name, value=form.get(f"header-{i}-value", ""),
                        secret=bool(form.get(f"header-{i}-secret")),
                        saved_secret=name.lower() in saved))
    return rows


def _message(error: InvalidField) -> str:
    return error.reason[0].upper() + error.reason[1:] if error.reason else "Invalid."


def edit(webhook_id: str) -> Response | tuple[str, int]:
    """Show (GET) or save (POST) the webhook's custom headers."""
    hook = owned_webhook(webhook_id)
    limit = get_state().settings.max_custom_headers
    if request.method == "GET":
        return render_template("clawhooks/webhook_headers.html", webhook=hook,
                               rows=_padded(_rows_of(hook), limit), limit=limit,
                               mask=custom_headers.MASK, error=None), 200
    rows = _rows_from(request.form, hook)
    wanted: list[dict[str, Any]] = []
    positions: list[Row] = []
    for row in rows:
        if not row.name:
            if row.value.strip():
                row.error = "Give this value a header name, or clear it."
            continue
        item: dict[str, Any] = {"name": row.name, "secret": row.secret}
        if row.value or not (row.secret and row.saved_secret):
            item["value"] = row.value
        wanted.append(item)
        positions.append(row)
    error = None
    if not any(row.error for row in rows):
        try:
            clean = custom_headers.parse(wanted, max_count=limit, current=hook.custom_headers)
        except InvalidField as exc:
            found = re.match(r"headers\[(\d+)\]", exc.field)
            if found and int(found.group(1)) < len(positions):
                positions[int(found.group(1))].error = _message(exc)
            else:
                error = _message(exc)
        else:
            hook.custom_headers = clean or None
            hook.updated_at = utcnow()
            db_session().commit()
            flash(f"Custom headers saved ({len(clean)}).", "success")
            return back_to(hook)
    for row in rows:
        row.value = "" if row.secret else row.value  # a secret typed in is not echoed
    return render_template("clawhooks/webhook_headers.html", webhook=hook,
                           rows=_padded(rows, limit), limit=limit, mask=custom_headers.MASK,
                           error=error or "Please correct the headers marked below."), 422


def _context() -> dict[str, Any]:
    return {"public_headers": custom_headers.public}


def register(blueprint: Blueprint) -> None:
    blueprint.context_processor(_context)
    blueprint.add_url_rule("/<webhook_id>/headers", "headers", edit, methods=["GET", "POST"])
