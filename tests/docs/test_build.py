"""The documentation builds with Sphinx, every warning an error."""

from __future__ import annotations

import os
import shutil
import sys

from ..processes import run
from .rst import DOCS


def test_the_docs_build_with_warnings_as_errors(tmp_path):
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert result.returncode == 0, result.stderr or result.stdout
    built = {p.stem for p in (tmp_path / "html").glob("*.html")}
    pages = {p.stem for p in DOCS.glob("*.rst")}
    assert pages <= built, f"pages not built (missing from the toctree?): {pages - built}"


def test_the_build_stops_when_a_documented_module_cannot_be_imported_even_without_w(
        tmp_path):
    """As with only Sphinx installed: an adapter whose framework is missing. Autodoc alone
    would warn and build the page without it."""
    docs = tmp_path / "docs"
    shutil.copytree(DOCS, docs, ignore=shutil.ignore_patterns("_build"))
    probe = tmp_path / "code" / "clawhooks_docs_probe"
    probe.mkdir(parents=True)
    (probe / "__init__.py").write_text('"""Needs a framework."""\n')
    (probe / "adapter.py").write_text(
        '"""An adapter."""\n\nimport a_framework_that_is_not_installed  # noqa: F401\n')
    with (docs / "python-api.rst").open("a", encoding="utf-8") as page:
        page.write("\n.. automodule:: clawhooks_docs_probe.adapter\n")
    root = DOCS.parent
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": os.pathsep.join([str(root), str(tmp_path / "code")])}
    result = run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html",  # no -W
         "-d", str(tmp_path / "doctrees"), str(docs), str(tmp_path / "html")],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert result.returncode != 0, result.stdout
    assert ("python-api.rst: clawhooks_docs_probe.adapter: No module named "
            "'a_framework_that_is_not_installed'") in result.stderr, result.stderr
    assert "pip install -e '.[docs]'" in result.stderr
    assert not (tmp_path / "html" / "python-api.html").exists()
