"""The system check before an exam that watches faces: the camera's picture
must show the server a face. With no face in view the check says what to do
and the exam does not begin; sitting in view (here: a camera playing a face)
lets it begin. Chromium's fake camera plays files made by the suite
(tests/browser/media.py), one per launch."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Request, expect

from invigil.db.engine import Database
from invigil.settings import Settings
from tests.browser import candidate as c
from tests.browser import media
from tests.browser import proctoring as pr
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("face-check")
    return {
        "no_face": media.write_y4m(folder / "no-face.y4m", media.no_face()),
        "one_face": media.write_y4m(folder / "one-face.y4m", media.one_face()),
        "silence": media.write_silence(folder / "silence.wav"),
    }


@pytest.fixture(scope="module")
def org(database: Database, settings: Settings, live_server: str) -> c.Org:
    tenant = make_tenant(database, settings)
    return c.Org(tenant.id, database, kit_for(settings), live_server)


@pytest.fixture
def launched(browser: Browser) -> Iterator[Callable[[Path, Path], Browser]]:
    opened: list[Browser] = []

    def open_with(video: Path, audio: Path) -> Browser:
        b = pr.launch(browser, video, audio)
        opened.append(b)
        return b

    yield open_with
    for b in opened:
        b.close()


def test_no_face_in_view_holds_the_exam_back_with_advice(
    launched: Callable[[Path, Path], Browser], org: c.Org, files: dict[str, Path]
) -> None:
    with pr.context_of(launched(files["no_face"], files["silence"])) as context:
        page = context.new_page()
        problems = c.watch(page)
        begins: list[Request] = []
        page.on("request", lambda r: begins.append(r) if r.url.endswith("/api/begin") else None)
        c.start(page, org.link(org.exam(proctoring_preset="standard")))
        camera = page.locator(".check-item").filter(has_text="Camera:")
        expect(camera).to_contain_text("looking for your face")
        expect(camera).to_contain_text("not ready", timeout=30_000)
        expect(camera).to_contain_text("We cannot see your face")
        expect(camera.get_by_label("Your camera picture")).to_be_visible()  # to see why
        expect(page.get_by_role("button", name="Check again")).to_be_visible()
        expect(page.get_by_role("status").filter(has_text="needs your attention")).to_be_visible()
        assert begins == []
        assert c.state(page)["status"] == "ready"  # the clock has not started
        # The server decides too: a begin sent anyway is refused.
        refused = page.request.post(page.url.replace("/exam", "/api/begin"))
        assert refused.status == 409 and refused.json()["type"].endswith(":no-face-seen")
        assert problems == []


def test_a_face_in_view_passes_the_check_and_the_exam_begins(
    launched: Callable[[Path, Path], Browser], org: c.Org, files: dict[str, Path]
) -> None:
    with pr.context_of(launched(files["one_face"], files["silence"])) as context:
        page = context.new_page()
        problems = c.watch(page)
        attempt = pr.take(page, org.link(org.exam(proctoring_preset="standard")))
        assert org.attempt(attempt).face_seen_at is not None
        assert c.state(page)["status"] == "in_progress"
        assert problems == []
