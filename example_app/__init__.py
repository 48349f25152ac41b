"""A small ClawBook-like app that registers flask-clawhooks and emits real events.

``flask --app example_app clawhooks …`` works against it; settings come from the
environment through ``from_prefixed_env`` (``FLASK_SQLALCHEMY_DATABASE_URI``,
``FLASK_CLAWHOOKS_REDIS_URL``, …). ``python -m example_app`` runs the whole demo, and
while it runs it keeps its Redis URL and database in ``instance/demo-settings.json``
(:data:`DEMO_SETTINGS_FILE`), so those commands reach it.

It shows what a host does to open the dashboard to its users: tell the extension who is
looking (:meth:`~flask_clawhooks.ClawHooks.dashboard_owner_loader`, here the owner picked
on the demo's sign-in page and kept in the session) and where people sign in
(``CLAWHOOKS_DASHBOARD_LOGIN_ENDPOINT``). The session cookie is ``SameSite=Lax``, as the
dashboard's docs advise; a real install also sets ``SESSION_COOKIE_SECURE`` behind HTTPS.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Any

from flask import (
    Flask,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import select
from werkzeug.wrappers import Response

from flask_clawhooks import ClawHooks
from flask_clawhooks.apikeys import ApiKey, create_key, hash_key
from flask_clawhooks.state import get_state

from . import payloads

db = SQLAlchemy()
clawhooks = ClawHooks()

#: The owner the demo's webhook and simulated events belong to.
DEMO_OWNER = "demo"
#: Who may sign in on the demo's sign-in page, and what each account holds.
OWNERS = {
    DEMO_OWNER: "The demo's own account: a webhook to the demo receiver and a steady stream "
                "of simulated events.",
    "acme": "An empty account: add a webhook yourself and send it a test.",
}
#: The secret the demo receiver checks signatures with (``CLAWBOOK_WEBHOOK_SECRET``).
DEMO_SECRET = "demo-webhook-secret-change-me"
#: Where the demo keeps the API keys it shows, in the instance folder. A real install
#: shows a key once and stores only its hash; the demo keeps them to show them again.
API_KEYS_FILE = "demo-api-keys.json"
#: What a running demo (``python -m example_app``) writes to the instance folder so that
#: ``flask --app example_app …`` beside it reaches its Redis and database; removed when
#: the demo stops. Settings from the environment (``FLASK_…``) win over it.
DEMO_SETTINGS_FILE = "demo-settings.json"
_SESSION_KEY = "demo_owner"

#: The same headers as the dashboard's pages (flask_clawhooks.dashboard.views).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


#: The demo's encryption key for secrets at rest, made on first use in the instance folder.
DEMO_KEY_FILE = "demo-encryption.key"


def _demo_encryption_key(instance_path: str) -> str:
    """The key in ``instance_path``'s :data:`DEMO_KEY_FILE`, made there (readable by its
    owner only) by whichever demo process comes first."""
    from cryptography.fernet import Fernet

    path = os.path.join(instance_path, DEMO_KEY_FILE)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process made it a moment ago: wait for its bytes
            with open(path, encoding="ascii") as existing:
                key = existing.read().strip()
            if key:
                return key
            time.sleep(0.01)
        raise RuntimeError(f"{path} is empty: delete it and start again.") from None
    key = Fernet.generate_key().decode("ascii")
    with os.fdopen(fd, "w", encoding="ascii") as made:
        made.write(key + "\n")
    return key


def create_app(config: dict[str, Any] | None = None, instance_path: str | None = None) -> Flask:
    """The demo ClawBook app.

    :param config: settings applied last, over the environment's.
    :param instance_path: where the SQLite database lives (default: Flask's ``instance/``);
        ``python -m example_app --instance-path DIR`` passes it to every demo process.
    """
    app = Flask(__name__, instance_path=instance_path)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{os.path.join(app.instance_path, 'clawbook.sqlite')}",
        SECRET_KEY="demo-only-secret",
        SESSION_COOKIE_SAMESITE="Lax",
        # The demo receiver listens on loopback; production keeps the SSRF guard on.
        CLAWHOOKS_ALLOW_PRIVATE_DESTINATIONS=True,
        # Visitors without an owner go to the demo's sign-in page, then back.
        CLAWHOOKS_DASHBOARD_LOGIN_ENDPOINT="demo_sign_in",
        # The demo receiver's base URL, for the links of the home page
        # (python -m example_app sets FLASK_DEMO_RECEIVER_URL).
        DEMO_RECEIVER_URL=None,
    )
    app.config.from_file(os.path.join(app.instance_path, DEMO_SETTINGS_FILE), load=json.load,
                         silent=True)
    app.config.from_prefixed_env()
    app.config.update(config or {})
    if not app.config.get("CLAWHOOKS_ENCRYPTION_KEYS"):
        # Signing secrets encrypted at rest, as in production: the demo keeps its own key
        # beside its database (a real install sets FLASK_CLAWHOOKS_ENCRYPTION_KEYS).
        app.config["CLAWHOOKS_ENCRYPTION_KEYS"] = [_demo_encryption_key(app.instance_path)]
    db.init_app(app)
    clawhooks.init_app(app)

    @clawhooks.dashboard_owner_loader
    def dashboard_owner() -> str | None:
        owner = session.get(_SESSION_KEY)
        return owner if owner in OWNERS else None

    @app.after_request
    def security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.get("/")
    def index() -> str:
        """What runs where: the dashboard, the API, the receiver, how to make events."""
        return render_template("demo/index.html", **_page_context())

    @app.route("/demo/sign-in", methods=["GET", "POST"], endpoint="demo_sign_in")
    def sign_in() -> Any:
        """Pick an account: no password, this is a demo. Shows each account's API key."""
        target = _local_path(request.values.get("next")) or url_for("clawhooks_dashboard.index")
        if request.method == "POST":
            owner = request.form.get("owner", "")
            if owner not in OWNERS:
                abort(400)
            session.clear()
            session[_SESSION_KEY] = owner
            return redirect(target)
        return render_template("demo/sign_in.html", next=target, **_page_context())

    @app.post("/demo/sign-out")
    def sign_out() -> Response:
        session.clear()
        return redirect(url_for("index"))

    @app.post("/demo/inbound")
    def inbound_message() -> Any:
        """An inbound message arrives and the AI answers it: four events, one commit."""
        text = request.args.get("text", "Hello, how are you?")
        platform = request.args.get("platform", "telegram")
        conversation = f"conv_{random.randint(100, 999)}"
        emitted = [
            clawhooks.emit("message.received",
                           payloads.message_received(conversation, text, platform),
                           owner=DEMO_OWNER).id,
            clawhooks.emit("ai.request", payloads.simple("ai.request")[1], owner=DEMO_OWNER).id,
            clawhooks.emit("ai.response", payloads.simple("ai.response")[1],
                           owner=DEMO_OWNER).id,
            clawhooks.emit("message.sent", payloads.message_sent(
                conversation, "I'm doing well, thank you for asking!", "claude-3-5-sonnet",
                45, 15, 1250, platform), owner=DEMO_OWNER).id,
        ]
        db.session.commit()
        return jsonify(events=emitted), 201

    @app.post("/demo/event/<event_type>")
    def demo_event(event_type: str) -> Any:
        """Emit one event of ``event_type`` for the owner ``?owner=`` (default: demo)."""
        owner = request.args.get("owner", DEMO_OWNER)
        if owner not in OWNERS:
            return jsonify(error={"code": "unknown_owner",
                                  "message": f"No demo account {owner!r}"}), 404
        if event_type == "integration.disconnected":
            data = payloads.integration_disconnected("whatsapp", "Phone went offline")
        elif event_type in ("message.received", "message.sent") and owner == DEMO_OWNER:
            return inbound_message()
        else:
            try:
                data = payloads.simple(event_type)[1]
            except KeyError:
                return jsonify(error={"code": "unknown_event_type",
                                      "message": f"No demo payload for {event_type!r}"}), 404
        event = clawhooks.emit(event_type, data, owner=owner)
        db.session.commit()
        return jsonify(event=event.id), 201

    return app


def _local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site (no open redirect to another), else None."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _page_context() -> dict[str, Any]:
    base = request.host_url.rstrip("/")
    receiver = current_app.config.get("DEMO_RECEIVER_URL")
    return {
        "owners": OWNERS,
        "signed_in": session.get(_SESSION_KEY),
        "api_keys": demo_api_keys(),
        "api_url": base + get_state().settings.api_prefix,
        "receiver_url": receiver.rstrip("/") if receiver else None,
        "demo_secret": DEMO_SECRET,
        "base_url": base,
    }


def demo_api_keys() -> dict[str, str]:
    """An API key of each demo account, made on first use and kept in the instance folder.

    A key that no longer works (revoked, or the database was replaced) is made again.
    """
    path = Path(current_app.instance_path) / API_KEYS_FILE
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        kept = {}
    keys: dict[str, str] = {}
    changed = False
    for owner in OWNERS:
        token = kept.get(owner) if isinstance(kept, dict) else None
        live = isinstance(token, str) and db.session.scalar(
            select(ApiKey.id).where(ApiKey.key_hash == hash_key(token),
                                    ApiKey.owner == owner, ApiKey.revoked_at.is_(None)))
        if not live:
            _, token = create_key(db.session, owner, name="demo")
            changed = True
        keys[owner] = str(token)
    if changed:
        db.session.commit()
        path.write_text(json.dumps(keys, indent=2), encoding="utf-8")
    return keys
