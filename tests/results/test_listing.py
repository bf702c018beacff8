"""The per-exam results view: the latest revision per attempt, the integrity
outcome, pass/fail held back while grading is pending, filters, every sort
in both directions paged forward and back without loss or repetition, the
identity rule, and the API's bounds."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.results import listing, release
from invigil.results.pseudonyms import code_of
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.delivery.factories import published_exam
from tests.results.rows import T0, sitting

URL = "/api/v1/exams/{}/results"


def get(client: TestClient, headers: dict[str, str], exam: uuid.UUID, **params: Any) -> Any:
    r = client.get(URL.format(exam), params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def tenant(db: BoundDatabase, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


@pytest.fixture
def exam(db: BoundDatabase, tenant: Tenant) -> uuid.UUID:
    return published_exam(db, tenant.id)


@pytest.fixture
def viewer(app: FastAPI, db: BoundDatabase, tenant: Tenant) -> dict[str, str]:
    return bearer(app, db, make_user(db, tenant.id, ["results_viewer"]))


def test_one_row_per_attempt_from_its_latest_revision(
    client: TestClient, db: BoundDatabase, tenant: Tenant, exam: uuid.UUID, viewer: Any
) -> None:
    regraded = sitting(
        db,
        tenant.id,
        exam,
        name="Ada",
        results=[
            {"awarded": 4, "needs_grading": True},
            {"awarded": 7, "passed": True},
        ],
    )
    pending = sitting(
        db,
        tenant.id,
        exam,
        name="Alan",
        results=[{"awarded": 3, "passed": False, "needs_grading": True}],
    )
    running = sitting(db, tenant.id, exam, name="Grace", status="in_progress")
    items = {i["id"]: i for i in get(client, viewer, exam)["items"]}
    assert set(items) == {str(regraded), str(pending), str(running)}
    ada = items[str(regraded)]
    assert (ada["score"], ada["percentage"], ada["passed"], ada["grading"]) == (
        7,
        70,
        True,
        "graded",
    )
    assert ada["candidate_name"] == "Ada" and ada["time_taken_seconds"] == 1800
    alan = items[str(pending)]
    assert (alan["score"], alan["passed"], alan["grading"]) == (3, None, "needs_grading")
    grace = items[str(running)]
    assert grace["score"] is None and grace["grading"] is None and grace["status"] == "in_progress"
    # Released once its latest revision is released to the candidate.
    with db.unit_of_work(tenant.id) as uow:
        release.release_one(uow, regraded)
    items = {i["id"]: i for i in get(client, viewer, exam)["items"]}
    assert items[str(regraded)]["grading"] == "released"
    assert items[str(pending)]["grading"] == "needs_grading"


def test_integrity_outcomes(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    tenant: Tenant,
    exam: uuid.UUID,
    viewer: Any,
) -> None:
    reviewer = make_user(db, tenant.id, ["proctor_reviewer"]).id
    cases = {
        "clear": {},
        "flagged": {"integrity": "flagged"},
        "flagged-provisional": {"integrity": "provisional_fail"},
        "under_review": {"integrity": "flagged", "flag_decided_by": reviewer},
        "under_review-second": {
            "integrity": "provisional_fail",
            "review_outcome": "violation_fail",
            "review_final": False,
        },
        "cleared": {"integrity": "flagged", "review_outcome": "cleared", "review_final": True},
        "failed": {
            "integrity": "provisional_fail",
            "review_outcome": "violation_invalidate",
            "review_final": True,
        },
    }
    made = {str(sitting(db, tenant.id, exam, **fields)): key for key, fields in cases.items()}
    got = {i["id"]: i["integrity"] for i in get(client, viewer, exam)["items"]}
    assert {a: made[a].split("-")[0] for a in made} == got
    for outcome in listing.INTEGRITY:
        found = {i["id"] for i in get(client, viewer, exam, integrity=outcome)["items"]}
        assert found == {a for a, k in made.items() if k.split("-")[0] == outcome}


def test_filters(
    client: TestClient, db: BoundDatabase, tenant: Tenant, exam: uuid.UUID, viewer: Any
) -> None:
    low = sitting(db, tenant.id, exam, results=[{"awarded": 2, "passed": False}], submitted=T0)
    high = sitting(
        db,
        tenant.id,
        exam,
        results=[{"awarded": 9, "passed": True}],
        submitted=T0 + timedelta(days=2),
    )
    wait = sitting(db, tenant.id, exam, results=[{"awarded": 5, "needs_grading": True}])
    run = sitting(db, tenant.id, exam, status="in_progress")

    def ids(**params: Any) -> set[str]:
        return {i["id"] for i in get(client, viewer, exam, **params)["items"]}

    assert ids(**{"pass": "passed"}) == {str(high)}
    assert ids(**{"pass": "failed"}) == {str(low)}
    assert ids(**{"pass": "pending"}) == {str(wait), str(run)}
    assert ids(status="in_progress") == {str(run)}
    assert ids(min="50") == {str(high), str(wait)}
    assert ids(min="10", max="50") == {str(low), str(wait)}
    assert ids(**{"from": str((T0 + timedelta(days=1)).date())}) == {str(high)}
    assert ids(to=str(T0.date())) == {str(low), str(wait)}


SORTS = [
    "candidate",
    "email",
    "attempt",
    "status",
    "score",
    "percent",
    "passed",
    "integrity",
    "time",
    "submitted",
    "grading",
]


@pytest.mark.parametrize("key", SORTS)
def test_every_sort_pages_forward_and_back_without_loss(
    client: TestClient, db: BoundDatabase, tenant: Tenant, exam: uuid.UUID, viewer: Any, key: str
) -> None:
    # Few distinct values, so that ties straddle page boundaries; NULLs too.
    for i in range(13):
        sitting(
            db,
            tenant.id,
            exam,
            name=f"N{i % 3}",
            email=f"e{i % 2}-{uuid.uuid4().hex[:6]}@example.org",
            number=1 + i % 2,
            status="in_progress" if i % 5 == 0 else "submitted",
            results=[]
            if i % 5 == 0
            else [{"awarded": i % 3, "passed": i % 2 == 0, "needs_grading": i % 4 == 0}],
            minutes=10 + i % 3,
            submitted=T0 + timedelta(hours=i % 4),
            integrity="flagged" if i % 3 == 0 else "clear",
        )
    for sort in (key, "-" + key):
        everything = [i["id"] for i in get(client, viewer, exam, sort=sort, limit=100)["items"]]
        assert len(everything) == 13
        pages, cursor = [], None
        while True:
            page = get(
                client, viewer, exam, sort=sort, limit=4, **({"cursor": cursor} if cursor else {})
            )
            pages.append(page)
            cursor = page["next"]
            if cursor is None:
                break
        assert [i["id"] for p in pages for i in p["items"]] == everything
        back, cursor = [], pages[-1]["previous"]
        while cursor is not None:
            page = get(client, viewer, exam, sort=sort, limit=4, cursor=cursor)
            back = [i["id"] for i in page["items"]] + back
            cursor = page["previous"]
        assert back + [i["id"] for i in pages[-1]["items"]] == everything


def test_without_candidate_view_pseudonyms_and_no_search(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant: Tenant, exam: uuid.UUID
) -> None:
    attempt = sitting(db, tenant.id, exam, name="Ada Lovelace", email="ada@example.org")
    grader = bearer(app, db, make_user(db, tenant.id, ["grader"]))
    item = get(client, grader, exam)["items"][0]
    assert item["candidate_name"] is None and item["candidate_email"] is None
    assert item["pseudonym"] == code_of(attempt) and len(item["pseudonym"]) == 6
    assert get(client, grader, exam)["items"][0]["pseudonym"] == item["pseudonym"]  # stable
    r = client.get(URL.format(exam), params={"q": "Ada"}, headers=grader)
    assert r.status_code == 422 and r.json()["parameter"] == "q"
    r = client.get(URL.format(exam), params={"sort": "email"}, headers=grader)
    assert r.status_code == 422 and r.json()["parameter"] == "sort"
    csv_text = client.get(URL.format(exam), params={"format": "csv"}, headers=grader).text
    assert "Ada" not in csv_text and "ada@example.org" not in csv_text
    viewer = bearer(app, db, make_user(db, tenant.id, ["results_viewer"]))
    assert get(client, viewer, exam, q="lovel")["items"][0]["candidate_name"] == "Ada Lovelace"
    assert get(client, viewer, exam, q="nobody")["items"] == []


def test_another_tenants_exam_is_404_like_a_missing_one(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings, exam: uuid.UUID
) -> None:
    other = make_tenant(db, settings)
    theirs = bearer(app, db, make_user(db, other.id, ["results_viewer"]))
    foreign = client.get(URL.format(exam), headers=theirs)
    missing = client.get(URL.format(uuid.uuid4()), headers=theirs)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["title"] == missing.json()["title"]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"sort": "nonsense"}, "sort"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"min": "101"}, "min"),
        ({"max": "abc"}, "max"),
        ({"from": "2026-13-01"}, "from"),
        ({"status": "ready"}, "status"),
        ({"pass": "maybe"}, "pass"),
        ({"integrity": "x"}, "integrity"),
        ({"cursor": "!!"}, "cursor"),
        ({"q": "x" * 101}, "q"),
        ({"format": "pdf"}, "format"),
    ],
)
def test_bad_parameters_are_422_naming_them(
    client: TestClient, exam: uuid.UUID, viewer: Any, params: dict[str, str], name: str
) -> None:
    r = client.get(URL.format(exam), params=params, headers=viewer)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    named = body.get("parameter") or ",".join(".".join(e["location"]) for e in body["errors"])
    assert name in named


def test_a_cursor_of_another_sort_is_refused(
    client: TestClient, db: BoundDatabase, tenant: Tenant, exam: uuid.UUID, viewer: Any
) -> None:
    for _ in range(3):
        sitting(db, tenant.id, exam)
    cursor = get(client, viewer, exam, limit=1)["next"]
    r = client.get(URL.format(exam), params={"cursor": cursor, "sort": "score"}, headers=viewer)
    assert r.status_code == 422 and r.json()["parameter"] == "cursor"
