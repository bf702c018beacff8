"""The content API over HTTP, as an author and an exam author use it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, bearer, make_user
from tests.content.factories import SAMPLES


def headers(app: FastAPI, db: BoundDatabase, tenant: Tenant, role: str) -> dict[str, str]:
    return bearer(app, db, make_user(db, tenant.id, [role]))


def new_bank(client: TestClient, h: dict[str, str], name: str) -> str:
    r = client.post("/api/v1/banks", json={"name": name, "description": "d"}, headers=h)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_author_question_lifecycle(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = headers(app, db, tenant_a, "question_manager")
    bank = new_bank(client, h, "API bank")
    ids = []
    for kind, data in SAMPLES.items():
        r = client.post("/api/v1/questions", json=data | {"bank_id": bank}, headers=h)
        assert r.status_code == 201, (kind, r.text)
        ids.append(r.json()["id"])
    qid = ids[0]
    r = client.patch(f"/api/v1/questions/{qid}", json={"points": 5}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and [v["points"] for v in r.json()["versions"]] == [1, 5]
    got = client.get(f"/api/v1/questions/{qid}", headers=h).json()
    assert got["points"] == 5 and len(got["versions"]) == 2
    assert client.post(f"/api/v1/questions/{ids[1]}/archive", headers=h).json()["archived"]
    page = client.get(f"/api/v1/questions?bank_id={bank}&limit=3", headers=h).json()
    assert len(page["items"]) == 3 and page["next"]
    rest = client.get(f"/api/v1/questions?bank_id={bank}&limit=50&cursor={page['next']}", headers=h)
    assert len(rest.json()["items"]) == 4 and rest.json()["next"] is None
    found = client.get(
        "/api/v1/questions",
        params={"bank_id": bank, "q": "capital", "type": "short_text"},
        headers=h,
    )
    assert [i["type"] for i in found.json()["items"]] == ["short_text"]
    assert client.get(f"/api/v1/banks/{bank}", headers=h).json()["questions"] == 7


def test_invalid_question_is_a_readable_problem(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = headers(app, db, tenant_a, "question_manager")
    bank = new_bank(client, h, "Problems")
    data = SAMPLES["single_choice"] | {"bank_id": bank}
    data["body"] = data["body"] | {"correct": 9}
    r = client.post("/api/v1/questions", json=data, headers=h)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert "the right answer must be one of the 4 choices" in r.text


def test_import_export_round_trip_over_http(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = headers(app, db, tenant_a, "question_manager")
    source = new_bank(client, h, "Source")
    for data in SAMPLES.values():
        assert (
            client.post("/api/v1/questions", json=data | {"bank_id": source}, headers=h).status_code
            == 201
        )
    for fmt, count in (("json", 8), ("csv", 8), ("qti", 8)):
        out = client.get(f"/api/v1/banks/{source}/export?format={fmt}", headers=h)
        assert out.status_code == 200 and "attachment" in out.headers["content-disposition"]
        if fmt == "qti":
            assert "x-invigil-skipped" not in out.headers  # QTI carries every type
        target = new_bank(client, h, f"Target {fmt}")
        r = client.post(
            f"/api/v1/banks/{target}/import?format={fmt}", content=out.content, headers=h
        )
        assert r.status_code == 201, r.text
        assert r.json()["imported"] == count and r.json()["skipped_duplicates"] == 0
        twice = client.post(
            f"/api/v1/banks/{target}/import?format={fmt}", content=out.content, headers=h
        )
        assert twice.status_code == 201
        assert twice.json() == {
            "imported": 0,
            "question_ids": [],
            "skipped_duplicates": count,
            "refused": [],
            "notes": [],
        }
        again = client.get(f"/api/v1/banks/{target}/export?format={fmt}", headers=h)
        assert (
            again.text.replace(target, source) == out.text.replace(target, source) or fmt == "qti"
        )


def test_a_bad_file_imports_nothing_and_names_each_problem(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = headers(app, db, tenant_a, "question_manager")
    bank = new_bank(client, h, "Atomic")
    csv_text = (
        "type,category,points,prompt,correct,choices\r\n"
        "true_false,Science,1,Is water wet?,true,\r\n"
        "single_choice,Science,1,Pick one,Z,A|B\r\n"
        "numeric,Maths,-2,How many?,4,\r\n"
    )
    r = client.post(f"/api/v1/banks/{bank}/import?format=csv", content=csv_text, headers=h)
    assert r.status_code == 422
    problems = r.json()["problems"]
    assert [p["where"] for p in problems] == ["line 3", "line 4"]
    assert "nothing was imported" in r.json()["detail"]
    assert client.get(f"/api/v1/banks/{bank}", headers=h).json()["questions"] == 0


def exam_body(question_ids: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "slug": "api-exam",
        "title": "API exam",
        "consent_text": "I agree",
        "settings": {"proctoring_preset": "strict", "time_limit_minutes": 30},
        "sections": [{"kind": "fixed", "title": "All", "question_ids": question_ids}],
    } | extra


def test_exam_lifecycle_over_http(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    qm = headers(app, db, tenant_a, "question_manager")
    author = headers(app, db, tenant_a, "exam_author")
    bank = new_bank(client, qm, "Exam bank")
    ids = [
        client.post("/api/v1/questions", json=d | {"bank_id": bank}, headers=qm).json()["id"]
        for d in SAMPLES.values()
    ]
    r = client.post("/api/v1/exams", json=exam_body(ids), headers=author)
    assert r.status_code == 201, r.text
    exam = r.json()
    assert exam["status"] == "draft" and exam["settings"]["navigation"] == "free"
    preview = client.post(f"/api/v1/exams/{exam['id']}/preview", json={"seed": 5}, headers=author)
    assert preview.status_code == 200, preview.text
    paper = preview.json()
    assert paper["version"] is None and paper["seed"] == 5 and len(paper["items"]) == 8
    for forbidden in ('"correct"', '"accepted"', '"value"', '"rubric"', '"pairs"'):
        assert forbidden not in preview.text
    published = client.post(f"/api/v1/exams/{exam['id']}/publish", headers=author)
    assert published.status_code == 200 and published.json()["version"] == 1
    again = client.post(
        f"/api/v1/exams/{exam['id']}/preview", json={"seed": 5}, headers=author
    ).json()
    assert again["version"] == 1 and again["items"] == paper["items"]
    patched = client.patch(f"/api/v1/exams/{exam['id']}", json={"title": "Renamed"}, headers=author)
    assert patched.json()["has_draft_changes"] and patched.json()["status"] == "published"
    client.post(f"/api/v1/exams/{exam['id']}/publish", headers=author)
    versions = client.get(f"/api/v1/exams/{exam['id']}/versions", headers=author).json()["items"]
    assert [v["version"] for v in versions] == [1, 2]
    assert (
        client.post(f"/api/v1/exams/{exam['id']}/retire", headers=author).json()["status"]
        == "retired"
    )
    listed = client.get("/api/v1/exams?status=retired", headers=author).json()["items"]
    assert [e["slug"] for e in listed] == ["api-exam"]
    dup = client.post("/api/v1/exams", json=exam_body(ids), headers=author)
    assert dup.status_code == 409


def test_exam_settings_are_validated_over_http(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    author = headers(app, db, tenant_a, "exam_author")
    body = exam_body([], sections=[])
    body["settings"] = {"proctoring_preset": "paranoid"}
    r = client.post("/api/v1/exams", json=body, headers=author)
    assert r.status_code == 422 and "proctoring_preset" in r.text
