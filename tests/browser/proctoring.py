"""Helpers for the proctoring browser tests: a Chromium launched with given
fake camera and microphone files (the files are fixed per launch), taking a
proctored exam as a candidate, and reading what the server recorded the way
staff do (``GET /api/v1/attempts/{id}/events`` and ``.../actions``) or, for
the chain itself, from the event table.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from invigil.db.engine import Database
from invigil.delivery.models import Attempt
from invigil.proctoring.models import ProctoringEvent
from invigil.tenants.models import Tenant
from tests.browser import candidate as c
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, watch_csp
from tests.conftest import PASSWORD, make_user

FAKE_DEVICES = [
    "--use-fake-ui-for-media-stream",  # no permission prompts; a synthetic screen to share
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]

# Kinds that are not an integrity violation by themselves.
NOT_VIOLATIONS = frozenset({"detector.failed"})


def launch(browser: Browser, video: Path, audio: Path) -> Browser:
    """A Chromium whose camera plays `video` (y4m) and microphone `audio` (wav), looped."""
    launched = browser.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            *FAKE_DEVICES,
            f"--use-file-for-fake-video-capture={video}",
            f"--use-file-for-fake-audio-capture={audio}",
        ],
    )
    return watch_csp(launched)


@contextmanager
def context_of(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        yield context
    finally:
        context.close()


@dataclass(frozen=True)
class Staff:
    """A proctor_reviewer of the test tenant, signed in through the token endpoint."""

    base: str
    headers: dict[str, str]
    database: Database
    tenant_id: uuid.UUID

    @classmethod
    def sign_in(cls, database: Database, tenant: Tenant, base: str) -> Staff:
        user = make_user(database, tenant.id, ["proctor_reviewer"])
        res = httpx.post(
            f"{base}/api/v1/auth/token",
            data={"tenant": tenant.slug, "username": user.email, "password": PASSWORD},
        )
        assert res.status_code == 200, res.text
        token = res.json()["access_token"]
        return cls(base, {"Authorization": f"Bearer {token}"}, database, tenant.id)

    def _items(self, path: str) -> list[dict[str, Any]]:
        res = httpx.get(f"{self.base}{path}", headers=self.headers)
        assert res.status_code == 200, res.text
        items: list[dict[str, Any]] = res.json()["items"]
        return items

    def events(self, attempt_id: str) -> list[dict[str, Any]]:
        return self._items(f"/api/v1/attempts/{attempt_id}/events")

    def actions(self, attempt_id: str) -> list[dict[str, Any]]:
        return self._items(f"/api/v1/attempts/{attempt_id}/actions")

    def wait_for(
        self,
        attempt_id: str,
        found: Callable[[list[dict[str, Any]]], bool],
        timeout: float = 30,
        what: str = "events",
        page: Page | None = None,
    ) -> list[dict[str, Any]]:
        """Poll the staff API until `found(items)` holds; fail with what was there.
        With `page`, Playwright's own loop runs while waiting (route handlers and
        event listeners of the sync API only run inside Playwright calls)."""
        read = self.events if what == "events" else self.actions
        deadline = time.monotonic() + timeout
        items = read(attempt_id)
        while not found(items):
            if time.monotonic() > deadline:
                raise AssertionError(f"not recorded within {timeout}s; the server has {items}")
            if page is not None:
                page.wait_for_timeout(250)
            else:
                time.sleep(0.25)
            items = read(attempt_id)
        return items

    def messages(self, attempt_id: str) -> list[ProctoringEvent]:
        """The raw client messages of the attempt's chain, in seq order."""
        with self.database.unit_of_work(self.tenant_id) as uow:
            rows = uow.scalars(
                select(ProctoringEvent)
                .where(ProctoringEvent.attempt_id == uuid.UUID(attempt_id), ProctoringEvent.seq > 0)
                .order_by(ProctoringEvent.seq)
            )
            uow.session.expunge_all()
            return rows


def kinds(items: list[dict[str, Any]]) -> list[str]:
    return [i["kind"] for i in items]


def has(kind: str, *, ended: bool = False) -> Callable[[list[dict[str, Any]]], bool]:
    def found(items: list[dict[str, Any]]) -> bool:
        return any(i["kind"] == kind and (not ended or i["ended_at"]) for i in items)

    return found


def take(page: Page, link: str, *, share_screen: bool = False, fullscreen: bool = False) -> str:
    """Landing -> consent -> system check -> (screen, full screen) -> question 1.
    Returns the attempt id. An empty `link`: the system check is already shown."""
    if link:
        c.start(page, link)
    if share_screen:
        page.get_by_role("button", name="Share screen").click()
    if fullscreen:
        page.get_by_role("button", name="Enter fullscreen").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Question 1 of \d+$"))).to_be_visible()
    return str(c.boot(page)["attempt_id"])


def take_strict(page: Page, link: str) -> str:
    return take(page, link, share_screen=True, fullscreen=True)


def face_seen_anyway(org: c.Org, page: Page) -> None:
    """The system check refuses a camera that shows no face, as it must. For
    tests of what happens once an exam runs without a face in view: wait for
    that refusal, mark the face as seen (as if the candidate had sat in view
    for the check and left afterwards), and check again."""
    camera = page.locator(".check-item").filter(has_text="Camera:")
    expect(camera).to_contain_text("not ready", timeout=30_000)
    attempt_id = uuid.UUID(c.boot(page)["attempt_id"])
    with org.database.unit_of_work(org.tenant_id) as uow:
        uow.get(Attempt, attempt_id).face_seen_at = datetime.now(UTC)
    page.get_by_role("button", name="Check again").click()


def local_events(page: Page) -> list[dict[str, Any]]:
    """The event messages this browser still holds for the server."""
    key = c.boot(page)["storage_key"]
    found: list[dict[str, Any]] = page.evaluate(
        "(key) => JSON.parse(localStorage.getItem(key + ':events') || '[]')", key
    )
    return found


def wait_hashed(page: Page, count: int) -> None:
    """Until this browser holds `count` hashed event messages for the server."""
    page.wait_for_function(
        """([key, count]) => JSON.parse(localStorage.getItem(key + ":events") || "[]")
                              .filter((m) => m.hash).length === count""",
        arg=[c.boot(page)["storage_key"], count],
    )


def hide_tab(page: Page) -> None:
    """A hidden tab cannot be produced for real under automation here: override
    document.visibilityState and dispatch visibilitychange, as a tab switch would."""
    page.evaluate(
        """() => {
          Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
          Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
          document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )


def show_tab(page: Page) -> None:
    page.evaluate(
        """() => {
          delete document.visibilityState;
          delete document.hidden;
          document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )


def blur_window(page: Page) -> Page:
    """Real blur: focus emulation off (CDP), then another page of the context in front.
    Returns the other page; `page.bring_to_front()` gives the focus back."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setFocusEmulationEnabled", {"enabled": False})
    other = page.context.new_page()
    other.bring_to_front()
    return other


def warning(page: Page, rule: str) -> Any:
    """The banner of ``rule`` (its id is an attribute, never words on the screen)."""
    return page.locator(f'[role="alert"][data-rule="{rule}"]')
