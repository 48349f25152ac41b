"""Sphinx configuration for the flask-clawhooks documentation.

Builds offline: no intersphinx, no theme downloads. ``python -m sphinx -W -b html docs
build/html`` is what ``tests/docs/test_build.py`` runs.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
sys.path.insert(0, os.path.abspath("_ext"))

import flask_clawhooks  # noqa: E402

project = "flask-clawhooks"
author = "flask-clawhooks contributors"
copyright = "2026, flask-clawhooks contributors"
release = flask_clawhooks.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "clawhooks_docs",
]

root_doc = "index"
exclude_patterns = ["_build"]
templates_path: list[str] = []
html_static_path: list[str] = []
html_theme = "alabaster"
html_theme_options = {
    "description": "Signed, reliable webhooks for Flask-based ClawBook installs.",
    "fixed_sidebar": True,
}
pygments_style = "sphinx"
default_role = "code"
highlight_language = "python3"
nitpicky = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
