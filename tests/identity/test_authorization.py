"""Authorization generated from the app itself: every route x every built-in
role, and every route that takes an id x another tenant's id. A new route is
covered without anyone writing a test for it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.db.engine import Database
from invigil.identity import service
from invigil.security.permissions import BUILTIN_ROLES
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from invigil.web.access import CANDIDATE, OPERATOR, PUBLIC, RouteInfo, iter_routes
from tests.audit.bundle_factories import bundle_factory
from tests.certification import factories as certification
from tests.certification import id_factories as certification_ids
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.content import factories as content
from tests.content.draft_factories import draft_factory
from tests.content.image_factories import image_factory
from tests.delivery import factories as delivery
from tests.evidence import factories as evidence
from tests.proctoring import factories as proctoring_factories
from tests.retention import factories as retention
from tests.shortlists import factories as shortlists
from tests.webhooks import factories as webhooks

PARAM = re.compile(r"{([a-z_]+)}")


def api_routes(app: FastAPI) -> list[tuple[RouteInfo, str]]:
    """The bearer-token API (pages use a session cookie: see test_pages_matrix)."""
    return [
        (r, m)
        for r in iter_routes(app.routes)
        for m in sorted(r.methods)
        if m != "HEAD"
        and r.path.startswith("/api/")
        and r.permissions
        and r.permissions[0] not in (PUBLIC, CANDIDATE, OPERATOR)  # the operator's: tests/ledger
    ]


def fill(path: str, values: dict[str, str] | None = None) -> str:
    return PARAM.sub(lambda m: (values or {}).get(m.group(1), str(uuid.uuid4())), path)


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> int:
    kwargs: dict[str, object] = {"headers": headers}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}
    return client.request(method, path, **kwargs).status_code  # type: ignore[arg-type]


def test_every_protected_route_is_in_the_matrix(app: FastAPI) -> None:
    assert len(api_routes(app)) >= 20  # the walk finds the API, not an empty list


@pytest.mark.parametrize("role", sorted(BUILTIN_ROLES))
def test_every_route_allows_or_denies_exactly_as_the_role_table_says(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, role: str
) -> None:
    headers = bearer(app, db, make_user(db, tenant_a.id, [role]))
    granted = {p.value for p in BUILTIN_ROLES[role]}
    wrong = []
    for route, method in api_routes(app):
        status = call(client, method, fill(route.path), headers)
        allowed = route.permissions[0] in granted
        if (allowed and status in (401, 403)) or (not allowed and status != 403):
            wrong.append(f"{method} {route.path} ({route.permissions[0]}): {status}")
    assert wrong == []


def test_no_token_is_refused_everywhere(app: FastAPI, client: TestClient) -> None:
    wrong = [
        f"{m} {r.path}"
        for r, m in api_routes(app)
        if client.request(m, fill(r.path)).status_code != 401
    ]
    assert wrong == []


# One way to make a real object of tenant A for each kind of id a route takes.
# A route with a new kind of id fails the test below until a factory is added.
def _user(db: Database, tenant: Tenant) -> str:
    return str(make_user(db, tenant.id, ["grader"]).id)


def _role(db: Database, tenant: Tenant) -> str:
    with db.unit_of_work(tenant.id) as uow:
        role = service.create_role(
            uow, name=f"r_{uuid.uuid4().hex[:8]}", description="", permissions=["exam:view"]
        )
        return str(role.id)


def _lti_platform(db: Database, tenant: Tenant) -> str:
    from tests.lti.factories import lti_platform

    return lti_platform(db, tenant)


def _lti_link(db: Database, tenant: Tenant) -> str:
    from tests.lti.factories import lti_link

    return lti_link(db, tenant)


def _audit_event(db: Database, tenant: Tenant) -> str:
    from invigil import audit

    with db.unit_of_work(tenant.id) as uow:
        return str(audit.record(uow, "test.made", ("test", "1")).id)


def _transfer(db: Database, tenant: Tenant) -> str:
    from datetime import UTC, datetime

    from invigil.db.uow import Actor
    from invigil.ledger import service as ledger

    with db.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        done = ledger.credit(uow, 1, f"T-{uuid.uuid4().hex[:12]}", now=datetime.now(UTC))
        return str(done.id)


def _privacy_request(db: Database, tenant: Tenant) -> str:
    from invigil.delivery.models import Attempt
    from invigil.retention import requests

    attempt_id = delivery.attempt_factory(db, tenant)
    with db.unit_of_work(tenant.id) as uow:
        attempt = uow.get(Attempt, uuid.UUID(attempt_id), label="attempt")
        made = requests.receive(uow, candidate_id=attempt.candidate_id, kind="access")
        return str(made.id)


FACTORIES: dict[str, Callable[[Database, Tenant], str]] = {
    "user_id": _user,
    "platform_id": _lti_platform,
    "link_id": _lti_link,
    "role_id": _role,
    "event_id": _audit_event,
    "bank_id": content.bank_factory,
    "question_id": content.question_factory,
    "draft_id": draft_factory,
    "exam_id": content.exam_factory,
    "image_id": image_factory,
    "object_id": evidence.object_factory,
    "invitation_id": delivery.invitation_factory,
    "attempt_id": delivery.attempt_factory,
    "attempt": delivery.attempt_factory,  # the grading pages' response: attempt and slot
    "slot": lambda db, tenant: "9999",
    "position_id": shortlists.position_factory,
    "rule_set_id": shortlists.rule_set_factory,
    "run_id": shortlists.run_factory,
    "endpoint_id": webhooks.endpoint_factory,
    "delivery_id": webhooks.delivery_factory,
    "bundle_id": bundle_factory,
    "certificate_id": certification.certificate_factory,
    "group_id": certification.group_factory,
    "candidate_id": certification.candidate_factory,
    "program_id": certification_ids.program_factory,
    "approval_id": certification_ids.approval_factory,
    "transfer_id": _transfer,
    "hold_id": retention.hold_factory,
    "privacy_request_id": _privacy_request,
    "snapshot_id": proctoring_factories.snapshot_factory,
}


@pytest.mark.slow
def test_another_tenants_ids_answer_exactly_like_missing_ones(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, settings: Settings
) -> None:
    tenant_b = make_tenant(db, settings)
    intruder = bearer(app, db, make_user(db, tenant_b.id, ["tenant_admin"]))
    routes = [(r, m) for r, m in api_routes(app) if PARAM.search(r.path)]
    assert routes
    unknown = {p for r, _ in routes for p in PARAM.findall(r.path)} - set(FACTORIES)
    assert unknown == set(), f"add a factory for {unknown}"
    checked = 0
    for route, method in routes:
        real = {p: FACTORIES[p](db, tenant_a) for p in PARAM.findall(route.path)}
        missing = {p: str(uuid.uuid4()) for p in real}
        kwargs: dict[str, object] = {"headers": intruder}
        if method in ("POST", "PUT", "PATCH"):
            kwargs["json"] = _valid_body(route.path, method)
        theirs = client.request(method, fill(route.path, real), **kwargs)  # type: ignore[arg-type]
        absent = client.request(method, fill(route.path, missing), **kwargs)  # type: ignore[arg-type]
        assert theirs.status_code == absent.status_code == 404, (method, route.path, theirs.text)
        scrub = theirs.text
        for p in real:
            scrub = scrub.replace(real[p], "ID")
        other = absent.text
        for p in missing:
            other = other.replace(missing[p], "ID")
        assert scrub == other, (method, route.path)
        checked += 1
    assert checked == len(routes)


def _valid_body(path: str, method: str) -> dict[str, object]:
    """A body that passes validation, so the 404 comes from the lookup itself."""
    if path.endswith("/roles") and method == "PUT":
        return {"roles": ["grader"]}
    if path.endswith("/roster-sync"):
        return {"send_mail": False}
    if path.startswith("/api/v1/lti/platforms/") and "/links/" in path:
        return {"exam_id": None}
    if path.startswith("/api/v1/lti/platforms/") and method == "PUT":
        url = "https://lms.example.org/x"
        return {"name": "x", "issuer": url, "client_id": "x", "deployment_ids": ["1"],
                "jwks_url": url, "auth_login_url": url, "token_url": url}  # fmt: skip
    if "/roles/" in path and method == "PATCH":
        return {"description": "x"}
    if path.endswith("/translations") and method == "POST":
        return {"language": "de", "prompt": "x"}
    if path.startswith("/api/v1/banks/") and path.endswith("/drafts"):
        return {"topic": "photosynthesis", "types": ["true_false"]}
    if path.startswith("/api/v1/drafts/") and path.endswith("/accept"):
        return dict(content.SAMPLES["single_choice"])
    if path.endswith("/live-proctors"):
        return {"user_ids": []}
    if "/live/" in path:  # live monitoring's steps
        if path.endswith("/messages"):
            return {"text": "x"}
        if path.endswith("/time"):
            return {"minutes": 5, "reason": "x"}
        return {} if path.endswith("/resume") else {"reason": "x"}
    if path.endswith("/moderation"):
        return {"total": "1", "reason": "x"}
    if path.endswith("/regrades"):
        return {"reason": "x"}
    if path.endswith("/suggestions/discard"):
        return {"suggestion_id": str(uuid.uuid4())}
    if path.startswith("/api/v1/privacy/requests/") and path.endswith("/erase"):
        return {"reason": "x", "confirm": True}
    if path.startswith("/api/v1/privacy/requests/") and path.endswith("/refuse"):
        return {"reason": "x"}
    if path.startswith("/api/v1/privacy/requests/") and path.endswith("/complete"):
        return {"outcome": "x"}
    if path.endswith("/void"):
        return {"reason": "duplicate"}
    if path.startswith("/api/v1/retention/holds/") and path.endswith("/lift"):
        return {"reason": "settled"}
    if path.endswith("/decisions/bulk"):
        return {"flags": [], "decision": "dismissed", "reason": "x"}
    if path.endswith("/result-link"):
        return {"action": "revoke"}
    if path.startswith("/api/v1/exams/") and path.endswith("/releases"):
        return {"all_final": True}
    if path.startswith("/api/v1/shortlist-positions/"):
        return {"name": "x", "exam_ids": [str(uuid.uuid4())]}
    if path.startswith("/api/v1/certification/groups/") and path.endswith("/requirements"):
        return {"program_ids": []}
    if (
        path.startswith("/api/v1/certification/groups/")
        and method == "PUT"
        and path.count("/") == 5
    ):
        return {"name": "x", "kind": "team"}
    if path.endswith("/stage"):
        return {"stage": "interview"}
    if path.startswith("/api/v1/certification-programs/") and path.endswith("/versions"):
        return {"definition": {"exam_ids": [str(uuid.uuid4())]}}
    if path.startswith("/api/v1/certificates/") and path.endswith("/state"):
        return {"action": "suspend", "reason": "x"}
    if path.startswith("/api/v1/certification-approvals/") and path.endswith("/reject"):
        return {"reason": "x"}
    return {}
