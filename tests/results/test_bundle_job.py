"""The whole way an attempt's evidence bundle travels: asked for through the
API, built by the job with results' own builder (not a test builder),
stored, downloaded through the signed link, and verified offline - the
result recomputed, the evidence decrypted for a viewer who may see it."""

from __future__ import annotations

import io
import uuid
import zipfile

from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.audit import bundle_jobs
from invigil.context import Services
from invigil.settings import Settings
from invigil.verifier import verify
from tests.conftest import BoundDatabase, bearer, make_user
from tests.results.bundles import sitting


def test_an_attempt_bundle_built_by_the_job_verifies_offline(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings
) -> None:
    sat = sitting(db, settings, Services.build(settings), n=1)
    (attempt_id,) = sat.attempts
    headers = bearer(app, db, make_user(db, sat.tenant_id, ["tenant_admin"]))
    asked = client.post(
        "/api/v1/bundles",
        json={"kind": "attempt", "subject_id": str(attempt_id)},
        headers=headers,
    )
    assert asked.status_code == 202, asked.text
    bundle_id = uuid.UUID(asked.json()["id"])
    assert bundle_jobs.build(db, app.state.services, sat.tenant_id, bundle_id) == "ready"
    status = client.get(f"/api/v1/bundles/{bundle_id}", headers=headers).json()
    assert status["state"] == "ready" and status["done"] == status["total"] > 10
    url = client.get(f"/api/v1/bundles/{bundle_id}/download", headers=headers).json()["url"]
    data = client.get(url, headers=headers).content

    summary = verify(io.BytesIO(data))
    assert summary.ok, summary.out()
    assert summary.checks["result"] == "ok" and summary.checks["anchors"] == "ok"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        snapshot = next(n for n in names if n.startswith("evidence/snapshot/"))
        assert archive.read(snapshot) == sat.snapshot  # decrypted: the admin holds evidence:view
        assert "report.pdf" in names and "records/exam_version.json" in names
