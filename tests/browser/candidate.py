"""Helpers for the candidate's browser tests: exams, links, and answering
each question type as a person would (by the texts on the screen).

Options are shuffled per candidate, so expected responses are computed from
the paper the server hands this attempt (``GET state``): a response names
options by their position on the candidate's paper.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from invigil.db.engine import Database
from invigil.delivery.invitations import Kit
from invigil.delivery.models import Attempt, AttemptAnswer
from tests.delivery.factories import exam_with_every_type, make_invitation, token_of

# What the journey answers, per question of exam_with_every_type (in its order).
CHOICE = "Paris"
MANY = ("Helium", "Argon; Ar")
NUMBER = "3,14"
SHORT = "Berlin"
ESSAY = "Remote work saves the commute.\nIt also needs discipline."
ORDER = ("Magna Carta", "French Revolution", "Moon landing")
PAIRS = {"Spain": "Madrid", "Italy": "Rome", "Peru": "Lima"}


@dataclass(frozen=True)
class Org:
    tenant_id: uuid.UUID
    database: Database
    kit: Kit
    base: str

    def exam(self, **settings: Any) -> uuid.UUID:
        return exam_with_every_type(self.database, self.tenant_id, settings=settings)

    def link(self, exam_id: uuid.UUID, **changes: Any) -> str:
        made = make_invitation(
            self.database, self.tenant_id, self.kit, exam_id, send_mail=False, **changes
        )
        return f"{self.base}/take/{token_of(made)}"

    def answers(self, attempt_id: str) -> dict[int, AttemptAnswer]:
        with self.database.unit_of_work(self.tenant_id) as uow:
            rows = uow.scalars(
                select(AttemptAnswer).where(AttemptAnswer.attempt_id == uuid.UUID(attempt_id))
            )
            return {row.slot: row for row in rows}

    def attempt(self, attempt_id: str) -> Attempt:
        with self.database.unit_of_work(self.tenant_id) as uow:
            return uow.get(Attempt, uuid.UUID(attempt_id))


def watch(page: Page) -> list[str]:
    """Uncaught script errors and Content-Security-Policy refusals, as they happen:
    the player must work under its strict CSP without either."""
    problems: list[str] = []
    page.on("pageerror", lambda err: problems.append(f"script error: {err}"))
    page.on(
        "console",
        lambda msg: (
            problems.append(f"CSP: {msg.text}") if "Content Security Policy" in msg.text else None
        ),
    )
    return problems


def start(page: Page, link: str) -> None:
    """Landing page -> "I agree" -> "Start exam" -> the player."""
    page.goto(link)
    page.get_by_label("I agree").check()
    page.get_by_role("button", name="Start exam").click()
    expect(page).to_have_url(re.compile(r"/take/[^/]+/exam$"))


def boot(page: Page) -> dict[str, Any]:
    text = page.locator("#boot").text_content() or "{}"
    result: dict[str, Any] = json.loads(text)
    return result


def state(page: Page) -> dict[str, Any]:
    """The server's state, fetched with this browser's cookies."""
    response = page.request.get(urljoin(page.url, f"{boot(page)['api']}/state"))
    assert response.ok, response.text()
    result: dict[str, Any] = response.json()
    return result


def paper(page: Page) -> list[dict[str, Any]]:
    """The questions of the running attempt, once the player has begun it."""
    expect(page.get_by_role("heading", name=re.compile(r"^Question 1 of \d+$"))).to_be_visible()
    questions: list[dict[str, Any]] = state(page)["questions"]
    assert questions, "the attempt has not begun"
    return questions


def queue(page: Page) -> list[dict[str, Any]]:
    """The answer items this browser holds for the server (localStorage)."""
    raw = page.evaluate("(key) => localStorage.getItem(key + ':queue')", boot(page)["storage_key"])
    items: list[dict[str, Any]] = json.loads(raw) if raw else []
    return items


def heading(page: Page, n: int, total: int) -> None:
    expect(page.get_by_role("heading", name=f"Question {n} of {total}")).to_be_visible()


def saved(page: Page) -> None:
    expect(page.locator("#save-status")).to_have_text("All answers saved")


def question(page: Page) -> Locator:
    return page.locator("section.question")


def answer(page: Page, kind: str, *, leaving: bool = False) -> None:
    """Answer the question shown, of type ``kind``, with the journey's answer.
    ``leaving``: the player may leave the page at once (the save is refused),
    so choices are clicked -- ``check()`` would wait to see them checked on
    a page that is gone."""
    q = question(page)

    def mark(label: str) -> None:
        box = q.get_by_label(label, exact=True)
        box.click() if leaving else box.check()

    if kind == "single_choice":
        mark(CHOICE)
    elif kind == "multiple_choice":
        for text in MANY[:1] if leaving else MANY:
            mark(text)
    elif kind == "true_false":
        mark("True")
    elif kind == "numeric":
        q.get_by_label("Your answer").fill(NUMBER)
    elif kind == "short_text":
        q.get_by_label("Your answer").fill(SHORT)
    elif kind == "essay":
        q.get_by_label("Your answer").fill(ESSAY)
    elif kind == "ordering":
        put_in_order(page, list(ORDER))
    elif kind == "matching":
        for left, right in PAIRS.items():
            q.get_by_label(left, exact=True).select_option(label=right)
    else:
        raise AssertionError(kind)


def shown_order(page: Page) -> list[str]:
    texts = question(page).locator(".order-text").all_text_contents()
    return [t.strip() for t in texts]


def put_in_order(page: Page, target: list[str]) -> None:
    """Sort the ordering list with its Move up buttons, as a person would."""
    for pos, text in enumerate(target):
        while shown_order(page).index(text) > pos:
            question(page).get_by_role("button", name=f"Move up: {text}").click()
    assert shown_order(page) == target


def expected(paper: list[dict[str, Any]]) -> dict[int, Any]:
    """The response each journey answer must be stored as, on this paper."""
    out: dict[int, Any] = {}
    for q in paper:
        body, i = q["body"], q["index"]
        kind = q["type"]
        if kind == "single_choice":
            out[i] = body["choices"].index(CHOICE)
        elif kind == "multiple_choice":
            out[i] = sorted(body["choices"].index(t) for t in MANY)
        elif kind == "true_false":
            out[i] = True
        elif kind == "numeric":
            out[i] = NUMBER
        elif kind == "short_text":
            out[i] = SHORT
        elif kind == "essay":
            out[i] = ESSAY
        elif kind == "ordering":
            out[i] = [body["items"].index(t) for t in ORDER]
        elif kind == "matching":
            out[i] = [body["right"].index(PAIRS[left]) for left in body["left"]]
    return out
