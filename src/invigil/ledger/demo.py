"""Demo billing (``invigil demo``): tenant acme gets a price list and a
top-up before its invitations and attempts are made, so the demo's own
events are charged as any tenant's would be. Both are dated a month back,
as the demo's attempts are dated in the past (a first price list may be,
while nothing was charged). Idempotent: the price list is written only
when the tenant has none, the top-up once per reference."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.ledger import prices, service

TENANTS = ("acme",)
REFERENCE = "DEMO-TOPUP-1"
TOP_UP = 5000
BACK = timedelta(days=30)
PRICES = {
    "invitation": {"unproctored": 1, "webcam": 2, "screen": 3},
    "attempt": {"unproctored": 2, "webcam": 5, "screen": 8},
    "evidence_gb_month": 10,
    "ai_per_1k_tokens": {"*": 2},
}


def seed_billing(db: Database, tenant_id: uuid.UUID, slug: str) -> bool:
    """True when something was created."""
    if slug not in TENANTS:
        return False
    now = datetime.now(UTC)
    with db.unit_of_work(tenant_id, Actor.operator("demo")) as uow:
        created = False
        if not prices.versions(uow):
            prices.set_price_list(
                uow, PRICES, reason="demo plan", now=now, effective_from=now - BACK,
                backdate_first=True,
            )  # fmt: skip
            created = True
        done = service.credit(uow, TOP_UP, REFERENCE, now=now - BACK)
    return created or not done.replayed
