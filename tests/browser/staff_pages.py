"""Every staff page, generated from the app's routes (like the page matrix in
tests/test_pages_matrix.py), with its ids taken from a tenant seeded with
the demo data, so a page with an id is a real page with real rows.

Used by the generated accessibility and width checks
(test_staff_pages.py) and by ``make screenshots`` (screenshots.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from invigil import demo
from invigil.audit import bundle_registry
from invigil.audit.models import AuditEvent, BundleRequest
from invigil.certification.models import Certificate, Program
from invigil.certification.models import Group as CertGroup
from invigil.content.models import Exam, Question, QuestionBank, QuestionDraft
from invigil.db import platform
from invigil.db.engine import Database
from invigil.delivery.models import Attempt, Candidate, Invitation
from invigil.identity.models import Role, User
from invigil.lti.models import LtiPlatform
from invigil.results.models import GradingMark
from invigil.retention.models import PrivacyRequest
from invigil.shortlists.models import RuleSet as ShortlistRuleSet
from invigil.shortlists.models import Run as ShortlistRun
from invigil.web.access import CANDIDATE, PUBLIC, iter_routes
from invigil.webhooks.models import WebhookDelivery, WebhookEndpoint

PARAM = re.compile(r"{([a-z_]+)}")
# GET routes behind a staff permission that answer a file, not a page.
NOT_PAGES = frozenset(
    {
        "/admin/branding/logo",  # the logo file itself
        "/metrics",  # Prometheus' scrape: a token from a file, never a staff page
        "/attempts/{attempt_id}/report.pdf",  # printed reports (PDF)
        "/exams/{exam_id}/report.pdf",
        "/authoring/banks/{bank_id}/export",
        "/authoring/questions/{question_id}/images/{image_id}",
        "/proctoring/reviews/{attempt_id}/evidence/{object_id}",
        "/proctoring/live/stream",  # the live console's event stream
        "/proctoring/live/snapshots/{snapshot_id}",  # a thumbnail of the console (a redirect)
        "/shortlists/{run_id}/export",  # a run as CSV or XLSX
        "/bundles/{bundle_id}/status",  # what the bundle page polls (JSON)
        "/certification/certificates/{certificate_id}/certificate.pdf",  # the printed certificate
        "/certification/coverage/export",  # coverage as CSV or XLSX
        "/admin/trust/report.pdf",  # the trust report downloaded (PDF, HTML)
        "/admin/trust/report.html",
        "/admin/privacy/requests/{privacy_request_id}/export",  # a person's export (ZIP)
    }
)
DEMO_TENANT = "acme"
DEMO_ADMIN = "admin@acme.test"


def staff_get_routes(app: FastAPI) -> list[str]:
    """Every GET route a signed-in staff member reaches in a browser."""
    return sorted(
        {
            r.path
            for r in iter_routes(app.routes)
            if "GET" in r.methods
            and not r.path.startswith("/api/")
            and r.permissions
            and r.permissions[0] not in (PUBLIC, CANDIDATE)
        }
    )


# One real row per path parameter, from the demo tenant: its admin, a role,
# the latest audit entry, the demo bank, a question, ``standard-demo``, an
# invitation, a submitted attempt, a webhook endpoint and delivery. A new
# parameter needs a line here.
ID_QUERIES: dict[str, Any] = {
    # The demo bank's AI draft (content.drafting.demo_draft).
    "draft_id": lambda: select(QuestionDraft.id).order_by(QuestionDraft.created_at),
    "user_id": lambda: select(User.id).where(User.email == DEMO_ADMIN),
    "role_id": lambda: select(Role.id).order_by(Role.name),
    "event_id": lambda: select(AuditEvent.id).order_by(AuditEvent.seq.desc()),
    "bank_id": lambda: select(QuestionBank.id).order_by(QuestionBank.created_at),
    "question_id": lambda: select(Question.id).order_by(Question.created_at),
    "exam_id": lambda: select(Exam.id).where(Exam.slug == "standard-demo"),
    "invitation_id": lambda: select(Invitation.id).order_by(Invitation.created_at),
    "attempt_id": lambda: (
        select(Attempt.id).where(Attempt.submitted_at.is_not(None)).order_by(Attempt.submitted_at)
    ),
    # A marked answer of essay-demo (the grading pages: attempt and slot of one mark).
    "attempt": lambda: select(GradingMark.attempt_id).order_by(GradingMark.id),
    "slot": lambda: select(GradingMark.slot).order_by(GradingMark.id),
    # The demo shortlist (shortlists/demo.py): its rule set and its run.
    "rule_set_id": lambda: select(ShortlistRuleSet.id).order_by(ShortlistRuleSet.created_at),
    "run_id": lambda: select(ShortlistRun.id).order_by(ShortlistRun.created_at),
    # The demo's webhook endpoint and its test event (webhooks/demo.py).
    "endpoint_id": lambda: select(WebhookEndpoint.id).order_by(WebhookEndpoint.created_at),
    "delivery_id": lambda: select(WebhookDelivery.id).order_by(WebhookDelivery.created_at),
    # The demo's first certification group by name (certification/coverage_demo.py).
    "group_id": lambda: select(CertGroup.id).order_by(CertGroup.name),
    # The evidence bundle the demo admin asked for (demo.seed_bundle).
    "bundle_id": lambda: select(BundleRequest.id).order_by(BundleRequest.created_at),
    # The demo certification programs and a certificate (certification/demo.py).
    "program_id": lambda: select(Program.id).order_by(Program.name),
    "certificate_id": lambda: select(Certificate.id).order_by(Certificate.status_index),
    # The demo's access request (retention/demo.py).
    "privacy_request_id": lambda: select(PrivacyRequest.id).order_by(PrivacyRequest.created_at),
    # The demo's learning platform (lti/demo.py).
    "platform_id": lambda: select(LtiPlatform.id).order_by(LtiPlatform.created_at),
    # A candidate of the demo (their portal links page).
    "candidate_id": lambda: select(Candidate.id).order_by(Candidate.created_at, Candidate.id),
    # The latest submitted attempt: another than attempt_id's (the earliest).
    "last_attempt_id": lambda: (
        select(Attempt.id)
        .where(Attempt.submitted_at.is_not(None))
        .order_by(Attempt.submitted_at.desc())
    ),
}
# Pages that take their ids in the query, and the query each is shown with.
QUERIES: dict[str, Callable[[dict[str, str]], str]] = {
    "/results/compare": lambda ids: (
        f"?attempt={ids['attempt_id']}&attempt={ids['last_attempt_id']}"
    ),
}


def seed_demo(db: Database, regions: tuple[str, ...], kit: Any) -> None:
    """``demo.seed``; when this server builds no attempt bundles (the builder
    is the results domain's), a test builder stands in while seeding, so
    that the demo asks for its bundle and the bundle page has a row."""
    saved = bundle_registry.registered()
    if not bundle_registry.buildable("attempt"):
        from tests.audit.bundle_factories import Shape, sample_builder

        bundle_registry.register("attempt", sample_builder(Shape()))
    try:
        demo.seed(db, regions=regions, kit=kit)
    finally:
        bundle_registry.restore(saved)


def demo_ids(db: Database, slug: str = DEMO_TENANT) -> dict[str, str]:
    """One real id per path parameter (:data:`ID_QUERIES`) from the demo tenant."""
    ref = platform.tenant_by_slug(db, slug)
    assert ref is not None, f"seed the demo data first (tenant {slug!r})"
    ids = {}
    with db.unit_of_work(ref.id) as uow:
        for param, query in ID_QUERIES.items():
            found = uow.session.scalar(query().limit(1))
            assert found is not None, f"the demo tenant has no row for {param}"
            ids[param] = str(found)
    return ids


def staff_pages(app: FastAPI, ids: dict[str, str]) -> list[tuple[str, str]]:
    """(route, url) for every staff page; fails on a parameter with no id."""
    pages = []
    for route in staff_get_routes(app):
        if route in NOT_PAGES:
            continue
        missing = set(PARAM.findall(route)) - set(ids)
        assert not missing, f"{route}: add an id for {sorted(missing)} to demo_ids()"
        query = QUERIES[route](ids) if route in QUERIES else ""
        pages.append((route, PARAM.sub(lambda m: ids[m.group(1)], route) + query))
    return pages


def shot_name(route: str) -> str:
    """A file name for a route: /delivery/attempts/{attempt_id} -> delivery-attempts-attempt."""
    name = PARAM.sub(lambda m: m.group(1).removesuffix("_id"), route).strip("/")
    return re.sub(r"[^a-z0-9]+", "-", name) or "root"
