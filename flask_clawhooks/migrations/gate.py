"""Keeping the app and the worker off a schema that is behind the code.

A schema behind the code fails at the first query that reads a new column, with a
traceback. So the JSON API and the dashboard answer ``503`` with the command to run
instead, the worker refuses to start, and the app logs the state once when it starts
(or, started by a command line such as ``flask run``, at the first 503).
"""

from __future__ import annotations

import logging

import click
from flask import Flask, render_template
from flask.typing import ResponseReturnValue
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.exc import SQLAlchemyError

from . import schema

log = logging.getLogger("flask_clawhooks")

#: ``code`` of the API's 503 answer.
ERROR_CODE = "schema_not_current"


def install(app: Flask, db: SQLAlchemy, blueprints: dict[str, str]) -> None:
    """Answer the requests of ``blueprints`` (name: ``"api"`` or ``"dashboard"``) with a
    503 while the schema cannot be used, and log where it stands now.

    Once the schema was found usable it is not read again in this process; until
    then it is read on each request, so an upgrade takes effect without a restart.
    """
    usable = False
    logged = False

    def check(kind: str) -> ResponseReturnValue | None:
        nonlocal usable, logged
        if usable:
            return None
        try:
            found = schema.status(db.engine)
        except SQLAlchemyError:
            return None  # the view meets the same error and answers as it always has
        if found.usable:
            usable = True
            return None
        if not logged:  # `flask run` starts the app in a CLI command: said here instead
            logged = True
            log.error("%s Until then the webhook API and dashboard answer 503.",
                      found.message)
        if kind == "api":
            from ..api.errors import error_response

            return error_response(503, ERROR_CODE, found.message)
        return render_template("clawhooks/error.html", code=503,
                               title="Upgrade needed", message=found.message), 503

    for name, kind in blueprints.items():
        funcs = app.before_request_funcs.setdefault(name, [])
        funcs.insert(0, lambda kind=kind: check(kind))  # before authentication
    _log_at_start_up(app, db)


def _log_at_start_up(app: Flask, db: SQLAlchemy) -> None:
    """Log where the schema stands, once. The connection is closed, not pooled, so that
    nothing opened here is inherited by processes forked later (pre-forking servers).

    Not in a command line: ``flask clawhooks …`` commands say it themselves where it
    matters, and the host's own (``flask db upgrade``) have nothing to do with it.
    """
    if click.get_current_context(silent=True) is not None:
        return
    try:
        with app.app_context():
            engine = db.engine
        with engine.connect() as conn:
            found = schema.connection_status(conn)
            if engine.url.database not in (None, "", ":memory:"):
                conn.invalidate()
    except Exception as exc:  # no database yet, db registered later: never fail init_app
        log.debug("Schema not checked at start-up: %s", exc)
        return
    if found.state in (schema.SchemaState.BEHIND, schema.SchemaState.UNVERSIONED):
        log.error("%s Until then the webhook API and dashboard answer 503.", found.message)
    elif found.state is schema.SchemaState.AHEAD:
        log.warning(found.message)
    elif found.state is schema.SchemaState.EMPTY:
        log.info(found.message)


def require_usable(app: Flask, db: SQLAlchemy) -> None:
    """For the worker: raise unless the schema can be used.

    :raises ~flask_clawhooks.migrations.schema.SchemaNotCurrent: naming the command.
    """
    with app.app_context():
        found = schema.status(db.engine)
    if not found.usable:
        raise schema.SchemaNotCurrent(found)
