"""axe-core accessibility checks for browser tests.

axe-core comes from npm (``package.json``; ``make test`` runs ``npm ci``).
It is served to the page from the page's own origin through a Playwright
route, so a strict Content-Security-Policy (``script-src 'self'``, as on the
player) stays in force while axe runs: no ``bypass_csp`` context is needed,
and a page that only works without its CSP would still fail the journey.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SCRIPT_PATH = "/__axe-core__.js"
BLOCKING = ("serious", "critical")


def _source() -> bytes:
    if not AXE.is_file():
        pytest.fail(
            f"axe-core is not installed at {AXE}: run `npm ci` (or `make test`, which does)",
            pytrace=False,
        )
    return AXE.read_bytes()


def _inject(page: Page) -> None:
    parts = urlsplit(page.url)
    url = f"{parts.scheme}://{parts.netloc}{SCRIPT_PATH}"
    body = _source()

    def serve(route: Route) -> None:
        route.fulfill(status=200, body=body, content_type="text/javascript")

    page.route(url, serve)
    try:
        page.add_script_tag(url=url)
    finally:
        page.unroute(url, serve)


def violations(page: Page, *, exclude: list[str] | None = None) -> list[dict[str, Any]]:
    """Serious and critical violations of WCAG 2.x A/AA and best practices on the
    page, once its resize observers have run (two animation frames: a test that
    just changed the viewport checks the page as it settles, not halfway)."""
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        _inject(page)
    result: dict[str, Any] = page.evaluate(
        """async (exclude) => {
            const context = exclude.length ? {exclude: exclude.map((s) => [s])} : document;
            return await axe.run(context, {
                runOnly: {type: "tag", values: [
                    "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]},
                resultTypes: ["violations"],
            });
        }""",
        exclude or [],
    )
    return [v for v in result["violations"] if v.get("impact") in BLOCKING]


def describe(found: list[dict[str, Any]]) -> str:
    lines = []
    for v in found:
        lines.append(f"- [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:5]:
            target = ", ".join(str(t) for t in node.get("target", []))
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"    {target}: {summary}")
        if len(v["nodes"]) > 5:
            lines.append(f"    ... and {len(v['nodes']) - 5} more")
    return "\n".join(lines)


def assert_accessible(page: Page, what: str, *, exclude: list[str] | None = None) -> None:
    """Fail with a readable list when axe finds serious or critical problems."""
    found = violations(page, exclude=exclude)
    if found:
        pytest.fail(
            f"axe-core found {len(found)} serious or critical problem(s) on {what} "
            f"({page.url}):\n{describe(found)}",
            pytrace=False,
        )
