"""The ``/api/v1`` JSON API: webhooks, their delivery logs and events, per API key owner.

:func:`register` is called by :meth:`flask_clawhooks.ClawHooks.init_app`; the endpoints
are in :mod:`.views`, their JSON shapes in :mod:`.serialize` and described in
:mod:`.openapi`.
"""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.exceptions import MethodNotAllowed, NotFound

from .errors import http_error_response


def register(app: Flask, prefix: str) -> None:
    """Mount the API at ``prefix`` (``CLAWHOOKS_API_PREFIX``) on ``app``.

    Unknown paths and methods under ``prefix`` are answered in JSON too. Routing fails
    before any blueprint is chosen, so blueprint error handlers never see those; an
    app-wide ``before_request`` answers them instead, which leaves the host's own
    404/405 handlers in charge of every other path.
    """
    from .views import views

    app.register_blueprint(views, url_prefix=prefix or None)

    def json_routing_errors() -> Response | None:
        error = request.routing_exception
        path = request.path
        if isinstance(error, NotFound | MethodNotAllowed) and (
            path == prefix or path.startswith(prefix + "/")
        ):
            return http_error_response(error)
        return None

    app.before_request(json_routing_errors)
