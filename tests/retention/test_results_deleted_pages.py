"""After a delete policy deleted an attempt's results, every page and export
that showed them says so or leaves the attempt out: none answers 500."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI

from invigil.db.uow import Actor
from invigil.evidence.service import Evidence
from invigil.results import release
from invigil.retention import policy, purge, receipts
from invigil.security.keys import Keys
from invigil.settings import Settings
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.evidence.factories import make_evidence
from tests.retention.factories import sit
from tests.test_pages_matrix import web_client


@pytest.fixture
def evidence(tmp_path: Path) -> Evidence:
    return make_evidence(tmp_path)


@pytest.fixture(autouse=True)
def ring(tmp_path: Path) -> Iterator[None]:
    saved = dict(receipts._ring)
    receipts.use_ring(Keys(tmp_path / "keys").audit)
    yield
    receipts._ring.clear()
    receipts._ring.update(saved)


def test_pages_and_exports_after_the_results_were_deleted(
    app: FastAPI, db: BoundDatabase, settings: Settings, evidence: Evidence
) -> None:
    tenant = make_tenant(db, settings).id
    doc = policy.DEFAULT.as_json()
    doc["classes"]["results"] = {"keep_days": 30, "from": "candidate_last_active", "then": "delete"}
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        policy.set_policy(uow, doc, reason="results go after a month")
    gone = sit(db, settings, tenant, evidence)
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        release.release_one(uow, gone.attempt)
    done = purge.run_tenant(db, tenant, evidence, now=gone.submitted_at + timedelta(days=31))
    assert done.subjects.get("results") == 1
    # a newer attempt at the same exam keeps its result
    stays = sit(db, settings, tenant, evidence, exam_id=gone.exam)

    staff, _ = web_client(app, db, tenant, ["tenant_admin"])
    page = staff.get(f"/delivery/attempts/{gone.attempt}")
    assert page.status_code == 200
    words = " ".join(re.sub(r"<[^>]+>", " ", page.text).split())
    assert "The result was deleted under the retention policy on" in words
    for path in (f"/attempts/{gone.attempt}/result", f"/attempts/{gone.attempt}/report.pdf"):
        r = staff.get(path)
        assert r.status_code == 410 and "deleted under the retention policy" in r.text, path
    assert staff.get(f"/attempts/{stays.attempt}/result").status_code == 200
    for path in (
        f"/exams/{gone.exam}/results", f"/exams/{gone.exam}/analytics",
        f"/exams/{gone.exam}/report.pdf", f"/exams/{gone.exam}/release", "/grading",
        f"/grading/{gone.attempt}/0", "/delivery/attempts",
        f"/results/compare?attempt={gone.attempt}&attempt={stays.attempt}",
    ):  # fmt: skip
        r = staff.get(path)
        assert r.status_code in (200, 404, 409, 410), (path, r.status_code, r.text[:300])
    api = bearer(app, db, make_user(db, tenant, ["tenant_admin"]))
    for path in (
        f"/api/v1/attempts/{gone.attempt}", f"/api/v1/attempts/{gone.attempt}/result",
        f"/api/v1/exams/{gone.exam}/analytics", f"/api/v1/exams/{gone.exam}/results",
        "/api/v1/grading/queue",
    ):  # fmt: skip
        r = app_client_get(app, path, api)
        assert r.status_code in (200, 404, 409, 410), (path, r.status_code, r.text[:300])


def app_client_get(app: FastAPI, path: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    return TestClient(app).get(path, headers=headers)
