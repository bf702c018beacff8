"""The grading API: the queue (blind, filtered, paged), marking with bad
input answered as problem+json naming the field, blind marks, moderation
and regrades through HTTP."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, bearer, make_user
from tests.delivery.factories import kit_for
from tests.results.factories import graded_exam, submitted
from tests.test_pages_matrix import web_client

ESSAY = {
    "criteria": [
        {"criterion": "Argument: structure", "level": "Strong = clear", "comment": "clear"},
        {"criterion": "Language", "level": "Excellent"},
    ]
}
WEAK = {
    "criteria": [
        {"criterion": "Argument: structure", "level": "Weak"},
        {"criterion": "Language", "level": "Poor"},
    ]
}


def test_queue_marks_moderation_and_regrade_over_http(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings, tenant_a: Tenant
) -> None:
    exam = graded_exam(db, tenant_a.id, double_marking=True)
    kit = kit_for(settings)
    older = submitted(db, tenant_a.id, kit, exam)
    newer = submitted(db, tenant_a.id, kit, exam, {0: 1, 1: "Short essay"})
    ann = bearer(app, db, make_user(db, tenant_a.id, ["grader"]))
    bob = bearer(app, db, make_user(db, tenant_a.id, ["grader"]))
    mod = bearer(app, db, make_user(db, tenant_a.id, ["moderator"]))

    r = client.get(f"/api/v1/grading/queue?exam_id={exam}", headers=ann)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    # Oldest submission first; the essay and the unmatched short answer of the
    # first attempt, the essay of the second (its short answer was not given).
    pairs = [(i["attempt_id"], i["slot"]) for i in items]
    assert sorted(pairs[:2]) == [(str(older), 1), (str(older), 2)]
    assert pairs[2:] == [(str(newer), 1)]
    assert {i["state"] for i in items} == {"unmarked"}
    assert all(i["candidate"].startswith("Candidate ") for i in items)
    assert "Cand Idate" not in r.text  # blind: no name, even for the API
    first = client.get(f"/api/v1/grading/queue?exam_id={exam}&limit=1", headers=ann).json()
    assert len(first["items"]) == 1 and first["next"]
    second = client.get(
        f"/api/v1/grading/queue?exam_id={exam}&limit=1&cursor={first['next']}", headers=ann
    ).json()
    assert second["items"][0]["id"] != first["items"][0]["id"]

    url = f"/api/v1/attempts/{older}/questions/1"
    assert client.post(f"{url}/marks", headers=ann, json=ESSAY).status_code == 201
    hidden = client.get(f"{url}/marks", headers=bob).json()
    assert hidden["items"] == [] and hidden["hidden"] == 1 and hidden["state"] == "awaiting_second"
    mine = client.get(f"/api/v1/grading/queue?exam_id={exam}&state=mine", headers=ann).json()
    assert [(i["attempt_id"], i["slot"]) for i in mine["items"]] == [(str(older), 1)]
    waiting = client.get(
        f"/api/v1/grading/queue?exam_id={exam}&state=awaiting_second", headers=bob
    ).json()
    assert [i["marks"] for i in waiting["items"]] == [1]

    assert client.post(f"{url}/marks", headers=bob, json=WEAK).status_code == 201
    seen = client.get(f"{url}/marks", headers=bob).json()
    assert len(seen["items"]) == 2 and seen["state"] == "awaiting_moderation"
    assert (
        client.post(
            f"{url}/moderation", headers=bob, json={"total": "5", "reason": "x"}
        ).status_code
        == 403
    )
    moderation = client.get(
        f"/api/v1/grading/queue?exam_id={exam}&state=awaiting_moderation", headers=mod
    ).json()
    assert [(i["attempt_id"], i["slot"]) for i in moderation["items"]] == [(str(older), 1)]
    decided = client.post(
        f"{url}/moderation", headers=mod, json={"total": "6.5", "reason": "fair middle"}
    )
    assert decided.status_code == 201 and decided.json()["kind"] == "moderation"
    final = client.get(f"{url}/marks", headers=ann).json()
    assert final["state"] == "final" and final["final"] == "6.50"
    again = client.post(f"{url}/regrades", headers=mod, json=ESSAY | {"reason": "appeal"})
    assert again.status_code == 201 and again.json()["total"] == "10.00"
    gone = client.get(f"/api/v1/grading/queue?exam_id={exam}", headers=ann).json()["items"]
    assert (str(older), 1) not in [(i["attempt_id"], i["slot"]) for i in gone]


def test_bad_input_is_named_and_nothing_is_a_500(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings, tenant_a: Tenant
) -> None:
    exam = graded_exam(db, tenant_a.id)
    attempt = submitted(db, tenant_a.id, kit_for(settings), exam)
    ann = bearer(app, db, make_user(db, tenant_a.id, ["grader"]))
    url = f"/api/v1/attempts/{attempt}/questions/1/marks"

    def problem(body: object, status: int = 422) -> dict[str, object]:
        r = client.post(url, headers=ann, json=body)
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        found: dict[str, object] = r.json()
        return found

    level = problem(
        {"criteria": [{"criterion": "Argument: structure", "level": "Great"}, ESSAY["criteria"][1]]}
    )
    assert level["errors"] == [
        {
            "location": ["body", "criteria", "0", "level"],
            "message": level["detail"],
        }
    ]
    assert "Great" in str(level["detail"])
    assert "comment" in str(
        problem({"criteria": [ESSAY["criteria"][0] | {"comment": "x" * 2001}]})["detail"]
    )
    assert "grade" in str(problem({"criteria": [], "grade": 1})["errors"])
    assert "points" in str(problem({"points": "-1"})["detail"])
    assert "points" in str(problem({"points": "1e999"})["detail"])
    many = {"criteria": [{"criterion": f"c{i}", "level": "x"} for i in range(21)]}
    assert "criteria" in str(problem(many)["detail"])
    short = f"/api/v1/attempts/{attempt}/questions/2/marks"
    over = client.post(short, headers=ann, json={"points": "2.5"})
    assert over.status_code == 422 and over.json()["errors"][0]["location"] == ["body", "points"]
    assert (
        client.post(
            f"/api/v1/attempts/{attempt}/questions/0/marks", headers=ann, json={"points": "1"}
        ).status_code
        == 409
    )
    assert (
        client.post(
            f"/api/v1/attempts/{attempt}/questions/x/marks", headers=ann, json={}
        ).status_code
        == 404
    )
    assert client.get("/api/v1/grading/queue?state=everything", headers=ann).status_code == 422
    assert client.get("/api/v1/grading/queue?limit=1000", headers=ann).status_code == 422
    assert client.get("/api/v1/grading/queue?cursor=nonsense", headers=ann).status_code in (
        400,
        422,
    )
    mod = bearer(app, db, make_user(db, tenant_a.id, ["moderator"]))
    blank = client.post(
        f"/api/v1/attempts/{attempt}/questions/1/moderation",
        headers=mod,
        json={"total": "1", "reason": ""},
    )
    assert blank.status_code == 422 and "reason" in blank.text


def test_the_queue_follows_one_graders_marking_for_moderators(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings, tenant_a: Tenant
) -> None:
    """Filter by grader: the responses a grader has marked that still wait
    (never their marks). A moderator may follow anyone; a grader only
    themselves (403 naming grader_id otherwise). The page offers the filter
    to moderators only, with the graders by name."""
    exam = graded_exam(db, tenant_a.id, double_marking=True)
    kit = kit_for(settings)
    first = submitted(db, tenant_a.id, kit, exam)
    second = submitted(db, tenant_a.id, kit, exam)
    ann_user = make_user(db, tenant_a.id, ["grader"])
    bob_user = make_user(db, tenant_a.id, ["grader"])
    ann, bob = bearer(app, db, ann_user), bearer(app, db, bob_user)
    mod = bearer(app, db, make_user(db, tenant_a.id, ["moderator"]))
    assert client.post(f"/api/v1/attempts/{first}/questions/1/marks", headers=ann, json=ESSAY)
    assert client.post(f"/api/v1/attempts/{second}/questions/1/marks", headers=bob, json=WEAK)

    def followed(headers: dict[str, str], grader: object) -> list[tuple[str, int]]:
        r = client.get(f"/api/v1/grading/queue?exam_id={exam}&grader_id={grader}", headers=headers)
        assert r.status_code == 200, r.text
        return [(i["attempt_id"], i["slot"]) for i in r.json()["items"]]

    assert followed(mod, ann_user.id) == [(str(first), 1)]
    assert followed(mod, bob_user.id) == [(str(second), 1)]
    assert followed(ann, ann_user.id) == [(str(first), 1)]
    refused = client.get(f"/api/v1/grading/queue?grader_id={bob_user.id}", headers=ann)
    assert refused.status_code == 403 and "grader_id" in refused.text

    moderator_page = web_client(app, db, tenant_a.id, ["moderator"])[0]
    page = moderator_page.get("/grading", params={"grader": str(ann_user.id)})
    assert page.status_code == 200 and 'name="grader"' in page.text
    assert f"/grading/{first}/1" in page.text and f"/grading/{second}/1" not in page.text
    grader_page = web_client(app, db, tenant_a.id, ["grader"])[0]
    assert 'name="grader"' not in grader_page.get("/grading").text
