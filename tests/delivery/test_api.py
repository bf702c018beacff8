"""The delivery API over HTTP, and the candidate's landing page."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from invigil.app import create_app
from invigil.db.engine import Database
from invigil.db.urls import DatabaseUrls
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.delivery.factories import published_exam


def headers(app: FastAPI, db: Database, tenant: Tenant, role: str) -> dict[str, str]:
    return bearer(app, db, make_user(db, tenant.id, [role]))


def path_of(link: str) -> str:
    return "/take/" + link.rsplit("/take/", 1)[1]


def test_invite_list_get_revoke_rotate(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = headers(app, db, tenant_a, "exam_author")
    exam = published_exam(db, tenant_a.id)
    r = client.post(
        "/api/v1/invitations",
        json={"name": "Ann", "email": "ann@example.org", "exam": str(exam), "valid_hours": 2},
        headers=h,
    )
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["link"].startswith("http") and made["state"] == "open"
    assert made["exam_version"] == 1 and made["candidate"]["email"] == "ann@example.org"
    iid = made["id"]

    got = client.get(f"/api/v1/invitations/{iid}", headers=h).json()
    assert "link" not in got and got["id"] == iid
    listed = client.get(f"/api/v1/invitations?exam_id={exam}", headers=h).json()
    assert [i["id"] for i in listed["items"]] == [iid] and listed["next"] is None

    assert client.get(path_of(made["link"])).status_code == 200
    rotated = client.post(f"/api/v1/invitations/{iid}/rotate", headers=h)
    assert rotated.status_code == 200, rotated.text
    new_link = rotated.json()["link"]
    assert new_link != made["link"]
    assert client.get(path_of(made["link"])).status_code == 404
    assert client.get(path_of(new_link)).status_code == 200

    revoked = client.post(f"/api/v1/invitations/{iid}/revoke", headers=h)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert client.get(path_of(new_link)).status_code == 404
    again = client.post(f"/api/v1/invitations/{iid}/revoke", headers=h)
    assert again.status_code == 409
    assert client.get("/api/v1/invitations?status=revoked", headers=h).json()["items"]

    outbox = client.get("/api/v1/outbox", headers=h).json()["items"]
    assert len(outbox) == 2 and {m["status"] for m in outbox} == {"not_sent"}
    assert all("take/gl." not in m["body"] and "withheld" in m["body"] for m in outbox)
    assert outbox[0]["error"] == "not sent: SMTP not configured"


def test_invite_by_slug_and_refusals(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = headers(app, db, tenant_a, "tenant_admin")
    exam = published_exam(db, tenant_a.id, slug="api-slug-exam")
    body = {"name": "B", "email": "b@example.org", "exam": "api-slug-exam"}
    assert client.post("/api/v1/invitations", json=body, headers=h).status_code == 201
    missing = client.post("/api/v1/invitations", json=body | {"exam": "nope"}, headers=h)
    assert missing.status_code == 404
    bad = client.post("/api/v1/invitations", json=body | {"email": "nope"}, headers=h)
    assert bad.status_code == 422
    viewer = headers(app, db, tenant_a, "results_viewer")  # candidate:view only
    assert client.post("/api/v1/invitations", json=body, headers=viewer).status_code == 403
    assert client.get("/api/v1/invitations", headers=viewer).status_code == 200
    assert exam


def test_csv_import_over_http(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = headers(app, db, tenant_a, "exam_author")
    exam = published_exam(db, tenant_a.id)
    good = b"name,email\nC One,c1@example.org\nC Two,c2@example.org\n"
    r = client.post(f"/api/v1/invitations/import?exam={exam}", content=good, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["invited"] == 2 and all(i["link"] for i in r.json()["items"])
    bad = b"name,email\nD One,d1@example.org\n,d2@example.org\n"
    r = client.post(f"/api/v1/invitations/import?exam={exam}", content=bad, headers=h)
    assert r.status_code == 422
    assert r.json()["problems"][0]["line"] == 3
    emails = {
        i["candidate"]["email"]
        for i in client.get("/api/v1/invitations", headers=h).json()["items"]
    }
    assert "d1@example.org" not in emails


def test_landing_pages_for_each_state(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = headers(app, db, tenant_a, "exam_author")
    exam = published_exam(
        db,
        tenant_a.id,
        title="Landing exam",
        settings={"time_limit_minutes": 40, "proctoring_preset": "strict"},
    )
    now = datetime.now(UTC)

    def invite(**extra: object) -> str:
        body = {"name": "E", "email": f"e{len(extra)}@x.org", "exam": str(exam)} | extra
        r = client.post("/api/v1/invitations", json=body, headers=h)
        assert r.status_code == 201, r.text
        return path_of(r.json()["link"])

    valid = client.get(invite(extra_time_percent=25))
    assert valid.status_code == 200
    page = valid.text
    assert "Landing exam" in page and "50 minutes" in page and "25% extra time" in page
    assert "your screen, recorded" in page and "180 days" in page
    assert '<button type="submit">Start exam</button>' in page and ">I agree</label>" in page
    assert valid.headers["cache-control"] == "no-store"
    assert valid.headers["referrer-policy"] == "no-referrer"

    later = client.get(
        invite(
            opens_at=(now + timedelta(days=1)).isoformat(),
            closes_at=(now + timedelta(days=2)).isoformat(),
        )
    )
    assert (
        later.status_code == 200 and "not open yet" in later.text and "Start exam" not in later.text
    )

    with db.unit_of_work(tenant_a.id) as uow:
        uow.session.execute(
            text(
                "UPDATE invitations SET opens_at = now() - interval '2 days', closes_at = now() - interval '1 day' WHERE candidate_id = (SELECT id FROM candidates WHERE email = 'e1@x.org')"
            )
        )
    expired = client.get(valid.request.url.path)
    assert expired.status_code == 410 and "has expired" in expired.text


def test_dead_and_guessed_links_get_one_identical_page(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    h = headers(app, db, tenant_a, "exam_author")
    exam = published_exam(db, tenant_a.id)

    def invite(email: str) -> tuple[str, str]:
        r = client.post(
            "/api/v1/invitations", json={"name": "N", "email": email, "exam": str(exam)}, headers=h
        )
        return r.json()["id"], path_of(r.json()["link"])

    iid, revoked = invite("r@x.org")
    client.post(f"/api/v1/invitations/{iid}/revoke", headers=h)
    jid, replaced = invite("p@x.org")
    client.post(f"/api/v1/invitations/{jid}/rotate", headers=h)
    random_part = hashlib.sha256(b"guess").hexdigest()[:43]
    answers = [
        client.get(p)
        for p in (
            revoked,
            replaced,
            f"/take/gl.{tenant_a.id.hex}.{random_part}",  # a guess in a real tenant
            f"/take/gl.{tenant_b.id.hex}.{random_part}",  # in another tenant
            f"/take/gl.{'0' * 32}.{random_part}",  # in no tenant
            "/take/garbage",
            revoked.replace(tenant_a.id.hex, tenant_b.id.hex),  # a real secret, wrong tenant
        )
    ]
    assert {a.status_code for a in answers} == {404}
    assert len({a.text for a in answers}) == 1
    assert "does not work" in answers[0].text and "replaced by a newer one" in answers[0].text
    # Every answer has its own request id (for the logs); nothing else may differ.
    each = ("date", "x-request-id")
    keys = {tuple(sorted((k, v) for k, v in a.headers.items() if k not in each)) for a in answers}
    assert len(keys) == 1


# -- a GET changes nothing --------------------------------------------------------


@pytest.fixture
def committed_app(settings: Settings, database: Database) -> Iterator[TestClient]:
    app = create_app(settings, database, run_jobs=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _fingerprint(urls: DatabaseUrls) -> dict[str, str]:
    """Every row of every table, as a superuser sees them (no RLS)."""
    engine = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            tables = (
                conn.execute(
                    text(
                        "SELECT quote_ident(table_name) FROM information_schema.tables "
                        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
                    )
                )
                .scalars()
                .all()
            )
            return {
                t: str(
                    conn.execute(
                        text(
                            f"SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM {t} x"
                        )
                    ).scalar()
                )
                for t in tables
            }
    finally:
        engine.dispose()


@pytest.mark.slow
def test_opening_a_link_writes_nothing_at_all(
    committed_app: TestClient, database: Database, settings: Settings
) -> None:
    tenant = make_tenant(database, settings)
    h = bearer(committed_app.app, database, make_user(database, tenant.id, ["exam_author"]))  # type: ignore[arg-type]
    exam = published_exam(database, tenant.id)
    made = committed_app.post(
        "/api/v1/invitations", json={"name": "G", "email": "g@x.org", "exam": str(exam)}, headers=h
    ).json()
    before = _fingerprint(database.urls)
    for path in (path_of(made["link"]), path_of(made["link"]), "/take/gl.x.y"):
        assert committed_app.get(path).status_code in (200, 404)
    assert _fingerprint(database.urls) == before
    # and the check bites: a real change shows
    committed_app.post(f"/api/v1/invitations/{made['id']}/revoke", headers=h)
    assert _fingerprint(database.urls) != before
