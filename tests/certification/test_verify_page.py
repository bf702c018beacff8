"""The public verification page: minimal disclosure, each status looking
different, every case costing the same statements, and the rate limit."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event

from invigil.certification import lifecycle, verify
from invigil.delivery.models import Candidate
from invigil.settings import Settings
from invigil.web.public_limits import RateLimiter
from tests.certification.factories import NOW, certificate, holder, program
from tests.conftest import BoundDatabase, make_tenant


@dataclass
class Made:
    tenant_id: uuid.UUID
    issuer: str
    ids: dict[str, uuid.UUID]


def _made(db: BoundDatabase, settings: Settings) -> Made:
    tenant = make_tenant(db, settings)
    _, long = program(
        db, tenant.id, name="Forklift Safety", validity_months=120,
        description="Operates a counterbalance forklift safely.",
    )  # fmt: skip
    _, short = program(db, tenant.id, name="Ladder Basics", validity_months=1)
    ids = {
        "valid": certificate(db, tenant.id, long, holder(db, tenant.id, "Vera Valid")),
        "suspended": certificate(db, tenant.id, long, holder(db, tenant.id, "Sam Suspended")),
        "revoked": certificate(db, tenant.id, long, holder(db, tenant.id, "Rita Revoked")),
        "expired": certificate(db, tenant.id, short, holder(db, tenant.id, "Ed Expired")),
    }
    with db.unit_of_work(tenant.id) as uow:
        later = NOW + timedelta(days=1)
        lifecycle.change_state(uow, ids["suspended"], "suspended", "under review", now=later)
        lifecycle.change_state(uow, ids["revoked"], "revoked", "obtained by fraud", now=later)
    return Made(tenant.id, tenant.name, ids)


@pytest.fixture
def made(db: BoundDatabase, settings: Settings) -> Made:
    return _made(db, settings)


@pytest.fixture
def fresh(app: FastAPI) -> FastAPI:
    """No reuse of earlier lookups, no rate limit in the way."""
    app.state.verify_recent = verify.Recent(0)
    app.state.public_limiter = RateLimiter(1_000_000, 1_000_000, 100)
    return app


def test_each_status_looks_different_and_shows_the_minimum(
    fresh: FastAPI, client: TestClient, db: BoundDatabase, made: Made
) -> None:
    headings = {
        "valid": "Valid", "suspended": "Suspended", "revoked": "Revoked", "expired": "Expired",
    }  # fmt: skip
    seen = set()
    for status, cert_id in made.ids.items():
        r = client.get(f"/verify/{cert_id}")
        assert r.status_code == 200, (status, r.text[:300])
        assert f'class="verdict {status}"' in r.text
        assert f'<h2 id="verdict-h">{headings[status]}</h2>' in r.text
        assert made.issuer in r.text
        assert f'href="/credentials/{cert_id}?format=json"' in r.text
        assert f'href="/credentials/{cert_id}"' in r.text
        # The headers: never cached, never indexed, never a referrer.
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-robots-tag"] == "noindex, nofollow"
        assert r.headers["referrer-policy"] == "no-referrer"
        with db.unit_of_work(made.tenant_id) as uow:
            from invigil.certification.models import Certificate

            cert = uow.get(Certificate, cert_id)
            person = uow.get(Candidate, cert.holder_id)
            assert person.name in r.text
            # Minimal disclosure: no email, no number, no results.
            assert person.email not in r.text and cert.number not in r.text
        seen.add(re.sub(r"<h1>.*?</h1>", "", r.text.split('class="verdict', 1)[1][:60]))
    valid = client.get(f"/verify/{made.ids['valid']}").text
    assert "Forklift Safety" in valid and "Operates a counterbalance forklift safely." in valid
    assert len(seen) == 4  # four different verdict boxes


def test_unknown_and_malformed_ids_answer_one_identical_404(
    fresh: FastAPI, client: TestClient, made: Made
) -> None:
    bodies = []
    for wrong in (uuid.uuid4(), "not-a-uuid", "x" * 300, "C-2026-000001", uuid.UUID(int=0)):
        r = client.get(f"/verify/{wrong}")
        assert r.status_code == 404
        assert 'class="verdict unknown"' in r.text and "/credentials/" not in r.text
        assert r.headers["cache-control"] == "no-store"
        bodies.append(r.text)
    assert len(set(bodies)) == 1
    # Another tenant's certificate is as unknown as a missing one only when it
    # does not exist: ids are global, so a real id shows (that is the point).
    assert client.get(f"/verify/{made.ids['valid']}").status_code == 200


class Statements:
    """The SQL statements the app sends, their shape only (no values)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # Savepoints (the test's transaction) are numbered: the shape is not.
        self.seen.append(re.sub(r"sa_savepoint_\d+", "sa_savepoint", " ".join(statement.split())))


@pytest.fixture
def statements(db: BoundDatabase) -> Iterator[Statements]:
    listener = Statements()
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield listener
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


def test_every_case_runs_the_same_statements_in_the_same_order(
    fresh: FastAPI, client: TestClient, made: Made, statements: Statements, db: BoundDatabase,
    settings: Settings,
) -> None:  # fmt: skip
    other = _made(db, settings)  # a second tenant: its certificates cost the same too
    cases: dict[str, str] = {k: str(v) for k, v in made.ids.items()}
    cases |= {f"other {k}": str(v) for k, v in other.ids.items()}
    cases |= {
        "unknown": str(uuid.uuid4()),
        "malformed": "C-2026-000001",
        "nil": str(uuid.UUID(int=0)),
    }
    shapes = {}
    for case, raw in cases.items():
        statements.seen.clear()
        client.get(f"/verify/{raw}")
        shapes[case] = list(statements.seen)
    first = shapes["valid"]
    # The platform lookup, then the tenant-bound query (plus the transaction's
    # own statements around them): nothing else.
    assert any("platform_certificate_tenant" in s for s in first)
    assert any("FROM certificates c" in s for s in first)
    assert [s for s in first if "platform_certificate_tenant" in s or "certificates c" in s] == [
        "SELECT platform_certificate_tenant(%(id)s)",
        next(s for s in first if "FROM certificates c" in s),
    ]
    assert len(first) <= 8, first
    assert {case: shape for case, shape in shapes.items() if shape != first} == {}


def test_a_revocation_shows_once_the_reuse_ends_and_an_expiry_at_once(
    db: BoundDatabase, made: Made
) -> None:
    clock = [100.0]
    recent = verify.Recent(10, clock=lambda: clock[0])
    now = datetime.now(UTC)
    assert recent.get(db, made.ids["valid"], now).status == "valid"
    with db.unit_of_work(made.tenant_id) as uow:
        lifecycle.change_state(uow, made.ids["valid"], "revoked", "withdrawn", now=now)
    clock[0] += 9
    assert recent.get(db, made.ids["valid"], now).status == "valid"  # kept 10 s at most
    clock[0] += 1
    assert recent.get(db, made.ids["valid"], now).status == "revoked"
    # An expiry passing while a lookup is kept shows at once (computed on use).
    suspended = recent.get(db, made.ids["suspended"], now)
    assert suspended.status == "suspended" and suspended.expires_at is not None
    later = suspended.expires_at + timedelta(seconds=1)
    assert recent.get(db, made.ids["suspended"], later).status == "expired"
    assert verify.Recent(10, size=2, clock=lambda: clock[0])._kept == {}


def test_the_reuse_is_bounded(db: BoundDatabase, made: Made) -> None:
    recent = verify.Recent(10, size=3)
    for _ in range(5):
        recent.get(db, uuid.uuid4(), datetime.now(UTC))
    assert len(recent._kept) == 3


def test_status_of_follows_the_state_and_the_date() -> None:
    at = datetime(2026, 5, 1, tzinfo=UTC)
    assert verify.status_of("issued", None, at) == "valid"
    assert verify.status_of("issued", at, at) == "expired"
    assert verify.status_of("suspended", at + timedelta(days=1), at) == "suspended"
    assert verify.status_of("revoked", at + timedelta(days=1), at) == "revoked"
    assert verify.status_of("revoked", at - timedelta(days=1), at) == "revoked"
    assert verify.status_of("expired", None, at) == "expired"


@pytest.mark.parametrize(
    ("lang", "direction", "words"),
    [
        ("de", "ltr", "Gültig"),
        ("es", "ltr", "Válido"),
        ("fr", "ltr", "Valide"),
        ("ar", "rtl", "صالحة"),
    ],
)
def test_the_page_speaks_the_verifiers_language(
    fresh: FastAPI, client: TestClient, made: Made, lang: str, direction: str, words: str
) -> None:
    r = client.get(f"/verify/{made.ids['valid']}?lang={lang}")
    assert f'<html lang="{lang}" dir="{direction}">' in r.text
    assert words in r.text
    browser = client.get(f"/verify/{made.ids['valid']}", headers={"Accept-Language": lang})
    assert words in browser.text


def test_the_issuers_logo_is_served_for_a_known_certificate_only(
    fresh: FastAPI, client: TestClient, db: BoundDatabase, made: Made
) -> None:
    from invigil.tenants import branding
    from tests.tenants.test_branding import logo_png

    with db.unit_of_work(made.tenant_id) as uow:
        branding.set_logo(uow, logo_png())
    page = client.get(f"/verify/{made.ids['valid']}")
    src = re.search(r'<img src="(/verify/[^"]+/logo\?v=[0-9a-f]+)"', page.text)
    assert src is not None
    logo = client.get(src.group(1))
    assert logo.status_code == 200 and logo.headers["content-type"] == "image/png"
    assert client.get(f"/verify/{uuid.uuid4()}/logo").status_code == 404


def test_public_routes_are_limited_per_address(fresh: FastAPI, client: TestClient) -> None:
    fresh.state.public_limiter = RateLimiter(60, 3, 100)
    wrong = str(uuid.uuid4())
    assert [client.get(f"/verify/{wrong}").status_code for _ in range(3)] == [404] * 3
    program_ = client.get(f"/verify/{wrong}", headers={"Accept": "application/json"})
    assert program_.status_code == 429
    assert program_.headers["content-type"].startswith("application/problem+json")
    assert program_.json()["status"] == 429 and int(program_.headers["retry-after"]) >= 1
    person = client.get(f"/verify/{wrong}", headers={"Accept": "text/html"})
    assert person.status_code == 429 and "Too many requests" in person.text
    assert int(person.headers["retry-after"]) >= 1


def test_the_page_shows_a_revocation_once_the_reuse_ends(
    app: FastAPI, client: TestClient, db: BoundDatabase, made: Made
) -> None:
    clock = [50.0]
    app.state.verify_recent = verify.Recent(10, clock=lambda: clock[0])
    app.state.public_limiter = RateLimiter(1_000_000, 1_000_000, 100)
    cert_id = made.ids["valid"]
    assert 'class="verdict valid"' in client.get(f"/verify/{cert_id}").text
    with db.unit_of_work(made.tenant_id) as uow:
        lifecycle.change_state(uow, cert_id, "revoked", "withdrawn", now=datetime.now(UTC))
    clock[0] += 5
    assert 'class="verdict valid"' in client.get(f"/verify/{cert_id}").text  # reused
    clock[0] += 5
    page = client.get(f"/verify/{cert_id}")
    assert page.status_code == 200 and 'class="verdict revoked"' in page.text
