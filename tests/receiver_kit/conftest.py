"""Helpers for the receiver kit tests: signed ClawBook events and a Flask receiver app."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from receiver_kit import SIGNATURE_HEADER, sign

SECRET = "your-webhook-secret"
CLAWBOOK_ADDR = "203.0.113.7"


def event_body(event_id: str = "evt_abc123", event_type: str = "message.received",
               **data: Any) -> bytes:
    """An envelope serialized the way the sender does: compact UTF-8 JSON."""
    envelope = {"id": event_id, "type": event_type, "created_at": "2026-01-30T14:30:00Z",
                "data": data or {"content": "Hello, how are you?"}}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signed_headers(body: bytes, secret: str = SECRET, **extra: str) -> dict[str, str]:
    return {SIGNATURE_HEADER: sign(body, secret), "Content-Type": "application/json", **extra}


@dataclass
class Receiver:
    """A Flask app with one protected view that records the events it handled."""

    app: Flask
    handled: list[dict[str, Any]] = field(default_factory=list)

    @property
    def client(self) -> FlaskClient:
        return self.app.test_client()

    def post(self, body: bytes, headers: dict[str, str] | None = None,
             remote_addr: str = CLAWBOOK_ADDR, path: str = "/webhook") -> Any:
        return self.client.post(
            path,
            data=body,
            headers=signed_headers(body) if headers is None else headers,
            environ_base={"REMOTE_ADDR": remote_addr},
        )


@pytest.fixture
def make_receiver() -> Callable[..., Receiver]:
    """``make_receiver(view=None, config=None, **decorator_kwargs)``.

    ``view(event)`` decides the answer; by default the view answers ``"OK"``.
    """
    from receiver_kit import current_event, verify_webhook

    def make(view: Callable[[dict[str, Any]], Any] | None = None,
             config: dict[str, Any] | None = None, testing: bool = True,
             **kwargs: Any) -> Receiver:
        app = Flask(__name__)
        app.config.update(TESTING=testing, **(config or {}))
        receiver = Receiver(app)

        @app.post("/webhook")
        @verify_webhook(**kwargs)
        def webhook() -> Any:
            event = current_event()
            receiver.handled.append(event)
            return view(event) if view is not None else "OK"

        return receiver

    return make
