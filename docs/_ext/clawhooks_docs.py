"""Sphinx helpers that keep the docs in step with the code.

* ``.. clawhooks-catalog::`` renders the event catalog table from
  :data:`flask_clawhooks.catalog.CATALOG`, so the docs list exactly the types ``emit()``
  accepts.
* At the end of a build, every key of :data:`flask_clawhooks.config.DEFAULTS` must have a
  ``.. data::`` entry (``config.rst``); a missing one is a warning, which ``-W`` turns into
  a failed build.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from flask_clawhooks.catalog import CATALOG, TEST_EVENT
from flask_clawhooks.config import DEFAULTS

log = logging.getLogger(__name__)


class CatalogDirective(SphinxDirective):
    """The catalog as a list-table: event, group, description."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        lines = [
            ".. list-table::",
            "   :header-rows: 1",
            "   :widths: 30 15 55",
            "",
            "   * - Event",
            "     - Group",
            "     - Description",
        ]
        for event_type in CATALOG:
            lines += [f"   * - :ref:`{event_type.name} <event-{event_type.name}>`",
                      f"     - {event_type.group}",
                      f"     - {event_type.description}"]
        lines += [f"   * - :ref:`{TEST_EVENT} <event-{TEST_EVENT}>`",
                  "     - (test)",
                  "     - Sent only by ``POST /webhooks/{id}/test``; not subscribable"]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="clawhooks-catalog"),
                                self.content_offset, container)
        return list(container.children)


def check_config_documented(app: Sphinx, env: BuildEnvironment) -> None:
    documented = set(env.get_domain("py").objects)  # type: ignore[attr-defined]
    for key in DEFAULTS:
        if key not in documented:
            log.warning("%s (flask_clawhooks.config.DEFAULTS) has no '.. data::' entry "
                        "in config.rst", key, type="clawhooks", subtype="config")


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("clawhooks-catalog", CatalogDirective)
    app.connect("env-check-consistency", check_config_documented)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
