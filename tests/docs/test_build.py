"""The documentation builds with Sphinx, every warning an error."""

from __future__ import annotations

import os
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
