"""Exam analytics and item analysis against figures computed by hand on a
small crafted cohort (tests/results/cohort.py).

The cohort, questions A, B (Geo), C, D (Sci), one point each:

    attempt  A  B  C  D   total  percent   time on A
    p1       1  1  1  1   4      100       10 s
    p2       1  1  0  1   3       75       20 s
    p3       1  0  0  1   2       50       30 s
    p4       0  1  0  1   2       50       40 s
    p5       0  0  0  1   1       25     1000 s

plus p6, whose essay waits for a grader (left out of every score figure).
A's rest-scores (total minus A) are 3, 2, 1, 2, 1 - D adds 1 to all, which
changes no correlation - so A's point-biserial is that of (1,1,1,0,0) with
(2,1,0,1,0): 0.6 / sqrt(1.2 x 2.8) = 0.32733.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest
from fastapi import FastAPI

from invigil.errors import NotFound
from invigil.results import analytics, release
from invigil.results.item_analysis import flags_of
from invigil.settings import Settings
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.results.cohort import Exam4, cell, document, invite, make_exam4, record, sit
from tests.test_pages_matrix import web_client

ROWS = [  # A, B, C (chosen options), D, seconds on A, A's choice
    ((1, 1, 1, 1), [0, 2, 4], 10, 1),
    ((1, 1, 0, 1), [0, 1], 20, 1),
    ((1, 0, 0, 1), [1], 30, 1),
    ((0, 1, 0, 1), [0], 40, 0),
    ((0, 0, 0, 1), None, 1000, None),
]


def cohort(db: BoundDatabase, tenant_id: uuid.UUID) -> tuple[Exam4, list[uuid.UUID]]:
    exam = make_exam4(db, tenant_id)
    attempts = []
    for (a, b, c, d), chosen_c, seconds, chosen_a in ROWS:
        cells = [
            cell(exam, "A", a, chosen_a, time_ms=seconds * 1000),
            cell(exam, "B", b, 1 if b else 2),
            cell(exam, "C", c, chosen_c),
            cell(exam, "D", d, 1),
        ]
        attempts.append(sit(db, tenant_id, exam.id, cells, minutes=10 * len(attempts) + 10))
    essay = [cell(exam, "A", 1, 1), cell(exam, "B", 1, 1), cell(exam, "E", None, "Words.")]
    attempts.append(sit(db, tenant_id, exam.id, essay, minutes=90))
    invite(db, tenant_id, exam.id, consent="declined")  # opened, never started
    invite(db, tenant_id, exam.id)  # invited only
    return exam, attempts


def by_key(exam: Exam4, found: analytics.ExamAnalytics) -> dict[str, dict[str, Any]]:
    keys = {v: k for k, v in exam.questions.items()}
    return {keys.get(i["question_id"], i["question_id"]): i for i in found.items}


def test_summary_histogram_funnel_and_categories(db: BoundDatabase, settings: Settings) -> None:
    tenant = make_tenant(db, settings)
    exam, attempts = cohort(db, tenant.id)
    with db.unit_of_work(tenant.id) as uow:
        found = analytics.exam_analytics(uow, exam.id)
    s = found.summary
    assert (s["submitted"], s["graded"], s["pending_grading"]) == (6, 5, 1)
    # Passed: p1 (100) and p2 (75) of the five with an outcome (pass mark 60).
    assert (s["passed"], s["with_outcome"], s["pass_rate"]) == (2, 5, 0.4)
    assert s["mean_percent"] == pytest.approx(60.0)
    assert s["median_percent"] == pytest.approx(50.0)
    # Times taken 10, 20, 30, 40, 50 and 90 minutes (the essay's attempt is
    # submitted, so its time counts): median 35 minutes.
    assert s["median_duration_ms"] == pytest.approx(35 * 60 * 1000)
    counts = {h["from"]: h["count"] for h in found.histogram}
    assert counts == {0: 0, 10: 0, 20: 1, 30: 0, 40: 0, 50: 2, 60: 0, 70: 1, 80: 0, 90: 1}
    assert found.histogram[-1]["to"] == 100
    funnel = {f["stage"]: f["count"] for f in found.funnel}
    assert funnel == {
        "invited": 8,
        "opened": 7,
        "started": 6,
        "submitted": 6,
        "graded": 5,
        "released": 0,
    }
    # Releasing two graded results moves them to the funnel's last stage;
    # the funnel is read live, not from the cache.
    with db.unit_of_work(tenant.id) as uow:
        for attempt_id in attempts[:2]:
            release.release_one(uow, attempt_id)
    with db.unit_of_work(tenant.id) as uow:
        again = analytics.exam_analytics(uow, exam.id)
    assert {f["stage"]: f["count"] for f in again.funnel}["released"] == 2
    cats = {c["category"]: c for c in found.categories}
    # Geo per attempt: 100, 100, 50, 50, 0; Sci: 100, 50, 50, 50, 50.
    assert cats["Geo"]["mean_percent"] == pytest.approx(60.0)
    assert cats["Sci"]["mean_percent"] == pytest.approx(60.0)
    assert (cats["Geo"]["attempts"], cats["Geo"]["questions"]) == (5, 2)
    assert "Writing" not in cats  # the pending essay's attempt is not graded


def test_item_analysis_by_hand(db: BoundDatabase, settings: Settings) -> None:
    tenant = make_tenant(db, settings)
    exam, _ = cohort(db, tenant.id)
    with db.unit_of_work(tenant.id) as uow:
        items = by_key(exam, analytics.exam_analytics(uow, exam.id))
    assert set(items) == {"A", "B", "C", "D"}  # E (pending essay) is not analysed
    a = items["A"]
    assert a["n"] == 5 and a["facility"] == pytest.approx(0.6)
    assert a["discrimination"] == pytest.approx(0.6 / math.sqrt(1.2 * 2.8))
    assert a["discrimination"] == pytest.approx(0.32733, abs=1e-5)
    # Upper and lower 27 % of five: round(1.35) = 1 attempt each, p1 and p5.
    assert (a["upper_n"], a["lower_n"]) == (1, 1)
    assert a["upper_lower"] == pytest.approx(1.0)
    assert a["median_time_ms"] == pytest.approx(30_000)
    assert a["mean_time_ms"] == pytest.approx(220_000)
    assert items["C"]["facility"] == pytest.approx(0.2)
    # D: everyone right, no variance: no correlation, facility 1.
    assert items["D"]["facility"] == pytest.approx(1.0)
    assert items["D"]["discrimination"] is None
    # Five responses are too few to judge: not flagged, though D is extreme.
    assert all(not i["enough"] and i["flags"] == [] for i in items.values())


def test_distractor_counts_in_canonical_order(db: BoundDatabase, settings: Settings) -> None:
    tenant = make_tenant(db, settings)
    exam, _ = cohort(db, tenant.id)
    with db.unit_of_work(tenant.id) as uow:
        items = by_key(exam, analytics.exam_analytics(uow, exam.id))
    [a] = items["A"]["distractors"]
    assert a["seen"] == 5
    assert [(o["text"], o["keyed"], o["chosen"]) for o in a["options"]] == [
        ("Lyon", False, 1),
        ("Paris", True, 3),
        ("Marseille", False, 0),
        ("Nice", False, 0),
    ]
    [c] = items["C"]["distractors"]
    assert [(o["keyed"], o["chosen"]) for o in c["options"]] == [
        (True, 3),
        (False, 2),
        (True, 1),
        (False, 0),
        (True, 1),
    ]
    assert items["A"]["type"] == "single_choice" and items["C"]["type"] == "multiple_choice"


def test_flags_need_twenty_responses() -> None:
    assert flags_of(19, 0.99, -0.5) == []
    assert flags_of(20, 0.99, -0.5) == ["negative", "extreme"]
    assert flags_of(20, 0.19, 0.3) == ["extreme"]
    assert flags_of(20, 0.20, 0.0) == []
    assert flags_of(20, 0.95, 0.1) == []


def test_flagged_items_in_a_larger_cohort(db: BoundDatabase, settings: Settings) -> None:
    """Twenty attempts: A rises with the rest of the paper, N falls with it,
    X is right for everyone."""
    tenant = make_tenant(db, settings)
    exam = make_exam4(db, tenant.id)
    for i in range(20):
        good = i < 10
        cells = [
            cell(exam, "A", 1 if good else 0, 1 if good else 0),
            cell(exam, "B", 1 if i < 12 else 0, 1),
            cell(exam, "C", 1 if i < 8 else 0, [0, 2, 4]),
            cell(exam, "D", 0 if good else 1, 1, kind="single_choice"),
        ]
        sit(db, tenant.id, exam.id, cells)
    with db.unit_of_work(tenant.id) as uow:
        items = by_key(exam, analytics.exam_analytics(uow, exam.id))
    assert items["A"]["n"] == 20 and items["A"]["enough"]
    assert items["A"]["flags"] == [] and items["A"]["discrimination"] > 0
    assert items["D"]["discrimination"] < 0 and items["D"]["flags"] == ["negative"]
    # Upper 5 (ranks 1-5) all have A right, lower 5 all wrong.
    assert items["A"]["upper_lower"] == pytest.approx(1.0)


def test_pool_sections_give_each_question_its_own_n(db: BoundDatabase, settings: Settings) -> None:
    tenant = make_tenant(db, settings)
    exam = make_exam4(db, tenant.id)
    for i in range(6):
        drawn = "B" if i % 3 == 0 else "C"  # a pool drawing one of B and C
        sit(db, tenant.id, exam.id, [cell(exam, "A", i % 2, 1), cell(exam, drawn, 1, [0, 2, 4])])
    with db.unit_of_work(tenant.id) as uow:
        items = by_key(exam, analytics.exam_analytics(uow, exam.id))
    assert (items["A"]["n"], items["B"]["n"], items["C"]["n"]) == (6, 2, 4)
    assert items["B"]["distractors"][0]["seen"] == 2


def test_a_new_result_invalidates_the_cache(db: BoundDatabase, settings: Settings) -> None:
    tenant = make_tenant(db, settings)
    exam, attempts = cohort(db, tenant.id)
    with db.unit_of_work(tenant.id) as uow:
        first = analytics.exam_analytics(uow, exam.id)
    with db.unit_of_work(tenant.id) as uow:
        again = analytics.exam_analytics(uow, exam.id)
    assert not first.cached and again.cached
    assert again.items == first.items and again.summary == first.summary
    # The essay is graded: revision 2 of p6's result.
    graded = [cell(exam, "A", 1, 1), cell(exam, "B", 1, 1), cell(exam, "E", 1, "Words.")]
    graded[2]["needs_grading"] = False
    record(db, tenant.id, attempts[-1], 2, document(graded))
    with db.unit_of_work(tenant.id) as uow:
        fresh = analytics.exam_analytics(uow, exam.id)
    assert not fresh.cached
    assert (fresh.summary["graded"], fresh.summary["pending_grading"]) == (6, 0)
    assert by_key(exam, fresh)["A"]["n"] == 6
    assert {f["stage"]: f["count"] for f in fresh.funnel}["graded"] == 6


def test_another_tenants_exam_is_not_found(db: BoundDatabase, settings: Settings) -> None:
    tenant, other = make_tenant(db, settings), make_tenant(db, settings)
    exam, _ = cohort(db, tenant.id)
    with db.unit_of_work(other.id) as uow, pytest.raises(NotFound):
        analytics.exam_analytics(uow, exam.id)


def test_api_answers_the_figures_and_404_for_another_tenant(
    db: BoundDatabase, settings: Settings, app: FastAPI
) -> None:
    from fastapi.testclient import TestClient

    tenant, other = make_tenant(db, settings), make_tenant(db, settings)
    exam, _ = cohort(db, tenant.id)
    client = TestClient(app, raise_server_exceptions=False)
    mine = bearer(app, db, make_user(db, tenant.id, ["results_viewer"]))
    answer = client.get(f"/api/v1/exams/{exam.id}/analytics", headers=mine)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["summary"]["pass_rate"] == 0.4
    assert body["histogram"][0] == {"from": 0, "to": 10, "count": 0}
    assert [s["stage"] for s in body["funnel"]][-1] == "released"
    assert len(body["items"]) == 4
    theirs = bearer(app, db, make_user(db, other.id, ["results_viewer"]))
    missing = client.get(f"/api/v1/exams/{uuid.uuid4()}/analytics", headers=theirs)
    foreign = client.get(f"/api/v1/exams/{exam.id}/analytics", headers=theirs)
    assert foreign.status_code == missing.status_code == 404
    author = bearer(app, db, make_user(db, tenant.id, ["exam_author"]))
    assert client.get(f"/api/v1/exams/{exam.id}/analytics", headers=author).status_code == 403


def test_pages_show_the_figures_with_words_for_flags(
    db: BoundDatabase, settings: Settings, app: FastAPI
) -> None:
    tenant = make_tenant(db, settings)
    exam, _ = cohort(db, tenant.id)
    viewer, _ = web_client(app, db, tenant.id, ["results_viewer"])
    page = viewer.get(f"/exams/{exam.id}/analytics")
    assert page.status_code == 200, page.text
    text = page.text
    assert "Not enough responses" in text
    assert 'id="chart-histogram"' in text and 'id="chart-funnel"' in text
    sorted_page = viewer.get(f"/exams/{exam.id}/analytics?sort=facility&order=desc")
    assert 'aria-sort="descending"' in sorted_page.text
    q = viewer.get(f"/questions/{exam.questions['A']}/analysis")
    assert q.status_code == 200 and "Paris" in q.text and "keyed" in q.text


def test_the_exam_and_question_pages_link_to_analytics_for_result_viewers(
    db: BoundDatabase, settings: Settings, app: FastAPI
) -> None:
    tenant = make_tenant(db, settings)
    exam, _ = cohort(db, tenant.id)
    grader, _ = web_client(app, db, tenant.id, ["grader"])  # result:view and question:view
    author, _ = web_client(app, db, tenant.id, ["exam_author"])  # neither score nor analytics
    link = f'href="/exams/{exam.id}/analytics"'
    assert link in grader.get(f"/authoring/exams/{exam.id}").text
    author_page = author.get(f"/authoring/exams/{exam.id}")
    assert author_page.status_code == 200 and link not in author_page.text
    analysis = f'href="/questions/{exam.questions["A"]}/analysis"'
    assert analysis in grader.get(f"/authoring/questions/{exam.questions['A']}").text
    assert analysis not in author.get(f"/authoring/questions/{exam.questions['A']}").text
    assert author.get(f"/exams/{exam.id}/analytics").status_code == 403
