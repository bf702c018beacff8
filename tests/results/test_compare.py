"""Candidates side by side: the ids asked for are checked (two to four,
each once, each a UUID, naming ``attempt``), each column is the attempt's
own result (score, categories lining up only where every exam has them,
time against the cohort, integrity, the marks people gave without their
names), another tenant's attempt is missing, and the page reads in German."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.db.uow import Actor
from invigil.errors import Invalid, NotFound
from invigil.identity import auth
from invigil.identity import service as identity
from invigil.results import compare, grading
from invigil.results.schemas import CriterionMarkIn, MarkIn, ModerationIn
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from invigil.web.session import COOKIE
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.delivery.factories import kit_for
from tests.results.factories import graded_exam, submitted
from tests.results.helpers import make_release_exam
from tests.test_pages_matrix import web_client

ESSAY = 1


def german_client(app: FastAPI, db: BoundDatabase, tenant: Tenant) -> TestClient:
    """A results viewer who reads the staff pages in German, signed in."""
    user = make_user(db, tenant.id, ["results_viewer"])
    with db.unit_of_work(tenant.id) as uow:
        identity.set_language(uow, user.id, "de")
        _, secret = auth.open_session(
            uow, app.state.settings, user, kind="web", address="test", user_agent="pytest",
            enroll_only=False,
        )  # fmt: skip
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    client.cookies.set(COOKIE, secret)
    return client


def essay(structure: str, language: str) -> MarkIn:
    return MarkIn(
        criteria=[
            CriterionMarkIn(criterion="Argument: structure", level=structure),
            CriterionMarkIn(criterion="Language", level=language),
        ]
    )


@pytest.fixture
def three(db: BoundDatabase, settings: Settings, tenant_a: Tenant) -> dict[str, Any]:
    """Two attempts of a double-marked essay exam (one moderated, one still
    waiting for its graders) and one of another exam."""
    kit = kit_for(settings)
    exam = graded_exam(db, tenant_a.id, double_marking=True, marking_tolerance_percent=10)
    moderated = submitted(db, tenant_a.id, kit, exam, {0: 0, 1: "An essay"})
    waiting = submitted(db, tenant_a.id, kit, exam, {0: 1, 1: "Another essay"})
    other_exam = make_release_exam(db, tenant_a.id)
    other = submitted(db, tenant_a.id, kit, other_exam, {0: 0, 1: True})
    ann = make_user(db, tenant_a.id, ["grader"])
    bob = make_user(db, tenant_a.id, ["grader"])
    mod = make_user(db, tenant_a.id, ["moderator"])
    for user, marks in ((ann, essay("Strong = clear", "Excellent")), (bob, essay("Weak", "Good"))):
        with db.unit_of_work(tenant_a.id, Actor("user", str(user.id))) as uow:
            grading.submit_mark(uow, moderated, ESSAY, marks)
    with db.unit_of_work(tenant_a.id, Actor("user", str(mod.id))) as uow:
        grading.moderate(
            uow, moderated, ESSAY, ModerationIn(total=Decimal("7.5"), reason="argument holds")
        )
    return {
        "moderated": moderated,
        "waiting": waiting,
        "other": other,
        "graders": [ann, bob, mod],
        "exams": (exam, other_exam),
    }


@pytest.mark.parametrize(
    "values,message",
    [
        ([], compare.COUNT),
        (["x"], compare.COUNT),
        ([str(uuid.uuid4()) for _ in range(5)], compare.COUNT),
        ([str(uuid.uuid4()), "not-an-id"], compare.MALFORMED),
        ([str(uuid.uuid4()), "a" * 50_000], compare.MALFORMED),
        (["%s" % (same := uuid.uuid4()), str(same).upper()], compare.TWICE),
    ],
)
def test_the_ids_are_two_to_four_distinct_uuids(values: list[str], message: str) -> None:
    with pytest.raises(Invalid) as raised:
        compare.attempt_ids(values)
    assert raised.value.detail == message and raised.value.extensions == {"parameter": "attempt"}


def test_two_to_four_ids_in_their_order() -> None:
    ids = [uuid.uuid4() for _ in range(4)]
    assert compare.attempt_ids([str(i) for i in ids]) == ids
    assert compare.attempt_ids([str(i) for i in ids[:2]]) == ids[:2]


def test_each_column_is_its_attempts_result_and_categories_line_up_only_when_shared(
    db: BoundDatabase, tenant_a: Tenant, three: dict[str, Any]
) -> None:
    ids = [three["moderated"], three["other"], three["waiting"]]
    with db.unit_of_work(tenant_a.id) as uow:
        found = compare.compare(uow, ids, with_identity=True)
        titles = [c.view.version.title for c in found.columns]
    assert [c.attempt_id for c in found.columns] == ids and not found.one_exam
    moderated, other, waiting = found.columns
    assert moderated.view.result.awarded == Decimal("7.50")  # 0 + 7.5 (moderated)
    assert not moderated.view.result.needs_grading and waiting.view.result.needs_grading
    assert other.view.attempt.exam_id == three["exams"][1] and other.view.marks.given == []
    assert [c.outcome for c in found.columns] == ["clear"] * 3
    assert moderated.seconds == 600 and moderated.on_questions_ms == 2000

    by_name = {(r.name, r.exam): r for r in found.categories}
    shared = set.intersection(*(set(c.view.categories) for c in found.columns))
    assert {n for n, e in by_name if e is None} == shared
    assert [r.exam for r in found.categories[: len(shared)]] == [None] * len(shared)
    assert ("Writing", titles[0]) in by_name  # the essay exam's own category
    writing = by_name[("Writing", titles[0])].cells
    assert writing[1] is None  # the other exam has no essay
    assert writing[0] is not None and writing[0]["awarded"] == "7.50"
    assert writing[2] is not None and writing[2]["pending_grading"] == 1
    for row in found.categories:
        for col, cell in zip(found.columns, row.cells, strict=True):
            assert cell == col.view.categories.get(row.name) or (
                row.exam is not None and col.view.version.title != row.exam and cell is None
            )

    (mark,) = moderated.view.marks.given
    assert [g.kind for g in mark.given] == ["first", "second", "moderation"]
    assert mark.given[-1].reason == "argument holds" and mark.awarded == "7.50"
    assert [q.number for q in waiting.view.marks.waiting] == [2]


def test_another_tenants_attempt_is_missing(
    db: BoundDatabase, settings: Settings, tenant_a: Tenant, three: dict[str, Any]
) -> None:
    stranger = make_tenant(db, settings)
    with db.unit_of_work(stranger.id) as uow, pytest.raises(NotFound):
        compare.compare(uow, [three["moderated"], three["other"]], with_identity=True)


def test_the_api_names_the_parameter_and_hides_graders_and_names(
    app: FastAPI, db: BoundDatabase, settings: Settings, tenant_a: Tenant, three: dict[str, Any]
) -> None:
    client = TestClient(app, raise_server_exceptions=False)
    viewer = bearer(app, db, make_user(db, tenant_a.id, ["results_viewer"]))
    grader = bearer(app, db, make_user(db, tenant_a.id, ["grader"]))
    a, b = str(three["moderated"]), str(three["other"])
    url = "/api/v1/results/compare"
    for params in ([], [a], [a, a], [a, "nope"], [a, b, a, b, a]):
        r = client.get(url, params={"attempt": params}, headers=viewer)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["parameter"] == "attempt"

    r = client.get(url, params={"attempt": [a, b]}, headers=viewer)
    assert r.status_code == 200, r.text
    body = r.json()
    first, second = body["attempts"]
    assert (first["attempt_id"], second["attempt_id"]) == (a, b)
    assert first["candidate_name"] == "Cand Idate" and first["exam_id"] == str(three["exams"][0])
    assert (first["awarded"], first["passed"], first["integrity"]["outcome"]) == (
        "7.50",
        True,
        "clear",
    )
    (mark,) = first["marks"]
    assert [g["kind"] for g in mark["given"]] == ["first", "second", "moderation"]
    assert mark["given"][0]["criteria"][0] == {
        "criterion": "Argument: structure",
        "level": "Strong = clear",
        "points": "6.00",
    }
    assert mark["given"][2]["reason"] == "argument holds"
    for user in three["graders"]:  # blind: no grader is named (by name and email) or given by id
        assert user.email not in r.text and str(user.id) not in r.text
    assert first["review_url"] is None  # a results viewer holds no evidence:view
    assert first["result_url"] == f"/attempts/{a}/result"
    assert any(row["exam_title"] is None for row in body["categories"])

    blind = client.get(url, params={"attempt": [a, b]}, headers=grader).json()
    assert blind["attempts"][0]["candidate_name"] is None and "Cand Idate" not in str(blind)

    admin = bearer(app, db, make_user(db, tenant_a.id, ["tenant_admin"]))
    shown = client.get(url, params={"attempt": [a, b]}, headers=admin).json()
    assert shown["attempts"][0]["review_url"] == f"/proctoring/reviews/{a}"

    stranger = make_tenant(db, settings)
    intruder = bearer(app, db, make_user(db, stranger.id, ["tenant_admin"]))
    theirs = client.get(url, params={"attempt": [a, b]}, headers=intruder)
    missing = [str(uuid.uuid4()), b]
    absent = client.get(url, params={"attempt": missing}, headers=intruder)
    assert theirs.status_code == absent.status_code == 404
    assert theirs.json()["detail"].replace(a, "X") == absent.json()["detail"].replace(
        missing[0], "X"
    )


def test_the_page_in_german_and_the_way_to_it_from_the_results(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant, three: dict[str, Any]
) -> None:
    client, _ = web_client(app, db, tenant_a.id, ["results_viewer"])
    a, b, w = (str(three[k]) for k in ("moderated", "other", "waiting"))

    listing = client.get(f"/exams/{three['exams'][0]}/results")
    assert 'action="/results/compare"' in listing.text
    assert f'name="attempt" value="{a}" form="compare-form"' in listing.text

    bad = client.get(f"/results/compare?attempt={a}")
    assert bad.status_code == 422 and "two to four" in bad.text
    assert client.get(f"/results/compare?attempt={a}&attempt={a}").status_code == 422

    page = client.get(f"/results/compare?attempt={a}&attempt={b}&attempt={w}")
    assert page.status_code == 200, page.text
    assert "Compare candidates" in page.text and "Cand Idate" in page.text
    assert "only in" in page.text and "argument holds" in page.text
    assert f'href="/attempts/{a}/result"' in page.text
    assert "/proctoring/reviews/" not in page.text and "/evidence/" not in page.text

    german = german_client(app, db, tenant_a)
    page = german.get(f"/results/compare?attempt={a}&attempt={b}")
    assert page.status_code == 200 and '<html lang="de"' in page.text
    assert "Kandidat" in page.text and "Compare candidates" not in page.text
    bad = german.get(f"/results/compare?attempt={a}")
    assert bad.status_code == 422 and "two to four" not in bad.text
