"""Staff pages on attempts: the list, one attempt in human terms, scores only
for result viewers, and releasing a browser (audited, permission-checked)."""

from __future__ import annotations

import hashlib
import html
import re
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from invigil import i18n
from invigil.audit.models import AuditEvent
from invigil.delivery.models import Attempt, AttemptRelease, AttemptResult
from invigil.settings import Settings
from tests.conftest import BoundDatabase, make_tenant
from tests.delivery.test_attempts import begun, browser, invited, item, start
from tests.test_pages_matrix import web_client

ANSWER = re.compile(r'<td class="answer">(.*?)</td>', re.S)
TAG = re.compile(r"<[^>]+>")

# Paper order reversed for the shuffled questions, so that an answer shown
# without mapping paper positions through option_order would name the wrong text.
REVERSED = {0: [3, 2, 1, 0], 1: [4, 3, 2, 1, 0], 6: [2, 1, 0], 7: [2, 1, 0]}


def words(fragment: str) -> str:
    return " ".join(html.unescape(TAG.sub(" ", fragment)).split())


def answers_on(page: str) -> list[str]:
    return [words(cell) for cell in ANSWER.findall(page)]


def reverse_paper(db: BoundDatabase, tenant_id: uuid.UUID, attempt_id: str) -> None:
    with db.unit_of_work(tenant_id) as uow:
        attempt = uow.get(Attempt, uuid.UUID(attempt_id))
        attempt.paper = [
            s | {"option_order": REVERSED.get(i, s["option_order"])}
            for i, s in enumerate(attempt.paper)
        ]


def sat(db: BoundDatabase, app: FastAPI, settings: Settings, **exam: Any) -> tuple[Any, str]:
    """A submitted attempt with every type answered (the essay waits for a grader)."""
    made, token = invited(db, settings, pass_mark_percent=50, time_limit_minutes=30, **exam)
    client, state = begun(app, token)
    reverse_paper(db, made.invitation.tenant_id, state["attempt_id"])
    given = [
        2,  # Paris (stored 1) sits at paper position 2
        [4, 2],  # Helium (stored 0) and Neon | Ne (stored 2)
        True,
        "3,14",
        "Berlin",
        "Remote work saves\ntime.",
        [2, 1, 0],  # Magna Carta, French Revolution, Moon landing
        [2, 0, 1],  # Spain-Madrid, Italy-Lima (wrong), Peru-Rome (wrong)
    ]
    items = [item(i, r, i + 1, time_ms=65_000 if i == 0 else 4000) for i, r in enumerate(given)]
    items[2] |= {"flagged": True}
    r = client.post(f"/take/{token}/api/submit", json={"items": items})
    assert r.status_code == 200 and r.json()["status"] == "submitted", r.text
    return made, state["attempt_id"]


def test_a_grader_reads_the_attempt_in_human_terms_with_its_score(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, attempt_id = sat(db, app, settings)
    tid = made.invitation.tenant_id
    staff, _ = web_client(app, db, tid, ["grader"])

    listed = staff.get("/delivery/attempts")
    assert listed.status_code == 200, listed.text
    row = words(listed.text.split("<tbody>")[1].split("</tr>")[0])
    assert made.candidate.email in row and "attempt 1" in row and "submitted" in row
    assert "by the candidate" in row and "needs grading" in row and " / " in row
    assert f'href="/delivery/attempts/{attempt_id}"' in listed.text

    page = staff.get(f"/delivery/attempts/{attempt_id}")
    assert page.status_code == 200, page.text
    assert answers_on(page.text) == [
        "Paris",
        "Helium Neon | Ne",
        "True flagged for review",
        "3,14",
        "Berlin",
        "Remote work saves time. 4 words",
        "Magna Carta French Revolution Moon landing",
        "Spain → Madrid Italy → Lima Peru → Rome",
    ]
    assert "1 min 05 s" in page.text  # time spent on question 1
    with db.unit_of_work(tid) as uow:
        result = uow.scalar(select(AttemptResult))
        assert result is not None
        recorded = uow.scalar(select(AuditEvent).where(AuditEvent.action == "result.recorded"))
        assert recorded is not None
    text = words(page.text)
    points = (i18n.local_number(result.awarded, "en"), i18n.local_number(result.max_points, "en"))
    assert "{} of {} points".format(*points) in text  # 11.5, as a person writes it
    assert result.document_sha256 in page.text and "needs grading" in text
    assert "Writing" in text and "1 to grade" in text  # the category table
    assert f"/admin/audit/{recorded.id}" not in page.text  # a grader cannot read the log
    assert "Consent given" in text and "I agree to take this exam" in page.text
    assert "Release the browser" not in page.text  # submitted, and no attempt:manage

    admin, _ = web_client(app, db, tid, ["tenant_admin"])
    assert f"/admin/audit/{recorded.id}" in admin.get(f"/delivery/attempts/{attempt_id}").text


def test_a_proctor_without_result_view_sees_answers_but_no_score(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, attempt_id = sat(db, app, settings)
    proctor, _ = web_client(app, db, made.invitation.tenant_id, ["proctor_reviewer"])
    listed = proctor.get("/delivery/attempts")
    assert listed.status_code == 200 and made.candidate.email in listed.text
    page = proctor.get(f"/delivery/attempts/{attempt_id}")
    assert page.status_code == 200 and answers_on(page.text)[0] == "Paris"
    for shown in (listed.text, page.text):
        assert "Score" not in shown and "needs grading" not in shown and "points" not in shown
    with db.unit_of_work(made.invitation.tenant_id) as uow:
        result = uow.scalar(select(AttemptResult))
        assert result is not None
    assert result.document_sha256 not in page.text and "Result" not in words(page.text)


def test_release_frees_the_browser_and_is_audited(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings)
    first, state = begun(app, token)
    aid, tid = state["attempt_id"], made.invitation.tenant_id
    path = f"/delivery/attempts/{aid}"
    proctor, csrf = web_client(app, db, tid, ["proctor_reviewer"])

    page = proctor.get(path)
    assert "Held by one browser" in page.text and 'action="' + path + '/release"' in page.text
    assert words(page.text).count("in progress") >= 1

    blank = proctor.post(path + "/release", data={"csrf": csrf, "reason": "  "})
    assert blank.status_code == 422 and "Say why the browser is released" in blank.text
    summary = blank.text.index('id="error-summary"')
    assert summary < blank.text.index("<h1") and 'href="#release-reason"' in blank.text
    assert (
        'id="release-reason" name="reason" required maxlength="500" rows="3" aria-invalid="true"'
        in blank.text
    )
    forged = proctor.post(path + "/release", data={"csrf": "x", "reason": "laptop died"})
    assert forged.status_code == 403

    grader, grader_csrf = web_client(app, db, tid, ["grader"])
    assert "Release the browser" not in grader.get(path).text
    refused = grader.post(path + "/release", data={"csrf": grader_csrf, "reason": "no"})
    assert refused.status_code == 403

    intruder, intruder_csrf = web_client(app, db, make_tenant(db, settings).id, ["tenant_admin"])
    other = intruder.post(path + "/release", data={"csrf": intruder_csrf, "reason": "mine"})
    assert other.status_code == 404 and intruder.get(path).status_code == 404
    with db.unit_of_work(tid) as uow:
        assert uow.get(Attempt, uuid.UUID(aid)).binding_hash is not None

    done = proctor.post(path + "/release", data={"csrf": csrf, "reason": "Laptop <died>"})
    assert done.status_code == 303 and done.headers["location"] == path
    after = proctor.get(done.headers["location"])
    text = words(after.text)
    assert "Browser released." in text and "Release the browser" not in after.text
    assert "Reason: Laptop <died>" in text and "Laptop <died>" not in after.text  # escaped
    with db.unit_of_work(tid) as uow:
        assert uow.get(Attempt, uuid.UUID(aid)).binding_hash is None
        last = uow.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
        assert last is not None and last.action == "attempt.released"
        # the words stay in their row; the log keeps the row's id and their hash
        row = uow.scalar(select(AttemptRelease).where(AttemptRelease.attempt_id == uuid.UUID(aid)))
        assert row is not None and row.reason == "Laptop <died>"
        assert last.payload == {
            "release_id": str(row.id),
            "reason_sha256": hashlib.sha256(b"Laptop <died>").hexdigest(),
        }
        assert last.subject_id == aid and "Laptop" not in str(last.entry)
        assert last.actor_kind == "user"

    again = proctor.post(path + "/release", data={"csrf": csrf, "reason": "twice"})
    assert again.status_code == 409 and "not bound to any browser" in again.text
    assert first.get(f"/take/{token}/api/state").status_code == 409  # the old browser is out
    assert browser(app).post(f"/take/{token}/start").status_code == 303  # a new browser goes on
    assert "Bound to a new browser" in proctor.get(path).text


def test_the_list_filters_and_pages(
    app: FastAPI, db: BoundDatabase, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    made, token = invited(db, settings)
    tid = made.invitation.tenant_id
    staff, _ = web_client(app, db, tid, ["results_viewer"])
    assert "No candidate has started an exam yet" in staff.get("/delivery/attempts").text
    start(browser(app), token)  # ready: consented, clock not started
    from tests.delivery.factories import kit_for, make_invitation

    other = make_invitation(db, tid, kit_for(settings), made.invitation.exam_id)
    begun(app, other.link.split("/take/", 1)[1])

    everything = staff.get("/delivery/attempts").text
    assert made.candidate.email in everything and other.candidate.email in everything
    ready = staff.get("/delivery/attempts?status=ready").text
    assert made.candidate.email in ready and other.candidate.email not in ready
    link = re.search(r'href="(/delivery/attempts/[0-9a-f-]{36})"', ready)
    assert link and "not started" in words(ready)
    page = staff.get(link.group(1))
    assert page.status_code == 200 and "Clock started" not in page.text
    assert "No result yet" in page.text  # results_viewer may see scores; there are none
    exam = staff.get(f"/delivery/attempts?exam={made.invitation.exam_id}").text
    assert "Attempts: 2 shown (filtered)" in words(exam)
    none = staff.get("/delivery/attempts?q=nobody-by-this-name").text
    assert "No attempt matches this search or these filters" in none
    bad = staff.get("/delivery/attempts?status=lost")
    assert bad.status_code == 400 and "status" in bad.text
    stranger = staff.get(f"/delivery/attempts?exam={uuid.uuid4()}")
    assert stranger.status_code == 400 and "exam" in stranger.text

    emails = {made.candidate.email, other.candidate.email}
    first = staff.get("/delivery/attempts?size=10&sort=email").text
    assert first.index(min(emails)) < first.index(max(emails))
    found = staff.get("/delivery/attempts", params={"q": other.candidate.email}).text
    assert other.candidate.email in found and made.candidate.email not in found


def test_invitations_show_their_latest_attempt(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings)
    _, state = begun(app, token)
    tid = made.invitation.tenant_id
    admin, _ = web_client(app, db, tid, ["tenant_admin"])
    page = admin.get("/delivery/invitations").text
    assert f'href="/delivery/attempts/{state["attempt_id"]}"' in page
    assert "Attempt 1: in progress" in words(page)
    author, _ = web_client(app, db, tid, ["exam_author"])  # no attempt:view: status, no link
    page = author.get("/delivery/invitations").text
    assert "Attempt 1: in progress" in words(page) and "/delivery/attempts/" not in page
