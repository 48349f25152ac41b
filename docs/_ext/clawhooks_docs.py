"""Sphinx helpers that keep the docs in step with the code.

* ``.. clawhooks-catalog::`` renders the event catalog table from
  :data:`flask_clawhooks.catalog.CATALOG`, so the docs list exactly the types ``emit()``
  accepts.
* ``.. clawhooks-sample:: TYPE`` renders the sample envelope of ``TYPE`` from
  :data:`flask_clawhooks.samples.SAMPLES`, the copy the dashboard's *Send test* sends.
* ``.. clawhooks-schema:: TYPE`` renders the JSON Schema of ``TYPE``'s ``data`` from
  :data:`flask_clawhooks.schemas.DATA_SCHEMAS`, the schema ``emit()`` checks and the API
  serves.
* ``.. clawhooks-openapi::`` renders the HTTP API reference from the OpenAPI document the
  API serves (:func:`flask_clawhooks.api.openapi.document`), so it cannot drift from it.
* At the end of a build, every key of :data:`flask_clawhooks.config.DEFAULTS` must have a
  ``.. data::`` entry (``config.rst``); a missing one is a warning, which ``-W`` turns into
  a failed build.
* Before reading any page, everything an ``.. auto…::`` directive documents must import;
  otherwise the build stops with the reason and the command that installs what is
  missing. Autodoc alone only warns, and a build without ``-W`` would publish the API
  reference with those entries silently left out.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.errors import SphinxError
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


class SampleDirective(SphinxDirective):
    """The sample envelope of one event type, indented for reading, as a JSON block."""

    has_content = False
    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        from flask_clawhooks.samples import SAMPLES

        name = self.arguments[0]
        if name not in SAMPLES:
            raise self.error(f"no sample for event type {name!r} in flask_clawhooks.samples")
        text = json.dumps(SAMPLES[name], indent=2, ensure_ascii=False)
        block = nodes.literal_block(text, text)
        block["language"] = "json"
        return [block]


class SchemaDirective(SphinxDirective):
    """The JSON Schema of one event type's ``data``, as a JSON block."""

    has_content = False
    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        from flask_clawhooks.schemas import DATA_SCHEMAS

        name = self.arguments[0]
        if name not in DATA_SCHEMAS:
            raise self.error(f"no schema for event type {name!r} in flask_clawhooks.schemas")
        text = json.dumps(DATA_SCHEMAS[name], indent=2, ensure_ascii=False)
        block = nodes.literal_block(text, text)
        block["language"] = "json"
        return [block]


def _schema_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else schema.get("type", "object")


def _one_line(text: str) -> str:
    """One line of reST: literals doubled, and a trailing ``_`` (``whsec_``) escaped so it
    is not read as a link."""
    text = " ".join(text.split()).replace("`", "``")
    return re.sub(r"(\w)_(?=\W|$)", r"\1\\_", text)


class OpenApiDirective(SphinxDirective):
    """Every operation of the API: summary, parameters, body fields and answers."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from flask_clawhooks.api.openapi import document

        doc = document("/api/v1", [t.name for t in CATALOG])
        schemas = doc["components"]["schemas"]
        responses = doc["components"]["responses"]
        lines: list[str] = []
        for path, methods in doc["paths"].items():
            for method, op in methods.items():
                title = f"{method.upper()} {path}"
                lines += [title, "~" * len(title), "", _one_line(op.get("summary", "")), ""]
                params = op.get("parameters", [])
                if params:
                    lines += ["Parameters:", ""]
                    for param in params:
                        need = "required" if param.get("required") else "optional"
                        text = _one_line(param.get("description", ""))
                        lines.append(f"* ``{param['name']}`` ({param['in']}, {need})"
                                     + (f": {text}" if text else ""))
                    lines.append("")
                body = op.get("requestBody")
                if body:
                    schema = body["content"]["application/json"]["schema"]
                    fields = schemas[_schema_name(schema)].get("properties", {})
                    required = set(schemas[_schema_name(schema)].get("required", []))
                    lines += [f"JSON body (``{_schema_name(schema)}``):", ""]
                    for name, field in fields.items():
                        need = "required" if name in required else "optional"
                        text = _one_line(field.get("description", ""))
                        kind = field.get("type", "object")
                        kind = " or ".join(kind) if isinstance(kind, list) else kind
                        lines.append(f"* ``{name}`` ({kind}, {need})"
                                     + (f": {text}" if text else ""))
                    lines.append("")
                lines += ["Answers:", ""]
                for status, answer in op["responses"].items():
                    if "$ref" in answer:
                        answer = responses[answer["$ref"].rsplit("/", 1)[-1]]
                    content = answer.get("content", {}).get("application/json")
                    shape = f" (``{_schema_name(content['schema'])}``)" if content else ""
                    lines.append(f"* ``{status}`` {_one_line(answer['description'])}{shape}")
                lines.append("")
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="clawhooks-openapi"),
                                self.content_offset, container, match_titles=True)
        return list(container.children)


def check_config_documented(app: Sphinx, env: BuildEnvironment) -> None:
    documented = set(env.get_domain("py").objects)  # type: ignore[attr-defined]
    for key in DEFAULTS:
        if key not in documented:
            log.warning("%s (flask_clawhooks.config.DEFAULTS) has no '.. data::' entry "
                        "in config.rst", key, type="clawhooks", subtype="config")


#: ``.. automodule:: x``, ``.. autoclass:: x.Y``… and what they name.
AUTODOC_TARGET = re.compile(
    r"^\s*\.\.\s+auto(?:module|class|function|exception|data|attribute|method)::\s+(\S+)",
    re.MULTILINE)


class UndocumentableError(SphinxError):
    category = "Documented code cannot be imported"


def _unimportable(target: str) -> str | None:
    """Why ``target`` (a module, or an object in one) cannot be imported, or None."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        name = ".".join(parts[:end])
        try:
            found: Any = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # not a module: the rest are attributes of a shorter one
            return f"{name}: {exc}"
        except Exception as exc:  # any import-time failure is a reason to stop
            return f"{name}: {type(exc).__name__}: {exc}"
        for attribute in parts[end:]:
            try:
                found = getattr(found, attribute)
            except AttributeError:
                return f"{target}: {name} has no {'.'.join(parts[end:])!r}"
        return None
    return f"{target}: no such module"


def check_autodoc_imports(app: Sphinx) -> None:
    """Stop the build when a documented module or object cannot be imported."""
    problems = []
    for page in sorted(Path(app.srcdir).rglob("*.rst")):
        for target in AUTODOC_TARGET.findall(page.read_text(encoding="utf-8")):
            reason = _unimportable(target)
            if reason is not None:
                problems.append(f"{page.name}: {reason}")
    if problems:
        raise UndocumentableError(
            "the API reference would leave these out:\n  " + "\n  ".join(problems)
            + "\nInstall what the docs document, then build again: "
              "python -m pip install -e '.[docs]'")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", check_autodoc_imports)
    app.add_directive("clawhooks-catalog", CatalogDirective)
    app.add_directive("clawhooks-openapi", OpenApiDirective)
    app.add_directive("clawhooks-sample", SampleDirective)
    app.add_directive("clawhooks-schema", SchemaDirective)
    app.connect("env-check-consistency", check_config_documented)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
