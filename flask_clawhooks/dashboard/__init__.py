"""The dashboard pages (Settings → API → Webhooks) as a blueprint.

:meth:`ClawHooks.init_app <flask_clawhooks.ClawHooks.init_app>` registers it at
``CLAWHOOKS_DASHBOARD_PREFIX``. The host decides who is looking with
:meth:`~flask_clawhooks.ClawHooks.dashboard_owner_loader`. Templates live under
``templates/clawhooks/``: a host overrides a page, or ``base.html`` to put every page in
its own layout, by shipping a template of the same name.
"""

from __future__ import annotations

from flask import Blueprint

from . import headers, health, payloads, recover, search, views

#: The blueprint's name, and so the prefix of its endpoints (``clawhooks_dashboard.index``).
NAME = "clawhooks_dashboard"


def create_blueprint() -> Blueprint:
    """A new dashboard blueprint, to register with ``url_prefix=<dashboard prefix>``."""
    blueprint = Blueprint(
        NAME,
        __name__,
        template_folder="../templates",
        static_folder="../static/clawhooks",
        static_url_path="/static",
    )
    views.register(blueprint)
    blueprint.context_processor(health.context)
    for pages in (recover, headers, search, payloads):
        pages.register(blueprint)
    return blueprint
