"""An app factory for worker subprocesses started by tests.

``flask --app "tests.worker_app:create_app()" clawhooks worker`` reads the database and
Redis URLs from ``TEST_DATABASE_URL`` and ``TEST_REDIS_URL``, and owners' e-mail
addresses from ``TEST_OWNER_EMAILS`` (a JSON object); other settings come from
``FLASK_CLAWHOOKS_*`` through ``from_prefixed_env``.

``TEST_SIGTERM_AFTER`` names a method of :class:`~flask_clawhooks.worker.ClawHooksWorker`
(``register_birth``, ``subscribe``, ...): the worker sends itself SIGTERM as it returns,
so a test can stop it at an exact moment of its start.
"""

from __future__ import annotations

import functools
import json
import os
import signal
from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_clawhooks import ClawHooks
from flask_clawhooks.worker import ClawHooksWorker


def create_app() -> Flask:
    app = Flask("clawbook_worker")
    app.config.update(
        SQLALCHEMY_DATABASE_URI=os.environ["TEST_DATABASE_URL"],
        CLAWHOOKS_REDIS_URL=os.environ["TEST_REDIS_URL"],
        CLAWHOOKS_ALLOW_PRIVATE_DESTINATIONS=True,  # the receivers listen on loopback
    )
    app.config.from_prefixed_env()
    db = SQLAlchemy(app)
    clawhooks = ClawHooks(app, db=db)
    emails = json.loads(os.environ.get("TEST_OWNER_EMAILS", "{}"))
    clawhooks.owner_email_loader(emails.get)
    if "TEST_SIGTERM_AFTER" in os.environ:
        _sigterm_after(os.environ["TEST_SIGTERM_AFTER"])
    return app


def _sigterm_after(method: str) -> None:
    original = getattr(ClawHooksWorker, method)

    @functools.wraps(original)
    def then_sigterm(self: ClawHooksWorker, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)
        return result

    setattr(ClawHooksWorker, method, then_sigterm)
