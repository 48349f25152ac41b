"""The host app the benchmarks run: like ``example_app``, a small ClawBook-like app with
the extension at its default settings, configured from the environment.

Workers run it as ``flask --app bench.app clawhooks worker``, reading
``FLASK_SQLALCHEMY_DATABASE_URI`` and ``FLASK_CLAWHOOKS_REDIS_URL``. The one setting it
changes is :data:`~flask_clawhooks.config.CLAWHOOKS_ALLOW_PRIVATE_DESTINATIONS`, because
the benchmark's receivers listen on loopback. ``Note`` is the host's own table, for the
plain ``INSERT`` that ``emit()`` is compared with.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_clawhooks import ClawHooks

db = SQLAlchemy()
clawhooks = ClawHooks()

OWNER = "acme"
#: What the benchmark's events carry: the ClawBook page's message.received example.
MESSAGE = {
    "message_id": "msg_xyz789",
    "conversation_id": "conv_abc456",
    "platform": "telegram",
    "sender": {"id": "123456789", "name": "John Doe", "username": "@johndoe"},
    "content": "Hello, how are you?",
    "timestamp": "2026-01-30T14:29:58Z",
}


class Note(db.Model):  # type: ignore[name-defined,misc]
    """A row of the host's own, as a view would write it."""

    __tablename__ = "bench_note"
    id = db.Column(db.Integer, primary_key=True)
    text = db.Column(db.Text)


def message(seq: int) -> dict[str, Any]:
    return {**MESSAGE, "seq": seq}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask("clawbook_bench")
    # The receivers listen on 127.0.0.1; production keeps the SSRF guard on.
    app.config["CLAWHOOKS_ALLOW_PRIVATE_DESTINATIONS"] = True
    app.config.from_prefixed_env()
    app.config.update(config or {})
    db.init_app(app)
    clawhooks.init_app(app)

    @app.post("/notes")
    def add_note() -> str:
        db.session.add(Note(text=MESSAGE["content"]))
        db.session.commit()
        return "ok"

    @app.post("/messages")
    def receive_message() -> str:
        clawhooks.emit("message.received", MESSAGE, owner=OWNER)
        db.session.commit()
        return "ok"

    return app
