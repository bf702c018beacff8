"""The event pipeline from the browser's side: events raised offline wait on
the device, survive a reload, reach the server once the connection is back,
and a batch whose answer was lost is sent again without being stored twice.
The server's chain is then checked message by message: seqs 1..n with no
gap, each hash = SHA-256(prev + body), each prev the hash before it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, Response, Route, expect

from invigil.db.engine import Database
from invigil.settings import Settings
from tests.browser import candidate as c
from tests.browser import proctoring as pr
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for

EVENTS = "**/api/events"


@pytest.fixture(scope="module")
def setting(database: Database, settings: Settings, live_server: str) -> tuple[c.Org, pr.Staff]:
    tenant = make_tenant(database, settings)
    org = c.Org(tenant.id, database, kit_for(settings), live_server)
    return org, pr.Staff.sign_in(database, tenant, live_server)


def _seqs(local: list[dict[str, Any]]) -> list[int]:
    return [m["seq"] for m in local]


def _episodes(n: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda items: len(items) == n and all(i["ended_at"] for i in items)


def _switch_tab(page: Page) -> None:
    pr.hide_tab(page)
    pr.show_tab(page)


def test_events_survive_offline_work_a_reload_and_a_lost_answer_without_loss_or_duplicates(
    page: Page, setting: tuple[c.Org, pr.Staff]
) -> None:
    org, staff = setting
    problems = c.watch(page)
    attempt = pr.take(page, org.link(org.exam(proctoring_preset="practice")))
    statuses: list[str] = []

    def answered(res: Response) -> None:
        if res.url.endswith("/api/events") and res.ok:
            statuses.extend(r["status"] for r in res.json()["results"])

    page.on("response", answered)

    # Offline: the drop itself and a tab switch are queued on the device, hashed.
    page.context.set_offline(True)
    _switch_tab(page)
    pr.wait_hashed(page, 3)
    local = pr.local_events(page)
    assert _seqs(local) == [1, 2, 3]
    assert [json.loads(m["body"])["kind"] for m in local] == [
        "network.offline",
        "tab.hidden",
        "tab.hidden",
    ]
    assert staff.events(attempt) == []

    # Back online, but the server cannot be reached yet; then a reload.
    page.route(EVENTS, lambda route: route.abort())
    page.context.set_offline(False)
    pr.wait_hashed(page, 4)
    before = pr.local_events(page)
    page.reload()
    c.heading(page, 1, 8)
    assert pr.local_events(page)[: len(before)] == before  # nothing lost, nothing re-hashed
    assert staff.events(attempt) == []

    # The server stores the next batch but its answer is lost: the page sends it again.
    page.unroute(EVENTS)
    lost: list[int] = []

    def lose_answer(route: Route) -> None:
        if not lost:
            lost.append(len(json.loads(route.request.post_data or "{}")["events"]))
            route.fetch()  # reaches the server...
            route.abort()  # ...the page never hears back
        else:
            route.continue_()

    page.route(EVENTS, lose_answer)
    staff.wait_for(attempt, lambda items: len(items) == 2, page=page)  # offline, tab.hidden
    expect(page.locator("#proctor-status")).to_have_attribute("data-events", "0", timeout=20_000)
    page.unroute(EVENTS)
    assert lost and lost[0] >= 4
    assert "duplicate" in statuses and "conflict" not in statuses

    # New events carry on the chain.
    _switch_tab(page)
    events = staff.wait_for(attempt, _episodes(3))
    assert pr.kinds(events) == ["network.offline", "tab.hidden", "tab.hidden"]

    # A device that forgot everything (storage cleared) resumes from the server's head.
    page.evaluate("() => localStorage.clear()")
    page.reload()
    c.heading(page, 1, 8)
    _switch_tab(page)
    staff.wait_for(attempt, _episodes(4))

    messages = staff.messages(attempt)
    assert [m.seq for m in messages] == list(range(1, len(messages) + 1))
    assert all(m.linked for m in messages)
    prev = hashlib.sha256(f"invigil:{attempt}".encode()).hexdigest()
    for m in messages:
        assert m.prev == prev
        assert m.hash == hashlib.sha256((m.prev + (m.body or "")).encode()).hexdigest()
        prev = m.hash
    assert org.attempt(attempt).events_last_seq == len(messages) == 8
    assert pr.local_events(page) == []
    assert problems == []


def test_the_chain_holds_without_web_crypto(page: Page, setting: tuple[c.Org, pr.Staff]) -> None:
    """crypto.subtle exists only in secure contexts (https, localhost): an exam
    served over plain http hashes with the player's own SHA-256."""
    org, staff = setting
    page.add_init_script(
        "Object.defineProperty(window.crypto, 'subtle', {configurable: true, get: () => undefined})"
    )
    attempt = pr.take(page, org.link(org.exam(proctoring_preset="practice")))
    assert page.evaluate("() => window.crypto.subtle === undefined")
    _switch_tab(page)
    _switch_tab(page)
    staff.wait_for(attempt, _episodes(2))
    messages = staff.messages(attempt)
    assert [m.seq for m in messages] == [1, 2, 3, 4]
    assert all(m.linked for m in messages)
    prev = hashlib.sha256(f"invigil:{attempt}".encode()).hexdigest()
    for m in messages:
        assert m.hash == hashlib.sha256((prev + (m.body or "")).encode()).hexdigest()
        prev = m.hash
