"""The evidence bundle pages over HTTP: the button on the staff attempt page,
the bundle page and its status, the signed download, retry, isolation."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.audit import bundle, bundle_jobs
from invigil.audit import bundle_registry as registry
from invigil.tenants.models import Tenant
from tests.audit.bundle_factories import Shape
from tests.audit.test_bundles import actions, row_of
from tests.conftest import BoundDatabase
from tests.identity.test_pages import csrf_of, signed_in


def test_the_attempt_page_offers_a_bundle_only_to_viewers_of_results(
    client: TestClient,
    db: BoundDatabase,
    tenant_a: Tenant,
    attempt_id: uuid.UUID,
    shape: Shape,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signed_in(client, db, tenant_a, ["proctor_reviewer"])  # attempt:view, no result:view
    page = client.get(f"/delivery/attempts/{attempt_id}")
    assert page.status_code == 200 and "Build evidence bundle" not in page.text
    client.cookies.clear()
    signed_in(client, db, tenant_a, ["results_viewer"])
    page = client.get(f"/delivery/attempts/{attempt_id}")
    assert "Build evidence bundle" in page.text
    assert "by its hashes only" in page.text  # results_viewer may not view evidence
    # A server that builds no attempt bundles (neither a job builder nor a format one) offers none.
    registry.unregister("attempt")
    monkeypatch.delitem(bundle._builders, "attempt")
    assert "Build evidence bundle" not in client.get(f"/delivery/attempts/{attempt_id}").text


def test_a_bundle_is_asked_for_followed_and_downloaded_from_the_pages(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    tenant_a: Tenant,
    attempt_id: uuid.UUID,
    shape: Shape,
) -> None:
    signed_in(client, db, tenant_a, ["tenant_admin"])
    csrf = csrf_of(client.get(f"/delivery/attempts/{attempt_id}").text)
    asked = client.post(
        "/bundles",
        data={"csrf": csrf, "kind": "attempt", "subject_id": str(attempt_id)},
        follow_redirects=False,
    )
    assert asked.status_code == 303
    path = asked.headers["location"]
    bundle_id = path.rsplit("/", 1)[1]
    page = client.get(path)
    assert page.status_code == 200
    assert f'data-bundle-status="/bundles/{bundle_id}/status"' in page.text
    assert "/static/staff/bundle.js" in page.text and "queued" in page.text
    status = client.get(f"/bundles/{bundle_id}/status")
    assert status.json() == {"state": "queued", "done": 0, "total": None}
    assert status.headers["cache-control"] == "no-store"

    bundle_jobs.build(db, app.state.services, tenant_a.id, uuid.UUID(bundle_id))
    assert client.get(f"/bundles/{bundle_id}/status").json()["state"] == "ready"
    page = client.get(path)
    assert "Download the bundle" in page.text and "data-bundle-status" not in page.text
    row = row_of(db, tenant_a, bundle_id)
    assert row.sha256 is not None and row.sha256 in page.text

    link = client.post(
        f"/bundles/{bundle_id}/download", data={"csrf": csrf}, follow_redirects=False
    )
    assert link.status_code == 303
    assert link.headers["location"].startswith(f"/bundles/{bundle_id}/file?")
    got = client.get(link.headers["location"])  # the web session is the viewer's
    assert got.status_code == 200
    assert hashlib.sha256(got.content).hexdigest() == row.sha256
    assert "attachment" in got.headers["content-disposition"]
    assert actions(db, tenant_a, bundle_id)[-2:] == ["bundle.url_issued", "bundle.downloaded"]
    no_csrf = client.post(f"/bundles/{bundle_id}/download", follow_redirects=False)
    assert no_csrf.status_code == 403


def test_a_failed_bundle_shows_its_reason_and_is_tried_again_from_its_page(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    tenant_a: Tenant,
    attempt_id: uuid.UUID,
    shape: Shape,
) -> None:
    signed_in(client, db, tenant_a, ["results_viewer"])
    csrf = csrf_of(client.get(f"/delivery/attempts/{attempt_id}").text)
    shape.fail_at = 0
    path = client.post(
        "/bundles",
        data={"csrf": csrf, "kind": "attempt", "subject_id": str(attempt_id)},
        follow_redirects=False,
    ).headers["location"]
    bundle_id = uuid.UUID(path.rsplit("/", 1)[1])
    bundle_jobs.build(db, app.state.services, tenant_a.id, bundle_id)
    page = client.get(path).text
    assert "The bundle could not be built:" in page and "recording chunk 7" in page
    again = client.post(f"/bundles/{bundle_id}/retry", data={"csrf": csrf}, follow_redirects=False)
    assert again.status_code == 303
    assert row_of(db, tenant_a, bundle_id).state == "queued"


@pytest.mark.parametrize("suffix", ["", "/status"])
def test_another_tenants_bundle_page_is_missing(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    tenant_a: Tenant,
    tenant_b: Tenant,
    suffix: str,
) -> None:
    from tests.audit.bundle_factories import bundle_factory

    theirs = bundle_factory(db, tenant_a)
    signed_in(client, db, tenant_b, ["tenant_admin"])
    assert client.get(f"/bundles/{theirs}{suffix}").status_code == 404
    assert client.get(f"/bundles/{uuid.uuid4()}{suffix}").status_code == 404
    assert client.get(f"/bundles/not-an-id{suffix}").status_code == 404
