"""One usage record per provider call, with its charge, in one transaction.

The record (purpose, what it was about, provider host, model, actor, token
counts, latency, outcome, the request's and the response's hashes) and the
ledger transfer that charges it (credits_available -> ai_usage, key
``charge:ai_call:<usage id>``, priced by the price list in force: its
per-1,000-token rate for the model, rounded up to whole credits) are written
together, and the record's canonical JSON is anchored in its audit entry.
Neither is ever updated. A call the credit could no longer pay for by the
time it answered (another charge took the credit meanwhile) is recorded as
``unpaid`` with what it cost: the record is kept, never lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from invigil import audit
from invigil.ai.models import AiUsage
from invigil.ai.provider import Provider, Reply
from invigil.audit.records import anchor, document_sha256
from invigil.db.uow import UnitOfWork
from invigil.ledger import prices, service

ACTION = "ai.called"
SUBJECT = "ai_usage"


@dataclass(frozen=True)
class Subject:
    kind: str  # e.g. "attempt_answer", "question_bank"
    id: uuid.UUID


def usage_document(row: AiUsage | Mapping[str, Any]) -> dict[str, Any]:
    def get(key: str) -> Any:
        return row[key] if isinstance(row, Mapping) else getattr(row, key)

    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    return {
        "id": str(get("id")),
        "created_at": get("created_at").astimezone(UTC).isoformat(),
        "purpose": get("purpose"),
        "subject_type": get("subject_type"),
        "subject_id": text(get("subject_id")),
        "provider": get("provider"),
        "model": get("model"),
        "actor": get("actor"),
        "prompt_tokens": int(get("prompt_tokens")),
        "completion_tokens": int(get("completion_tokens")),
        "latency_ms": int(get("latency_ms")),
        "outcome": get("outcome"),
        "request_sha256": get("request_sha256"),
        "response_sha256": get("response_sha256"),
        "price_list_version": get("price_list_version"),
        "cost": int(get("cost")),
        "transfer_id": text(get("transfer_id")),
        "unpaid": bool(get("unpaid")),
    }


def cost_of(price: prices.PriceListVersion | None, model: str, tokens: int) -> int:
    """Credits a call of ``tokens`` costs under ``price`` (0 when not metered)."""
    if price is None:
        return 0
    rate = price.prices.ai_rate(model)
    return prices.ai_cost(rate or 0, tokens)


def record(
    uow: UnitOfWork,
    *,
    purpose: str,
    subject: Subject | None,
    provider: Provider,
    reply: Reply,
    now: datetime,
) -> AiUsage:
    """Write the call's record and its charge (see the module docstring)."""
    price = prices.in_force(uow, now)
    cost = cost_of(price, provider.model, reply.prompt_tokens + reply.completion_tokens)
    usage_id = uuid.uuid4()
    transfer_id: uuid.UUID | None = None
    unpaid = False
    if cost > 0:
        assert price is not None
        try:
            done = service.charge(
                uow, cost, ("ai_call", usage_id), now=now, account=service.AI_USAGE,
                reason=f"AI call ({purpose})", meta={"price_list": str(price.version)},
            )  # fmt: skip
            transfer_id = done.id
        except service.InsufficientFunds:
            unpaid = True
    row = AiUsage(
        tenant_id=uow.tenant,
        id=usage_id,
        created_at=now,
        purpose=purpose,
        subject_type=subject.kind if subject else None,
        subject_id=subject.id if subject else None,
        provider=provider.host[:255],
        model=provider.model,
        actor=f"{uow.actor.kind}:{uow.actor.id}"[:200],
        prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens,
        latency_ms=min(reply.latency_ms, 2**31 - 1),
        outcome=reply.outcome,
        request_sha256=reply.request_sha256,
        response_sha256=reply.response_sha256,
        price_list_version=price.version if price else None,
        cost=cost,
        transfer_id=transfer_id,
        unpaid=unpaid,
        sha256="",
    )
    row.sha256 = document_sha256(usage_document(row))
    uow.add(row)
    uow.flush()
    audit.record(
        uow,
        ACTION,
        (SUBJECT, usage_id),
        {
            "purpose": purpose,
            "outcome": reply.outcome,
            "model": provider.model,
            "tokens": reply.prompt_tokens + reply.completion_tokens,
            "cost": cost,
            "unpaid": unpaid,
            "transfer_id": str(transfer_id) if transfer_id else None,
            "anchor": anchor(SUBJECT, row.sha256),
        },
    )
    return row
