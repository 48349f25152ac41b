"""Keeping a host's own Alembic (or Flask-Migrate) away from our tables.

Our models have a metadata of their own, so a host's autogenerate finds our tables in
the database but not in its models, and proposes to drop them. A host filters them out
with :func:`alembic_include_name`; with Flask-Migrate registered on the app this is done
for it (:func:`exclude_from_flask_migrate`), composed with an ``include_name`` the host
set itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, appcontext_pushed

from .schema import TABLE_PREFIX

IncludeName = Callable[[str | None, str, Any], bool]


def alembic_include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """An Alembic ``include_name`` that leaves out every ``clawhooks_*`` table (and so
    their columns, indexes and constraints), our version table included::

        context.configure(..., include_name=ClawHooks.alembic_include_name)
    """
    return not (type_ == "table" and name is not None and name.startswith(TABLE_PREFIX))


def _composed(host: IncludeName | None) -> IncludeName:
    if host is None:
        return alembic_include_name

    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        return alembic_include_name(name, type_, parent_names) and bool(
            host(name, type_, parent_names))

    include_name.clawhooks_composed = True  # type: ignore[attr-defined]
    return include_name


def exclude_from_flask_migrate(app: Flask) -> bool:
    """Give the app's Flask-Migrate an ``include_name`` that leaves our tables out,
    keeping the host's own filter (both must include a name). Returns whether
    Flask-Migrate is registered. Doing it twice changes nothing."""
    config = app.extensions.get("migrate")
    if config is None:
        return False
    args: dict[str, Any] = config.configure_args
    current = args.get("include_name")
    if current is alembic_include_name or getattr(current, "clawhooks_composed", False):
        return True
    args["include_name"] = _composed(current)
    return True


def watch_for_flask_migrate(app: Flask) -> None:
    """Exclude our tables from Flask-Migrate now, or, when it is registered after us,
    at the first app context pushed after (``flask db …`` runs in one)."""
    if not exclude_from_flask_migrate(app):
        appcontext_pushed.connect(_on_push, sender=app)


def _on_push(sender: Flask, **_: Any) -> None:
    # Module-level and holding no app: blinker keeps senders weakly, so an app that is
    # done with is freed, and its connection with it.
    if exclude_from_flask_migrate(sender):
        appcontext_pushed.disconnect(_on_push, sender=sender)
