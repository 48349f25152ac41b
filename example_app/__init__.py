"""A small ClawBook-like app that registers flask-clawhooks and emits real events.

``flask --app example_app clawhooks …`` works against it; settings come from the
environment through ``from_prefixed_env`` (``FLASK_SQLALCHEMY_DATABASE_URI``,
``FLASK_CLAWHOOKS_REDIS_URL``, …). ``python -m example_app`` runs the whole demo.
"""

from __future__ import annotations

import os
import random
from typing import Any

from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy

from flask_clawhooks import ClawHooks

from . import payloads

db = SQLAlchemy()
clawhooks = ClawHooks()

DEMO_OWNER = "demo"


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
        # The demo receiver listens on loopback; production keeps the SSRF guard on.
        CLAWHOOKS_ALLOW_PRIVATE_DESTINATIONS=True,
    )
    app.config.from_prefixed_env()
    app.config.update(config or {})
    db.init_app(app)
    clawhooks.init_app(app)

    @app.get("/")
    def index() -> Any:
        return jsonify(
            app="ClawBook demo",
            try_=["POST /demo/inbound?text=Hello  (message.received + AI reply)",
                  "POST /demo/event/<type>  (any catalog type)"],
        )

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
        if event_type == "integration.disconnected":
            data = payloads.integration_disconnected("whatsapp", "Phone went offline")
        elif event_type in ("message.received", "message.sent"):
            return inbound_message()
        else:
            try:
                data = payloads.simple(event_type)[1]
            except KeyError:
                return jsonify(error={"code": "unknown_event_type",
                                      "message": f"No demo payload for {event_type!r}"}), 404
        event = clawhooks.emit(event_type, data, owner=DEMO_OWNER)
        db.session.commit()
        return jsonify(event=event.id), 201

    return app
