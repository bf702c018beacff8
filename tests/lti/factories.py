"""Learning platform registrations and resource links for the route walkers."""

from __future__ import annotations

import uuid

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.lti.models import LtiLink, LtiPlatform
from invigil.security.tokens import new_secret
from invigil.tenants.models import Tenant


def lti_platform(db: Database, tenant: Tenant) -> str:
    """A registration written directly (its URLs are not fetched)."""
    with db.unit_of_work(tenant.id, Actor.operator()) as uow:
        row = LtiPlatform(
            tenant_id=tenant.id, id=uuid.uuid4(), name="LMS",
            public_key=new_secret("lti", tenant.id), issuer="https://lms.example.org",
            client_id=f"c-{uuid.uuid4().hex[:8]}", deployment_ids=["1"],
            jwks_url="https://lms.example.org/jwks", auth_login_url="https://lms.example.org/auth",
            token_url="https://lms.example.org/token",
        )  # fmt: skip
        uow.add(row)
        uow.flush()
        return str(row.id)


def lti_link(db: Database, tenant: Tenant) -> str:
    platform_id = uuid.UUID(lti_platform(db, tenant))
    with db.unit_of_work(tenant.id) as uow:
        link = LtiLink(tenant_id=tenant.id, id=uuid.uuid4(), platform_id=platform_id,
                       resource_link_id=f"rl-{uuid.uuid4().hex[:6]}")  # fmt: skip
        uow.add(link)
        uow.flush()
        return str(link.id)
