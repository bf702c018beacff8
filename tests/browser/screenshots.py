"""``make screenshots``: every staff page and every candidate page at 1280
and 375 px wide, as PNG files, from a fresh embedded database with the demo
data, so a person can look at all of Invigil at once.

    python -m tests.browser.screenshots [--out var/screenshots] [--candidate]

``--candidate`` takes only the candidate's pages (a minute instead of many).

Files: ``<out>/<width>/<page>.png`` (staff pages named after their route,
``staff-…``; each built-in role's home page ``home-<role>``; candidate pages
``candidate-…``, and again in Arabic, right to left, ``candidate-ar-…``;
the public ones ``public-…``).
Staff pages are generated from the app's routes (tests/browser/staff_pages.py),
seen as the demo tenant's administrator, who holds every permission; the
candidate's are a practice exam's landing page, player (every question) and
confirmation, a proctored exam's landing page with its system check, the
declined and broken-link pages and the invitation mail, in English and in
Arabic (the demo tenant offers both to these candidates).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from playwright.sync_api import Browser, Page, expect, sync_playwright

if TYPE_CHECKING:
    import uuid

    from invigil.db.engine import Database
    from invigil.delivery.invitations import Kit

WIDTHS = (1280, 375)
CHROMIUM = os.environ.get("INVIGIL_CHROMIUM", "/usr/lib/chromium/chromium")


# Pages that hold an event stream open never fall quiet ("networkidle"):
# each is shot once this element shows that its first picture has arrived.
STREAMING = {"/proctoring/live": '#live-state[data-state="live"]'}


def _shoot(page: Page, out: Path, width: int, name: str, ready: str | None = None) -> None:
    if ready:
        page.locator(ready).wait_for()
        page.wait_for_timeout(500)  # the thumbnails
    else:
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
    parser.add_argument("--candidate", action="store_true", help="the candidate's pages only")
    args = parser.parse_args(argv)
    out = Path(args.out)
    for width in WIDTHS:
        (out / str(width)).mkdir(parents=True, exist_ok=True)
        for old in (out / str(width)).glob("*.png"):
            old.unlink()
    with tempfile.TemporaryDirectory(prefix="invigil-screenshots-") as home:
        os.environ["INVIGIL_HOME"] = home  # a fresh embedded database, gone afterwards
        os.environ.setdefault("INVIGIL_LOG_LEVEL", "warning")
        return _run(out, staff=not args.candidate)


def _run(out: Path, staff: bool = True) -> int:
    from sqlalchemy import select

    from invigil import demo
    from invigil.app import create_app
    from invigil.content import exams
    from invigil.content.models import Exam
    from invigil.db import platform
    from invigil.delivery import invitations, mail
    from invigil.delivery.invitations import InviteRequest, Kit
    from invigil.runtime import open_database
    from invigil.security.permissions import BUILTIN_ROLES
    from invigil.settings import Settings
    from invigil.tenants import branding
    from invigil.tenants import service as tenants
    from invigil.tenants.models import Tenant
    from tests.browser import staff_pages
    from tests.live import running

    settings = Settings()
    db = open_database(settings)
    try:
        kit = Kit.from_settings(settings)
        staff_pages.seed_demo(db, settings.regions, kit)
        ids = staff_pages.demo_ids(db)
        app = create_app(settings, db, run_jobs=False)
        pages = staff_pages.staff_pages(app, ids)
        ref = platform.tenant_by_slug(db, staff_pages.DEMO_TENANT)
        assert ref is not None
        with db.unit_of_work(ref.id) as uow:
            tenant = uow.get(Tenant, ref.id)
            tenants.set_languages(uow, [*tenant.languages, "ar"], tenant.default_language)
        with db.unit_of_work(ref.id) as uow:
            # Published again, so their versions freeze the Arabic consent too.
            for exam_id in uow.scalars(select(Exam.id).where(Exam.status == "published")):
                exams.publish_exam(uow, exam_id)

        def link(exam: str, name: str, language: str) -> str:
            with db.unit_of_work(ref.id) as uow:
                made = invitations.invite(
                    uow,
                    kit,
                    InviteRequest(
                        name=name,
                        email=f"{name.lower().replace(' ', '.')}@screens.test",
                        exam=exam,
                        send_mail=False,
                        language=language,
                    ),
                )
            return "/take/" + made.link.split("/take/", 1)[1]

        def invitation_mail(language: str) -> str:
            with db.unit_of_work(ref.id) as uow:
                made = invitations.invite(
                    uow,
                    kit,
                    InviteRequest(
                        name="Screen Mail",
                        email="screen.mail@screens.test",
                        exam="practice-demo",
                        send_mail=False,
                        language=language,
                    ),
                )
                _, version = invitations.published_exam(uow, "practice-demo")
                _, body = mail.compose(made.candidate, version, made.invitation, language)
                text = body.replace(mail.PLACEHOLDER, made.link)
                return mail.html_of(text, branding.brand_of(uow), None, language)

        if staff:
            _sitting(db, ref.id, kit)

        with running(app) as base, sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            for width in WIDTHS:
                print(f"{width} px:")
                context = browser.new_context(viewport={"width": width, "height": 900})
                page = context.new_page()
                for name, path in (("public-home", "/"), ("public-signin", "/signin"))[: 2 * staff]:
                    page.goto(f"{base}{path}")
                    _shoot(page, out, width, name)
                if staff:
                    _sign_in(page, base, "acme", staff_pages.DEMO_ADMIN, demo.DEFAULT_PASSWORD)
                for route, url in pages if staff else []:
                    page.goto(f"{base}{url}")
                    shot = "staff-" + staff_pages.shot_name(route)
                    _shoot(page, out, width, shot, STREAMING.get(route))
                context.close()
                for role in sorted(BUILTIN_ROLES) if staff else []:  # each role's home page
                    context = browser.new_context(viewport={"width": width, "height": 900})
                    page = context.new_page()
                    _sign_in(page, base, "acme", f"{role}@acme.test", demo.DEFAULT_PASSWORD)
                    _shoot(page, out, width, f"home-{role.replace('_', '-')}")
                    context.close()
                for language in ("en", "ar"):
                    _candidate(browser, base, out, width, language, link, invitation_mail)
            browser.close()
    finally:
        db.dispose()
    print(f"{len(list(out.glob('*/*.png')))} screenshots in {out}/")
    return 0


def _sitting(db: Database, tenant_id: uuid.UUID, kit: Kit) -> None:
    """Three demo candidates in the middle of the proctored demo exam, so the
    live console has tiles to show (begun 5, 12 and 19 minutes ago, with 2, 4
    and 6 answers)."""
    from datetime import UTC, datetime, timedelta

    from invigil.db.uow import Actor
    from invigil.delivery import attempts, invitations
    from invigil.delivery.demo import demo_answers, sit_down
    from invigil.delivery.invitations import InviteRequest

    now = datetime.now(UTC)
    for i, name in enumerate(("Screen Sitting One", "Screen Sitting Two", "Screen Sitting Three")):
        with db.unit_of_work(tenant_id) as uow:
            made = invitations.invite(
                uow,
                kit,
                InviteRequest(
                    name=name,
                    email=f"{name.lower().replace(' ', '.')}@screens.test",
                    exam="standard-demo",
                    send_mail=False,
                ),
            )
            uow.actor = Actor("candidate", str(made.candidate.id))
            began = now - timedelta(minutes=5 + 7 * i)
            attempt = sit_down(uow, kit, made.invitation, began)
            items = demo_answers(uow, attempt, 1.0)[: 2 + 2 * i]
            attempts.save(uow, attempt, items, now=began + timedelta(minutes=2))


def _candidate(
    browser: Browser,
    base: str,
    out: Path,
    width: int,
    language: str,
    link: Callable[[str, str, str], str],
    invitation_mail: Callable[[str], str],
) -> None:
    """The candidate's pages in ``language``: a practice exam from landing to
    confirmation (the player at each of its questions), a proctored exam's
    landing page and system check (no camera here), the declined and
    broken-link pages, and the invitation mail."""
    from invigil import i18n

    def _(message: str) -> str:
        return i18n.gettext(language, message)

    prefix = "candidate-" if language == "en" else f"candidate-{language}-"
    # The browser asks for the language too: the broken-link page knows no tenant.
    context = browser.new_context(viewport={"width": width, "height": 900}, locale=language)
    page = context.new_page()
    practice = base + link("practice-demo", f"Screen Practice {width}", language)
    page.goto(practice)
    _shoot(page, out, width, prefix + "landing")
    page.get_by_label(_("I agree")).check()
    page.get_by_role("button", name=_("Start exam")).click()
    expect(page).to_have_url(re.compile(r"/take/[^/]+/exam$"))
    expect(page.locator("#submit-open")).to_be_visible()
    _shoot(page, out, width, prefix + "player")
    questions = page.locator(".palette-button").count()
    for number in range(2, questions + 1):
        page.locator(".question-nav button").last.click()
        expect(page.locator("#question-h")).to_contain_text(str(number))
        _shoot(page, out, width, f"{prefix}player-{number}")
    page.locator(".question-nav button").last.click()  # "Submit exam" at the last question
    _shoot(page, out, width, prefix + "submit-dialog")
    page.get_by_role("button", name=_("Submit now")).click()
    expect(page).to_have_url(re.compile(r"/done$"))
    _shoot(page, out, width, prefix + "done")
    proctored = base + link("standard-demo", f"Screen Proctored {width}", language)
    page.goto(proctored)
    _shoot(page, out, width, prefix + "landing-proctored")
    page.get_by_label(_("I agree")).check()
    page.get_by_role("button", name=_("Start exam")).click()
    page.wait_for_timeout(1500)  # the system check looks for a camera there is not
    _shoot(page, out, width, prefix + "system-check")
    page.goto(base + link("practice-demo", f"Screen Declined {width}", language))
    page.get_by_role("button", name=_("I do not agree")).click()
    _shoot(page, out, width, prefix + "declined")
    page.goto(base + "/take/not-a-real-link")
    _shoot(page, out, width, prefix + "unavailable")
    page.goto(base + "/result/not-a-real-link")
    _shoot(page, out, width, prefix + "result-unavailable")
    page.set_content(invitation_mail(language))
    _shoot(page, out, width, prefix + "mail")
    context.close()


if __name__ == "__main__":
    sys.exit(main())
