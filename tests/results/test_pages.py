"""The grading pages over HTTP: the queue is blind (or names candidates to
holders of candidate:view when the exam is not), the marking page hides
other graders' marks, a bad form answers with the error summary and keeps
what was chosen, and a good one records the mark."""

from __future__ import annotations

import re
import uuid

from fastapi import FastAPI

from invigil.results.pseudonyms import code_of
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase
from tests.delivery.factories import kit_for
from tests.results.factories import graded_exam, submitted
from tests.test_pages_matrix import web_client

NAME = "Cand Idate"


def test_queue_and_marking_page_are_blind(
    app: FastAPI, db: BoundDatabase, settings: Settings, tenant_a: Tenant
) -> None:
    exam = graded_exam(db, tenant_a.id, double_marking=True)
    attempt = submitted(db, tenant_a.id, kit_for(settings), exam)
    grader, csrf = web_client(app, db, tenant_a.id, ["grader"])
    admin, admin_csrf = web_client(app, db, tenant_a.id, ["tenant_admin"])

    for client in (grader, admin):  # blind: not even candidate:view shows the name
        queue = client.get(f"/grading?exam={exam}")
        assert queue.status_code == 200
        assert f"/grading/{attempt}/1" in queue.text and f"/grading/{attempt}/2" in queue.text
        assert NAME not in queue.text and f"Candidate {code_of(attempt)}" in queue.text
    assert ">Grading<" in grader.get("/home").text  # the staff navigation

    page = grader.get(f"/grading/{attempt}/1")
    assert page.status_code == 200 and NAME not in page.text
    assert "Remote work widens the pool" in page.text
    assert 'name="level-0"' in page.text and "Strong = clear" in page.text

    # A level missing: the form again, 422, the summary, the other choice kept.
    bad = grader.post(
        f"/grading/{attempt}/1/marks",
        data={"csrf": csrf, "level-1": "Good", "comment-1": "fine words"},
    )
    assert bad.status_code == 422 and "error-summary" in bad.text
    assert "choose a level for" in bad.text.lower()
    assert re.search(r'value="Good" data-points="[0-9.]+" checked', bad.text)
    assert "fine words" in bad.text
    unknown = grader.post(
        f"/grading/{attempt}/1/marks",
        data={"csrf": csrf, "level-0": "Brilliant", "level-1": "Good"},
    )
    assert unknown.status_code == 422 and "Brilliant" in unknown.text
    points = grader.post(f"/grading/{attempt}/2/marks", data={"csrf": csrf, "points": "lots"})
    assert points.status_code == 422 and "a number" in points.text

    done = grader.post(
        f"/grading/{attempt}/1/marks",
        data={"csrf": csrf, "level-0": "Strong = clear", "level-1": "Good", "comment-0": "ok"},
    )
    assert done.status_code == 303 and done.headers["location"] == "/grading"
    mine = grader.get(f"/grading?exam={exam}&state=mine")
    assert f"/grading/{attempt}/1" in mine.text and f"/grading/{attempt}/2" not in mine.text

    # The admin has not marked (and could give the second mark): one mark
    # hidden, its comment not on the page.
    other = admin.get(f"/grading/{attempt}/1")
    assert "1 mark by another grader is hidden" in other.text and ">ok<" not in other.text
    assert admin.get(f"/grading/{attempt}/0").status_code == 409  # scored automatically
    assert admin.get(f"/grading/{uuid.uuid4()}/1").status_code == 404
    assert admin.get(f"/grading/{attempt}/abc").status_code == 404
    no_reason = admin.post(
        f"/grading/{attempt}/1/regrades",
        data={"csrf": admin_csrf, "level-0": "Weak", "level-1": "Good"},
    )
    assert no_reason.status_code == 422 and "say why" in no_reason.text.lower()
    early = admin.post(
        f"/grading/{attempt}/1/regrades",
        data={"csrf": admin_csrf, "level-0": "Weak", "level-1": "Good", "reason": "appeal"},
    )
    assert early.status_code == 409  # not final yet: awaits the second mark


def test_without_blind_grading_names_go_to_holders_of_candidate_view(
    app: FastAPI, db: BoundDatabase, settings: Settings, tenant_a: Tenant
) -> None:
    exam = graded_exam(db, tenant_a.id, blind_grading=False)
    attempt = submitted(db, tenant_a.id, kit_for(settings), exam)
    grader, _ = web_client(app, db, tenant_a.id, ["grader"])
    admin, _ = web_client(app, db, tenant_a.id, ["tenant_admin"])
    assert NAME not in grader.get(f"/grading?exam={exam}").text
    assert NAME not in grader.get(f"/grading/{attempt}/1").text
    assert NAME in admin.get(f"/grading?exam={exam}").text
    assert NAME in admin.get(f"/grading/{attempt}/1").text


def test_the_exam_settings_form_sets_the_grading_rules(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    from invigil.content import exams
    from tests.content.factories import make_exam

    exam = make_exam(db, tenant_a.id)
    author, csrf = web_client(app, db, tenant_a.id, ["exam_author"])
    shown = author.get(f"/authoring/exams/{exam}")
    assert 'name="blind_grading" value="yes" checked' in shown.text
    assert 'name="double_marking" value="yes">' in shown.text and 'value="10"' in shown.text
    form = {"csrf": csrf, "double_marking": "yes", "marking_tolerance_percent": "150"}
    bad = author.post(f"/authoring/exams/{exam}/settings", data=form)
    assert bad.status_code == 422 and 'href="#s-tolerance"' in bad.text
    assert 'value="150"' in bad.text  # kept
    saved = author.post(
        f"/authoring/exams/{exam}/settings", data=form | {"marking_tolerance_percent": "12.5"}
    )
    assert saved.status_code == 303
    with db.unit_of_work(tenant_a.id) as uow:
        settings = exams.require_exam(uow, exam).settings
    assert settings["double_marking"] is True and settings["blind_grading"] is False
    assert settings["marking_tolerance_percent"] == 12.5
