"""Demo AI calls (``invigil demo``), recorded without a provider.

Tenant acme gets the usage records of two past calls, as if its provider
had been asked: suggested marks for a grader, and suggested marks that
timed out (recorded, nothing charged). (The demo's question draft brings
its own call's record: ``invigil.content.drafting.demo_draft``.) The
records and their charges are written through the same code as real calls
(``invigil.ai.usage.record``), so the billing history, the statement and
``invigil ledger verify`` treat them as they treat real ones. The provider
named is ``provider.invalid`` (a host that cannot exist), and the demo
turns no AI feature on. Idempotent: nothing is written when these calls'
records exist already.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select

from invigil.ai.models import AiUsage
from invigil.ai.provider import Provider, Reply
from invigil.ai.usage import Subject, record
from invigil.db.engine import Database
from invigil.db.uow import Actor

TENANTS = ("acme",)
PROVIDER = Provider("https://provider.invalid/v1", "demo-model", "", 30, 0, "platform")
# purpose, subject kind, outcome, prompt tokens, completion tokens, latency (ms)
CALLS = (
    ("rubric_suggestion", "attempt_answer", "ok", 640, 210, 2300),
    ("rubric_suggestion", "attempt_answer", "timeout", 0, 0, 30000),
)


def _sha(*parts: object) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


def seed_ai_calls(db: Database, tenant_id: uuid.UUID, slug: str, *, grader: str) -> bool:
    """True when something was created. ``grader``: the grader's user id."""
    if slug not in TENANTS:
        return False
    asked = [_sha("demo-request", slug, n) for n in range(len(CALLS))]
    with db.unit_of_work(tenant_id) as uow:
        if uow.scalar(
            select(func.count()).select_from(AiUsage).where(AiUsage.request_sha256.in_(asked))
        ):
            return False
    for n, (purpose, kind, outcome, prompt, completion, ms) in enumerate(CALLS):
        who = grader
        reply = Reply(
            outcome, None, prompt, completion, ms, _sha("demo-request", slug, n),
            _sha("demo-response", slug, n) if outcome == "ok" else None,
            "" if outcome == "ok" else "the AI provider did not answer within 30 s",
        )  # fmt: skip
        with db.unit_of_work(tenant_id, Actor("user", who)) as uow:
            subject = Subject(kind, uuid.uuid5(uuid.NAMESPACE_URL, f"invigil-demo:{slug}:{n}"))
            record(uow, purpose=purpose, subject=subject, provider=PROVIDER, reply=reply,
                   now=datetime.now(UTC))  # fmt: skip
    return True
