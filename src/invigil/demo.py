"""Demo data (``invigil demo``, README.md): tenants acme and globex, each with
``admin@<slug>.test`` (tenant_admin) and one user per built-in role
(``<role>@<slug>.test``), a question bank of every question type and one
published exam per proctoring preset (practice-demo, standard-demo,
strict-demo, high-stakes-demo), and a few candidates invited to
standard-demo, and (in acme) an essay exam, essay-demo, with a graded
cohort and answers waiting for graders (results/demo.py), a shortlist
for a "Support engineer" position over that cohort (shortlists/demo.py),
certification groups whose members' certificates cover, expire soon, are in
grace or have lapsed (certification/demo.py), a price list and a top-up in
acme, so that its invitations and attempts are charged (ledger/demo.py), and
a webhook endpoint with a test event in its delivery log (webhooks/demo.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import select

from invigil.ai.demo import seed_ai_calls
from invigil.audit import bundle_registry, bundle_requests
from invigil.audit.models import BundleRequest
from invigil.certification.coverage_demo import seed_coverage
from invigil.certification.demo import seed_programs
from invigil.content.demo import seed_content
from invigil.db import platform
from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.delivery.demo import seed_attempts, seed_invitations, seed_void
from invigil.delivery.invitations import Kit
from invigil.delivery.models import Attempt
from invigil.identity import service as identity
from invigil.ledger.demo import seed_billing
from invigil.lti.demo import seed_platforms
from invigil.results.demo import EXAM as GRADING_EXAM
from invigil.results.demo import TENANTS as GRADING_TENANTS
from invigil.results.demo import seed_grading
from invigil.retention.demo import seed_privacy_requests
from invigil.security.passwords import verify_password
from invigil.security.permissions import BUILTIN_ROLES
from invigil.shortlists.demo import seed_shortlist
from invigil.tenants import service as tenants
from invigil.webhooks.demo import seed_webhooks

DEFAULT_PASSWORD = "invigil-demo-password"  # noqa: S105 - printed to the user on purpose
DEMO_TENANTS = (
    ("acme", "Acme Assessments", "eu-central"),
    ("globex", "Globex Certification", "us-east"),
)


@dataclass
class DemoResult:
    password: str
    tenants: dict[str, list[str]] = field(default_factory=dict)
    exams: dict[str, list[str]] = field(default_factory=dict)
    created: bool = False


def seed(
    db: Database,
    *,
    regions: tuple[str, ...],
    password: str = DEFAULT_PASSWORD,
    kit: Kit | None = None,
) -> DemoResult:
    """Create what is missing; running it twice changes nothing. ``kit``
    issues the demo invitations' links (default: from the process settings)."""
    if kit is None:
        from invigil.settings import get_settings

        kit = Kit.from_settings(get_settings())
    result = DemoResult(password=password)
    actor = Actor.operator("demo")
    for slug, name, region in DEMO_TENANTS:
        ref = platform.tenant_by_slug(db, slug)
        if ref is None:
            tenant = tenants.create_tenant(
                db, slug=slug, name=name, region=region, regions=regions, actor=actor
            )
            tenant_id = tenant.id
            result.created = True
        else:
            tenant_id = ref.id
        accounts = [("admin", "tenant_admin")] + [(role, role) for role in BUILTIN_ROLES]
        emails = []
        with db.unit_of_work(tenant_id, actor) as uow:
            identity.ensure_builtin_roles(uow)  # roles added since the tenant was made
            for local, role in accounts:
                email = f"{local}@{slug}.test"
                emails.append(email)
                if identity.find_by_email(uow, email) is None:
                    identity.create_user(
                        uow,
                        email=email,
                        roles=[role],
                        password=password,
                        display_name=f"{local.replace('_', ' ').title()} ({name})",
                    )
                    result.created = True
        result.tenants[slug] = emails
        billed = seed_billing(db, tenant_id, slug)  # before anything it charges
        content = seed_content(db, tenant_id)
        result.exams[slug] = sorted(content.exams)
        invited = seed_invitations(db, tenant_id, slug, kit)
        finished = seed_attempts(db, tenant_id, slug, kit)
        voided = seed_void(db, tenant_id, slug, kit)
        graded = seed_grading(db, tenant_id, slug, kit)
        shortlisted = seed_shortlist(db, tenant_id, slug)
        certified = seed_programs(db, tenant_id, slug)
        covered = seed_coverage(db, tenant_id, slug)
        bundled = seed_bundle(db, tenant_id, f"admin@{slug}.test")
        hooked = seed_webhooks(db, tenant_id, kit.box)
        seed_platforms(db, tenant_id)
        ai_calls = _seed_ai_calls(db, tenant_id, slug)
        privacy = seed_privacy_requests(db, tenant_id)
        if slug in GRADING_TENANTS:
            result.exams[slug] = sorted({*result.exams[slug], GRADING_EXAM})
        result.created = (
            result.created
            or content.created
            or invited
            or finished
            or graded
            or shortlisted
            or covered
            or certified
            or hooked
            or bundled
            or billed
            or ai_calls
            or voided
            or privacy
        )
    return result


def _seed_ai_calls(db: Database, tenant_id: uuid.UUID, slug: str) -> bool:
    """The demo's past AI calls, by its grader (ai/demo.py)."""
    with db.unit_of_work(tenant_id, Actor.operator("demo")) as uow:
        grader = identity.find_by_email(uow, f"grader@{slug}.test")
        if grader is None:
            return False
        grader_id = str(grader.id)
    return seed_ai_calls(db, tenant_id, slug, grader=grader_id)


def seed_bundle(db: Database, tenant_id: uuid.UUID, admin_email: str) -> bool:
    """The admin asks for an evidence bundle of the first submitted attempt
    (the worker of ``invigil serve`` builds it), when this server builds
    attempt bundles and none was asked for yet (idempotent)."""
    if not bundle_registry.buildable("attempt"):
        return False
    with db.unit_of_work(tenant_id, Actor.operator("demo")) as uow:
        if uow.scalar(select(BundleRequest.id).limit(1)) is not None:
            return False
        attempt_id = uow.scalar(
            select(Attempt.id)
            .where(Attempt.submitted_at.is_not(None))
            .order_by(Attempt.submitted_at, Attempt.id)
            .limit(1)
        )
        admin = identity.find_by_email(uow, admin_email)
        if attempt_id is None or admin is None:
            return False
        uow.actor = Actor("user", str(admin.id))
        bundle_requests.request(uow, "attempt", attempt_id, with_evidence=True)
    return True


@dataclass(frozen=True)
class SignInHint:
    """How to sign in to one demo tenant, as the database holds it now."""

    tenant: str
    email: str
    password: str | None  # None: no longer the one seeded (changed, or seeded with another)
    needs_code: bool  # an authenticator was set up since


def sign_in_hints(
    db: Database, password: str = DEFAULT_PASSWORD, slugs: tuple[str, ...] | None = None
) -> list[SignInHint]:
    """For each demo tenant present, its admin account and whether ``password``
    still opens it (checked against the stored hash): the start-up banner
    then says only what is true for every tenant, on every start."""
    out = []
    for slug in slugs if slugs is not None else tuple(s for s, _, _ in DEMO_TENANTS):
        ref = platform.tenant_by_slug(db, slug)
        if ref is None:
            continue
        email = f"admin@{slug}.test"
        with db.unit_of_work(ref.id, Actor.operator("demo")) as uow:
            user = identity.find_by_email(uow, email)
            if user is None or user.status != "active":
                continue
            works = verify_password(user.password_hash, password)
            code = user.totp_enabled_at is not None
        out.append(SignInHint(slug, email, password if works else None, code))
    return out
