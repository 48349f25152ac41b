"""The dashboard's pages: Settings → API → Webhooks.

Every request first asks the host who is looking (the
:meth:`~flask_clawhooks.ClawHooks.dashboard_owner_loader` callback); nobody gets a 401
page or the host's login page. A webhook of another owner is a 404, as in the API.
Every POST carries a CSRF token (:mod:`.csrf`); one without a valid token is a 400 and
changes nothing.

A secret is shown once: after creating a webhook or rotating its secret it is kept in
the session just long enough for the redirect to show it, then dropped.

Every answer carries security headers (:data:`SECURITY_HEADERS`): a Content-Security-Policy
that allows only the dashboard's own script and style files, no framing, ``nosniff`` and
a Referrer-Policy. They are set only where the host has not set them already.

The delivery log updates itself: ``static/clawhooks/dashboard.js`` polls
``<webhook>/log`` (:func:`log`), which answers with the log's HTML as the page would
render it. Without JavaScript the page offers a Reload link instead.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from .. import ordering, search
from ..api import resources
from ..catalog import TEST_EVENT
from ..errors import TooManyTestSends, UnknownEventType
from ..models import NOT_PENDING, PENDING, Delivery, DeliveryStatus, Ordering, Webhook
from ..samples import sample_types
from ..signing import generate_secret
from ..state import get_state
from ..timeutil import isoformat, utcnow
from . import csrf, display
from .forms import (
    PAGE_SIZE,
    STATUSES,
    LogQuery,
    WebhookForm,
    event_groups,
    filter_event_types,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..extension import ClawHooks

_REVEAL_KEY = "_clawhooks_reveal"
#: Bytes of an event body shown in the delivery log.
BODY_SHOWN = 64 * 1024

#: Milliseconds between two polls of the live delivery log.
POLL_INTERVAL_MS = 3000

#: Headers of every dashboard answer, unless the host set them first. Scripts and styles
#: come only from the dashboard's own static files: no inline script, no eval.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

ERROR_PAGES = {
    400: ("Bad request", "The form was out of date or not sent from this page. Go back, "
                         "reload the page and try again."),
    401: ("Sign in required", "Sign in to manage your webhooks."),
    404: ("Not found", "There is no such webhook or delivery in your account."),
    405: ("Method not allowed", "This page cannot be used that way."),
}


def _extension() -> ClawHooks:
    return get_state().extension


def db_session() -> Session:
    return get_state().db.session  # type: ignore[return-value]


# -- who is looking, and CSRF --------------------------------------------------------


def _authorize() -> Response | None:
    if request.endpoint and request.endpoint.endswith(".static"):
        return None
    loader = get_state().loaders.dashboard_owner
    owner = loader() if loader is not None else None
    if not owner:
        endpoint = get_state().settings.dashboard_login_endpoint
        if endpoint:
            return redirect(url_for(endpoint, next=request.full_path.rstrip("?")))
        abort(401)
    g.clawhooks_owner = owner
    if request.method == "POST":
        token = request.form.get(csrf.FIELD) or request.headers.get("X-CSRF-Token")
        if not csrf.token_is_valid(token, owner):
            abort(400)
    return None


def _security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _context() -> dict[str, Any]:
    owner = g.get("clawhooks_owner")
    now = utcnow()
    delays = get_state().settings.retry_delays
    login = get_state().settings.dashboard_login_endpoint
    return {
        "owner": owner,
        "account_url": url_for(login, next=request.full_path.rstrip("?")) if login else None,
        "csrf_token": (lambda: csrf.generate_token(owner)) if owner else None,
        "csrf_field": csrf.FIELD,
        "isoformat": isoformat,
        "pretty_body": pretty_body,
        "now": now,
        "relative": lambda moment: display.relative(moment, now),
        "countdown": lambda moment: display.countdown(moment, now),
        "exact_time": display.exact,
        "delivery_state": lambda delivery: display.delivery_state(delivery, delays, now),
    }


def _error_page(error: HTTPException) -> tuple[str, int]:
    code = error.code or 500
    title, message = ERROR_PAGES.get(code, (error.name, error.description or ""))
    return render_template("clawhooks/error.html", code=code, title=title,
                           message=message), code


# -- helpers --------------------------------------------------------------------------


def owned_webhook(webhook_id: str) -> Webhook:
    webhook = db_session().get(Webhook, webhook_id)
    if webhook is None or webhook.owner != g.clawhooks_owner:
        abort(404)
    return webhook


def _reveal_once(webhook_id: str, secret: str) -> None:
    session[_REVEAL_KEY] = [webhook_id, secret]


def _take_revealed(webhook_id: str) -> str | None:
    kept = session.get(_REVEAL_KEY)
    if isinstance(kept, list) and len(kept) == 2 and kept[0] == webhook_id:
        session.pop(_REVEAL_KEY)
        return str(kept[1])
    return None


def pretty_body(body: bytes | None) -> str:
    """An event's frozen JSON body, indented for reading and cut at :data:`BODY_SHOWN`."""
    if body is None:
        return "(payload expired: see CLAWHOOKS_PAYLOAD_RETENTION)"
    if len(body) > BODY_SHOWN:
        return body[:BODY_SHOWN].decode("utf-8", "replace") + "\n… (cut)"
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body.decode("utf-8", "replace")


def back_to(webhook: Webhook, delivery_id: str | None = None) -> Response:
    """The webhook's page, opened at ``delivery_id`` when given (the live log opens it)."""
    if delivery_id is None:
        return redirect(url_for(".webhook", webhook_id=webhook.id))
    url = url_for(".webhook", webhook_id=webhook.id, open=delivery_id)
    return redirect(f"{url}#{delivery_id}")


def _describe(delivery: Delivery) -> tuple[str, str]:
    """A flash message and its category for the outcome of a test delivery."""
    timing = f" in {delivery.response_time_ms} ms" if delivery.response_time_ms is not None else ""
    code = f"HTTP {delivery.response_code}" if delivery.response_code else ""
    what = "Test event" if delivery.event_type == TEST_EVENT else (
        f"Sample {delivery.event_type} event")
    if delivery.status == DeliveryStatus.SUCCESS:
        return f"{what} delivered: {code}{timing}.", "success"
    reason = delivery.last_error or code or "no answer"
    if delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None:
        now = utcnow()
        when = display.countdown(delivery.next_attempt_at, now)
        return (f"{what} not delivered ({reason}); it will be retried {when} "
                f"({display.exact(delivery.next_attempt_at)}).", "error")
    return f"{what} failed: {reason}.", "error"


# -- pages ----------------------------------------------------------------------------


def index() -> str:
    """Webhooks list: URL, events, status and the last delivery of each."""
    db = db_session()

    def last_id(part: Any) -> Any:
        """The webhook's newest pending or finished delivery, on its partial index."""
        return (select(Delivery.id).where(Delivery.webhook_id == Webhook.id, part)
                .order_by(Delivery.id.desc()).limit(1).correlate(Webhook).scalar_subquery())

    rows = db.execute(
        select(Webhook, last_id(PENDING), last_id(NOT_PENDING))
        .where(Webhook.owner == g.clawhooks_owner).order_by(Webhook.id)
    ).all()
    ids = [max(filter(None, newest)) for _, *newest in rows if any(newest)]
    last = {d.webhook_id: d for d in db.scalars(
        select(Delivery).where(Delivery.id.in_(ids)).options(selectinload(Delivery.attempts)))}
    return render_template(
        "clawhooks/webhooks.html", webhooks=[webhook for webhook, *_ in rows], last=last
    )


def new() -> Response | tuple[str, int]:
    """Add Webhook."""
    extension = _extension()
    groups = event_groups(extension.event_types)
    if request.method == "GET":
        return render_template("clawhooks/webhook_form.html", form=WebhookForm(),
                               groups=groups, webhook=None), 200
    form = WebhookForm.from_request(request.form)
    clean = form.clean(get_state().settings, extension.event_types, creating=True)
    if clean is None:
        return render_template("clawhooks/webhook_form.html", form=form, groups=groups,
                               webhook=None), 422
    secret = clean["secret"] or generate_secret()
    webhook = Webhook(owner=g.clawhooks_owner, url=clean["url"], events=clean["events"],
                      secret=secret, description=clean["description"],
                      ordering=clean["ordering"], max_per_second=clean["max_per_second"],
                      max_in_flight=clean["max_in_flight"])
    db = db_session()
    db.add(webhook)
    db.commit()
    _reveal_once(webhook.id, secret)
    flash("Webhook created.", "success")
    return back_to(webhook)


def webhook(webhook_id: str) -> Response:
    """A webhook's settings, actions and delivery log."""
    hook = owned_webhook(webhook_id)
    query = LogQuery.from_args(request.args)
    page = _log_page(hook, query)
    secret = _take_revealed(hook.id)
    event_types = _extension().event_types
    filters: dict[str, Any] = query.filters()
    response = current_app.make_response(render_template(
        "clawhooks/webhook.html", webhook=hook, secret=secret, query=query,
        statuses=STATUSES, event_types=filter_event_types(event_types, hook),
        test_groups=_test_groups(),
        open_id=request.args.get("open"), poll_interval=POLL_INTERVAL_MS,
        live_url=(url_for(".log", webhook_id=hook.id, **filters)
                  if not (query.before or query.after) else None),
        **page,
    ))
    if secret is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


def _test_groups() -> list[tuple[str, list[str]]]:
    """The types *Send test* offers, by group: ``webhook.test``, then every catalog type
    with a documented sample."""
    sampled = set(sample_types())
    groups = [("Test", [TEST_EVENT])]
    for group, types in event_groups(_extension().event_types):
        names = [t.name for t in types if t.name in sampled]
        if names:
            groups.append((group, names))
    return groups


def log(webhook_id: str) -> Response:
    """The newest page of the delivery log as JSON, for the page's live updates.

    ``{"html": <the log as the page renders it>, "version": <a hash of the rows' state>,
    "status": <the webhook's status>, "status_html": <its badge>, "health_html": <the
    health card>, "latest": <newest delivery id>}``; the script replaces the log only when
    ``version`` changed, so an unchanged log does not disturb the reader, and the health
    card with it, so its figures follow the log.
    """
    hook = owned_webhook(webhook_id)
    query = LogQuery.from_args(request.args)
    page = _log_page(hook, query)
    html = render_template("clawhooks/_delivery_log.html", webhook=hook, query=query,
                           open_id=None, **page)
    badge = render_template("clawhooks/_status.html", webhook=hook)
    health = render_template("clawhooks/_health.html", webhook=hook)
    response = jsonify(
        html=html, version=page["log_version"], status=hook.public_status,
        status_html=badge, health_html=health,
        latest=page["deliveries"][0].id if page["deliveries"] else None,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _log_page(webhook: Webhook, query: LogQuery) -> dict[str, Any]:
    """One page of the delivery log, newest first (:func:`flask_clawhooks.search.page_ids`).

    Keyset paging: "Older" continues below the last id shown, "Newer" above the first;
    no count and no offset, so the page costs the same however long the log is.
    """
    ids, more = search.page_ids(
        db_session(), [webhook.id], search.DeliveryQuery(status=query.status,
                                                         event_type=query.event),
        PAGE_SIZE, below=None if query.after else query.before, above=query.after)
    rows = search.load(db_session(), ids, joinedload(Delivery.event),
                       selectinload(Delivery.attempts))
    if query.after:
        rows.reverse()
        has_newer, has_older = more, bool(rows)
    else:
        has_newer, has_older = query.before is not None, more
    filters: dict[str, Any] = query.filters()

    def link(**cursor: Any) -> str:
        return url_for(".webhook", webhook_id=webhook.id, **cursor, **filters)

    queue = (ordering.waiting(db_session(), webhook.id)
             if webhook.ordering == Ordering.FIFO else None)
    page = {
        "deliveries": rows,
        # A FIFO webhook's queue: (head, how many wait behind it), or None.
        "queue": queue,
        "newer_url": link(after=rows[0].id) if has_newer and rows else None,
        "older_url": link(before=rows[-1].id) if has_older and rows else None,
        "newest_url": link() if query.before or query.after else None,
    }
    # What the live log compares between polls: the rows' state, not their wording, so
    # "12 s ago" becoming "13 s ago" does not redraw the log (the script updates times).
    state = [(d.id, d.status, d.attempt_count, isoformat(d.next_attempt_at),
              isoformat(d.lease_until), d.updated_at.isoformat() if d.updated_at else None)
             for d in rows]
    state_text = json.dumps([state, page["newer_url"], page["older_url"], queue])
    page["log_version"] = hashlib.sha256(state_text.encode()).hexdigest()[:16]
    return page


def edit(webhook_id: str) -> Response | tuple[str, int]:
    """Change a webhook's URL, events, description and delivery control."""
    hook = owned_webhook(webhook_id)
    extension = _extension()
    groups = event_groups(extension.event_types)
    if request.method == "GET":
        return render_template("clawhooks/webhook_form.html", webhook=hook, groups=groups,
                               form=WebhookForm.from_webhook(hook)), 200
    form = WebhookForm.from_request(request.form)
    clean = form.clean(get_state().settings, extension.event_types, creating=False)
    if clean is None:
        return render_template("clawhooks/webhook_form.html", webhook=hook, groups=groups,
                               form=form), 422
    hook.url, hook.events, hook.description = clean["url"], clean["events"], clean["description"]
    if hook.ordering == Ordering.FIFO and clean["ordering"] == Ordering.NONE:
        ordering.release_parked(db_session(), hook.id, utcnow())
    hook.ordering = clean["ordering"]
    hook.max_per_second, hook.max_in_flight = clean["max_per_second"], clean["max_in_flight"]
    db_session().commit()
    flash("Webhook saved.", "success")
    return back_to(hook)


def enable(webhook_id: str) -> Response:
    """Switch a webhook on; failures before now are forgiven by the health check
    (``Webhook.enabled_at``), so it is not switched off again at the next one."""
    hook = owned_webhook(webhook_id)
    hook.enabled = True
    db_session().commit()
    flash("Webhook enabled: new events are delivered to it again.", "success")
    return back_to(hook)


def disable(webhook_id: str) -> Response:
    """Switch a webhook off. Deliveries still waiting for a retry end as failed."""
    hook = owned_webhook(webhook_id)
    hook.enabled = False
    db_session().commit()
    flash("Webhook disabled: no events are delivered to it until you enable it.", "success")
    return back_to(hook)


def delete_webhook(webhook_id: str) -> Response | str:
    """Ask first (GET), then delete the webhook with its deliveries and attempts (POST).

    The same deletion as ``DELETE /webhooks/{id}`` (:func:`..api.resources.delete_webhook`).
    """
    hook = owned_webhook(webhook_id)
    if request.method == "GET":
        return render_template("clawhooks/webhook_delete.html", webhook=hook)
    url = hook.url
    resources.delete_webhook(db_session(), hook)
    flash(f"Webhook {url} deleted.", "success")
    return redirect(url_for(".index"))


def _wants_json() -> bool:
    """Whether the page's script sent the form (it asks for JSON, a browser for HTML)."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def send_test(webhook_id: str) -> Response | tuple[Response, int]:
    """Send a test event now and show how it went.

    The form names the type: ``webhook.test`` (the default) or a catalog type, whose
    documented sample (:mod:`flask_clawhooks.samples`) is sent. The page's script sends
    the form in the background and gets JSON; without it the answer is a redirect to the
    webhook's page.
    """
    hook = owned_webhook(webhook_id)
    event_type = request.form.get("event_type") or TEST_EVENT
    if event_type != TEST_EVENT and event_type not in sample_types():
        abort(400)
    try:
        delivery = _extension().send_test(hook, db_session(), event_type=event_type)
    except UnknownEventType:
        abort(400)
    except TooManyTestSends as exc:
        if _wants_json():
            return jsonify(message=str(exc), category="error"), 429
        flash(str(exc), "error")
        return back_to(hook)
    message, category = _describe(delivery)
    if _wants_json():
        return jsonify(message=message, category=category, delivery=delivery.id,
                       status=delivery.status), 200
    flash(message, category)
    return back_to(hook, delivery.id)


def rotate_secret(webhook_id: str) -> Response:
    """Make a new secret and show it once."""
    hook = owned_webhook(webhook_id)
    grace = get_state().settings.secret_rotation_grace
    secret = generate_secret()
    hook.rotate_secret(secret, grace)
    db_session().commit()
    _reveal_once(hook.id, secret)
    note = (f" For {grace / 3600:g} h the old secret still signs the webhook-signature header "
            "as well; X-ClawBook-Signature uses the new one from now on." if grace else "")
    flash("New secret made." + note, "success")
    return back_to(hook)


def owned_delivery(webhook: Webhook, delivery_id: str) -> Delivery:
    """``delivery_id`` of ``webhook``, with its event and attempts; 404 otherwise."""
    found = db_session().scalars(
        select(Delivery).where(Delivery.id == delivery_id, Delivery.webhook_id == webhook.id)
        .options(joinedload(Delivery.event), selectinload(Delivery.attempts))
    ).first()
    if found is None:
        abort(404)
    return found


def delivery(webhook_id: str, delivery_id: str) -> str:
    """One delivery's own page: its state, request body and attempts.

    The address stays valid however many deliveries follow, unlike a row of the log,
    so search results and e-mails link here.
    """
    hook = owned_webhook(webhook_id)
    return render_template("clawhooks/delivery.html", webhook=hook,
                           delivery=owned_delivery(hook, delivery_id))


def delivery_url(delivery: Delivery, external: bool = False) -> str:
    """The address of ``delivery``'s own page (:func:`delivery`)."""
    return url_for("clawhooks_dashboard.delivery", webhook_id=delivery.webhook_id,
                   delivery_id=delivery.id, _external=external)


def retry(webhook_id: str, delivery_id: str) -> Response:
    """Queue a delivery for another attempt now, then show its page (where the message
    is at the top, in view, and the delivery stays put however busy the log is)."""
    hook = owned_webhook(webhook_id)
    db = db_session()
    found = db.get(Delivery, delivery_id)
    if found is None or found.webhook_id != hook.id:
        abort(404)
    if found.lease_until is not None and found.lease_until > utcnow():
        flash("This delivery is being sent right now.", "error")
    else:
        _extension().retry(found.id, db)
        flash("Retry queued: a worker sends it in a moment.", "success")
    return redirect(delivery_url(found))


def register(blueprint: Blueprint) -> None:
    blueprint.before_request(_authorize)
    blueprint.after_request(_security_headers)
    blueprint.context_processor(_context)
    for code in ERROR_PAGES:
        blueprint.register_error_handler(code, _error_page)
    add = blueprint.add_url_rule
    add("/", "index", index)
    add("/new", "new", new, methods=["GET", "POST"])
    add("/<webhook_id>", "webhook", webhook)
    add("/<webhook_id>/log", "log", log)
    add("/<webhook_id>/edit", "edit", edit, methods=["GET", "POST"])
    add("/<webhook_id>/enable", "enable", enable, methods=["POST"])
    add("/<webhook_id>/disable", "disable", disable, methods=["POST"])
    add("/<webhook_id>/delete", "delete", delete_webhook, methods=["GET", "POST"])
    add("/<webhook_id>/test", "send_test", send_test, methods=["POST"])
    add("/<webhook_id>/rotate-secret", "rotate_secret", rotate_secret, methods=["POST"])
    add("/<webhook_id>/deliveries/<delivery_id>", "delivery", delivery)
    add("/<webhook_id>/deliveries/<delivery_id>/retry", "retry", retry, methods=["POST"])
