"""``make screenshots``: every staff page and every candidate page at 1280
and 375 px wide, as PNG files, from a fresh embedded database with the demo
data, so a person can look at all of Invigil at once.

    python -m tests.browser.screenshots [--out var/screenshots]

Files: ``<out>/<width>/<page>.png`` (staff pages named after their route,
``staff-…``; each built-in role's home page ``home-<role>``; candidate pages
``candidate-…``; the public ones ``public-…``).
Staff pages are generated from the app's routes (tests/browser/staff_pages.py),
seen as the demo tenant's administrator, who holds every permission; the
candidate's are a practice exam's landing page, player and confirmation,
and a proctored exam's landing page with its system check.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright

WIDTHS = (1280, 375)
CHROMIUM = os.environ.get("INVIGIL_CHROMIUM", "/usr/lib/chromium/chromium")


def _shoot(page: Page, out: Path, width: int, name: str) -> None:
    page.wait_for_load_state("networkidle")
    path = out / str(width) / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"  {path}")


def _sign_in(page: Page, base: str, tenant: str, email: str, password: str) -> None:
    page.goto(f"{base}/signin")
    page.get_by_label("Tenant").fill(tenant)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/home")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="var/screenshots", help="folder for the PNG files")
    args = parser.parse_args(argv)
    out = Path(args.out)
    for width in WIDTHS:
        (out / str(width)).mkdir(parents=True, exist_ok=True)
        for old in (out / str(width)).glob("*.png"):
            old.unlink()
    with tempfile.TemporaryDirectory(prefix="invigil-screenshots-") as home:
        os.environ["INVIGIL_HOME"] = home  # a fresh embedded database, gone afterwards
        os.environ.setdefault("INVIGIL_LOG_LEVEL", "warning")
        return _run(out)


def _run(out: Path) -> int:
    from invigil import demo
    from invigil.app import create_app
    from invigil.db import platform
    from invigil.delivery import invitations
    from invigil.delivery.invitations import InviteRequest, Kit
    from invigil.runtime import open_database
    from invigil.security.permissions import BUILTIN_ROLES
    from invigil.settings import Settings
    from tests.browser import staff_pages
    from tests.live import running

    settings = Settings()
    db = open_database(settings)
    try:
        kit = Kit.from_settings(settings)
        demo.seed(db, regions=settings.regions, kit=kit)
        ids = staff_pages.demo_ids(db)
        app = create_app(settings, db, run_jobs=False)
        pages = staff_pages.staff_pages(app, ids)
        ref = platform.tenant_by_slug(db, staff_pages.DEMO_TENANT)
        assert ref is not None

        def link(exam: str, name: str) -> str:
            with db.unit_of_work(ref.id) as uow:
                made = invitations.invite(
                    uow,
                    kit,
                    InviteRequest(
                        name=name,
                        email=f"{name.lower().replace(' ', '.')}@screens.test",
                        exam=exam,
                        send_mail=False,
                    ),
                )
            return "/take/" + made.link.split("/take/", 1)[1]

        with running(app) as base, sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            for width in WIDTHS:
                print(f"{width} px:")
                context = browser.new_context(viewport={"width": width, "height": 900})
                page = context.new_page()
                for name, path in (("public-home", "/"), ("public-signin", "/signin")):
                    page.goto(f"{base}{path}")
                    _shoot(page, out, width, name)
                _sign_in(page, base, "acme", staff_pages.DEMO_ADMIN, demo.DEFAULT_PASSWORD)
                for route, url in pages:
                    page.goto(f"{base}{url}")
                    _shoot(page, out, width, "staff-" + staff_pages.shot_name(route))
                context.close()
                for role in sorted(BUILTIN_ROLES):  # each role's own home page
                    context = browser.new_context(viewport={"width": width, "height": 900})
                    page = context.new_page()
                    _sign_in(page, base, "acme", f"{role}@acme.test", demo.DEFAULT_PASSWORD)
                    _shoot(page, out, width, f"home-{role.replace('_', '-')}")
                    context.close()
                _candidate(browser, base, out, width, link)
            browser.close()
    finally:
        db.dispose()
    print(f"{len(list(out.glob('*/*.png')))} screenshots in {out}/")
    return 0


def _candidate(
    browser: Browser, base: str, out: Path, width: int, link: Callable[[str, str], str]
) -> None:
    """The candidate's pages: a practice exam from landing to confirmation,
    and a proctored exam's landing page and system check (no camera here)."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    practice = base + link("practice-demo", f"Screen Practice {width}")
    page.goto(practice)
    _shoot(page, out, width, "candidate-landing")
    page.get_by_label("I agree").check()
    page.get_by_role("button", name="Start exam").click()
    expect(page).to_have_url(re.compile(r"/take/[^/]+/exam$"))
    expect(page.get_by_role("button", name="Submit exam")).to_be_visible()
    _shoot(page, out, width, "candidate-player")
    page.get_by_role("button", name="Submit exam").click()
    _shoot(page, out, width, "candidate-submit-dialog")
    page.get_by_role("button", name="Submit now").click()
    expect(page).to_have_url(re.compile(r"/done$"))
    _shoot(page, out, width, "candidate-done")
    proctored = base + link("standard-demo", f"Screen Proctored {width}")
    page.goto(proctored)
    _shoot(page, out, width, "candidate-landing-proctored")
    page.get_by_label("I agree").check()
    page.get_by_role("button", name="Start exam").click()
    page.wait_for_timeout(1500)  # the system check looks for a camera there is not
    _shoot(page, out, width, "candidate-system-check")
    context.close()


if __name__ == "__main__":
    sys.exit(main())
