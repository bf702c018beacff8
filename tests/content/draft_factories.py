"""AI question drafts without a provider: a usage record as a call would
write it, and drafts naming it (for the generated matrices and page tests)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from invigil.ai.provider import Provider, Reply
from invigil.ai.usage import Subject, record
from invigil.content.models import QuestionDraft
from invigil.db.engine import Database
from invigil.tenants.models import Tenant
from tests.content.factories import SAMPLES, make_bank

PROVIDER = Provider("http://127.0.0.1:9/v1", "test-model", "", 2, 0, "platform")


def make_drafts(
    db: Database, tenant_id: uuid.UUID, bank_id: uuid.UUID | None = None,
    kinds: tuple[str, ...] = ("single_choice",),
) -> list[uuid.UUID]:  # fmt: skip
    bank_id = bank_id or make_bank(db, tenant_id)
    reply = Reply("ok", "{}", 10, 10, 5, "0" * 64, "1" * 64, "")
    with db.unit_of_work(tenant_id) as uow:
        usage = record(uow, purpose="question_draft", subject=Subject("question_bank", bank_id),
                       provider=PROVIDER, reply=reply, now=datetime.now(UTC))  # fmt: skip
        rows = [
            QuestionDraft(
                tenant_id=tenant_id,
                id=uuid.uuid4(),
                bank_id=bank_id,
                usage_id=usage.id,
                position=n,
                type=kind,
                content=SAMPLES[kind] | {"language": "en"},
                created_by="user:test",
                status="pending",
            )
            for n, kind in enumerate(kinds)
        ]
        for row in rows:
            uow.add(row)
        uow.flush()
        return [row.id for row in rows]


# For tests/identity/test_authorization.py FACTORIES.
def draft_factory(db: Database, tenant: Tenant) -> str:
    return str(make_drafts(db, tenant.id)[0])
