"""An app factory for worker subprocesses started by tests.

``flask --app "tests.worker_app:create_app()" clawhooks worker`` reads the database and
Redis URLs from ``TEST_DATABASE_URL`` and ``TEST_REDIS_URL``, and owners' e-mail
addresses from ``TEST_OWNER_EMAILS`` (a JSON object); other settings come from
``FLASK_CLAWHOOKS_*`` through ``from_prefixed_env``.
"""

from __future__ import annotations

import json
import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_clawhooks import ClawHooks


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
    return app
