"""Demo data for LTI: one registered learning platform per demo tenant, at
addresses that never resolve (``.invalid``), so the learning platforms page
shows what an LMS administrator types in. Idempotent."""

from __future__ import annotations

import uuid

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.lti import platforms
from invigil.settings import get_settings

BASE = "https://lms.example.invalid"


def seed_platforms(db: Database, tenant_id: uuid.UUID) -> bool:
    """True when something was created."""
    with db.unit_of_work(tenant_id, Actor.operator("demo")) as uow:
        if platforms.listed(uow):
            return False
        platforms.create(
            uow,
            get_settings(),
            platforms.Values(
                name="Course platform (demo)",
                issuer=BASE,
                client_id="invigil-demo",
                deployment_ids=["1"],
                jwks_url=f"{BASE}/mod/lti/certs.php",
                auth_login_url=f"{BASE}/mod/lti/auth.php",
                token_url=f"{BASE}/mod/lti/token.php",
                instructor_role="exam_author",
            ),
        )
    return True
