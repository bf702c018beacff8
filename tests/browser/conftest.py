"""Browser tests: the real app in a uvicorn thread, driven by Playwright.

Chromium is Debian's package (``make browser-deps``), never ``playwright
install``: the browser download is not reachable from CI.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from invigil.app import create_app
from invigil.db.engine import Database
from invigil.settings import Settings
from tests.live import running

CHROMIUM = os.environ.get("INVIGIL_CHROMIUM", "/usr/lib/chromium/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
FAILURE_SCREENSHOTS = Path("/tmp/invigil-browser-failures")

_reports = pytest.StashKey[dict[str, pytest.TestReport]]()
# What the Content-Security-Policy blocked during the current test, in any
# page of any context (see :func:`watch_csp`); a test fails on any of it.
CSP_VIOLATIONS: list[str] = []
_REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


def _csp_message(message: ConsoleMessage) -> None:
    text = message.text
    if "CSP violation" in text or "Content Security Policy" in text:
        CSP_VIOLATIONS.append(f"{message.location.get('url', '')}: {text}")


def watch_csp(browser: Browser) -> Browser:
    """Every context this browser makes reports what the page's policy
    blocked: the browser's own console message and the page's
    ``securitypolicyviolation`` event (the init script runs outside the
    policy)."""
    make = browser.new_context

    def new_context(*args: object, **kwargs: object) -> BrowserContext:
        context = make(*args, **kwargs)  # type: ignore[arg-type]
        context.add_init_script(_REPORT_VIOLATIONS)
        context.on("console", _csp_message)
        return context

    browser.new_context = new_context  # type: ignore[method-assign]
    return browser


@pytest.fixture(autouse=True)
def no_csp_violations() -> Iterator[None]:
    """No page may need what its Content-Security-Policy forbids."""
    CSP_VIOLATIONS.clear()
    yield
    found, CSP_VIOLATIONS[:] = list(CSP_VIOLATIONS), []
    assert found == [], "the Content-Security-Policy blocked:\n" + "\n".join(found)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, for the ``page`` fixture's teardown."""
    report = yield
    item.stash.setdefault(_reports, {})[report.when] = report
    return report


@pytest.fixture(scope="session")
def live_server(settings: Settings, database: Database) -> Iterator[str]:
    """The real app on a free 127.0.0.1 port; uvicorn runs its own event loop
    in its own thread, apart from the one Playwright runs in the main thread."""
    with running(create_app(settings, database, run_jobs=False)) as url:
        yield url


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Chromium under Playwright's sync API, for this package only: between sync
    calls Playwright leaves its loop marked as running in the main thread, so a
    session-wide instance would break ``asyncio.run`` in every later test (the
    job tests). Stopping it at the end of the package clears the mark."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: run `make browser-deps` "
            "(Debian's chromium package; `playwright install` cannot download here)",
            pytrace=False,
        )
    with sync_playwright() as p:
        browser = watch_csp(
            p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh context and page per test; a screenshot when the test fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        yield page
    finally:
        reports = request.node.stash.get(_reports, {})
        if any(r.failed for r in reports.values()):
            FAILURE_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
            try:
                page.screenshot(path=str(FAILURE_SCREENSHOTS / f"{name}.png"), full_page=True)
            except Exception as exc:  # the page may have crashed: report, do not mask
                print(f"could not save the failure screenshot: {exc}")
        context.close()
