"""Checks run on a page open in Chromium: nothing overflows, nothing overlaps, axe-core.

``check_page(page, name)`` takes a full-page screenshot (test-artifacts/screenshots/), then
returns every problem found, as text a person can act on:

* the page scrolls sideways, or an element sticks out of its parent or the viewport, or an
  element that clips (``overflow: hidden``) has content wider than itself: the clipped
  Events/Status columns and the ids running out of their card of issue 17;
* two controls or pieces of text overlap, such as the Retry button over the delivery id;
* axe-core (from npm, tests/dashboard/node) reports a serious or critical violation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

NODE = Path(__file__).resolve().parent / "node"
AXE = NODE / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

#: Returns a list of problems: what sticks out of what, what clips, what overlaps.
LAYOUT_JS = (Path(__file__).resolve().parent / "layout.js").read_text(encoding="utf-8")


def watch_console(page: Any, label: str = "") -> list[str]:
    """Collect the page's console errors and uncaught exceptions from now on.

    A script or style the Content-Security-Policy refuses is reported here. The error
    Chromium logs for a page that answers 4xx by design (401, 404, 422 pages) is not a
    problem and is left out; a failed script, style or fetch is kept.
    """
    errors: list[str] = []

    def on_console(message: Any) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        if message.text.startswith("Failed to load resource") and (
                url == page.url or url.endswith("/favicon.ico")):
            return
        errors.append(f"{label}{message.text} ({url})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"{label}{error}"))
    return errors


def axe_violations(page: Any) -> list[str]:
    """Serious and critical axe-core violations of the page, one line per element."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated by the browser's debugging protocol: the page's CSP, which forbids
        # inline scripts, does not apply to it (nor should it be loosened for the test).
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    results = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ["violations"]});
        return result.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => n.target.join(" ") + ": " + n.failureSummary)}));
    }""")
    return [f"axe {v['impact']} {v['id']} ({v['help']}): {node}"
            for v in results if v["impact"] in ("serious", "critical") for node in v["nodes"]]


def check_page(page: Any, name: str, *, axe: bool = True) -> list[str]:
    """Screenshot the page as ``<name>.png`` and return its layout and axe problems."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    problems = page.evaluate(LAYOUT_JS)
    if axe:
        problems += axe_violations(page)
    return [f"{name}: {problem}" for problem in problems]
