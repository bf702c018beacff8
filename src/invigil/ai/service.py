"""Asking the AI provider for a feature, metered and recorded (ADR 0053).

:func:`ask` is the one way a feature calls a provider, in three steps that
never hold a database transaction open while the provider thinks:

1. a short unit of work checks that the tenant opted in to the feature,
   finds the provider, and refuses a call the credit could not pay for at
   its most expensive (the prompt's estimated tokens plus ``max_tokens``, at
   the model's rate): 402 before anything is sent;
2. the call itself (``invigil.ai.provider.complete``), bounded by the
   server-wide number of calls at once and by the timeout;
3. one unit of work writes the usage record and its charge and, when the
   answer is the JSON the feature asked for, the feature's own rows
   (``apply``): a suggestion is never saved without its record and charge.

A failed call (timeout, 429, an error, a malformed answer) is recorded and
charged for the tokens the provider reports, then answered with a problem
that says what happened; nothing of the feature is written.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from invigil.ai import config, provider
from invigil.ai.models import AiUsage
from invigil.ai.usage import Subject, record
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.errors import Conflict, DomainError, TooManyRequests
from invigil.ledger import prices
from invigil.ledger import service as ledger
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
MAX_TOKENS = 4000
PURPOSES = tuple(config.FEATURES)


class AiOff(Conflict):
    slug = "ai-off"


class AiFailed(DomainError):
    """The provider did not give a usable answer (the call is recorded)."""

    status = 502
    slug = "ai-unavailable"


class AiTimeout(AiFailed):
    status = 504


class AiBusy(TooManyRequests):
    slug = "ai-busy"


_slots: threading.BoundedSemaphore | None = None
_slots_size = 0
_slots_lock = threading.Lock()


def _semaphore(size: int) -> threading.BoundedSemaphore:
    global _slots, _slots_size
    with _slots_lock:
        if _slots is None or _slots_size != size:
            _slots, _slots_size = threading.BoundedSemaphore(size), size
        return _slots


def estimated_tokens(messages: list[dict[str, str]]) -> int:
    """An upper estimate of the prompt's tokens (a token is rarely under 3 characters)."""
    return len(json.dumps(messages, ensure_ascii=False)) // 3 + 16


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d ()./-]{7,}\d")


def redact(text: str) -> str:
    """Candidate-written text as it may leave for a provider: e-mail addresses
    and phone numbers replaced (a candidate may sign an essay)."""
    return _PHONE.sub("[phone]", _EMAIL.sub("[email]", text))


@dataclass(frozen=True)
class Answer(Generic[T]):
    usage: AiUsage
    value: T


def ask(
    db: Database,
    tenant_id: uuid.UUID,
    actor: Actor,
    settings: Settings,
    box: SecretBox,
    *,
    purpose: str,
    subject: Subject | None,
    messages: list[dict[str, str]],
    schema: type[M],
    apply: Callable[[UnitOfWork, AiUsage, M], T],
    max_tokens: int = 1000,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Answer[T]:
    """Call the provider for ``purpose`` (see the module docstring)."""
    if purpose not in config.FEATURES:
        raise ValueError(purpose)
    max_tokens = max(1, min(max_tokens, MAX_TOKENS))
    with db.unit_of_work(tenant_id, actor) as uow:
        chosen = config.choice(uow)
        if not chosen.allows(purpose):
            raise AiOff(
                "AI features are off for your organisation, or this one is not chosen: an "
                "administrator turns them on under Administration, AI"
            )
        found = config.provider_for(uow, settings, box)
        if found is None:
            raise AiOff("no AI provider is configured on this server")
        price = prices.in_force(uow, now())
        if price is not None:
            rate = price.prices.ai_rate(found.model)
            if rate is None:
                raise Conflict(
                    f"the price list (version {price.version}) does not price the model "
                    f"{found.model}: ask the operator to add it"
                )
            most = prices.ai_cost(rate, estimated_tokens(messages) + max_tokens)
            held = ledger.balance(uow, ledger.CREDITS)
            if held < most:
                raise ledger.InsufficientFunds(
                    f"this AI call may cost up to {most} credits ({rate} per 1,000 tokens of "
                    f"{found.model}, price list version {price.version}); your organisation "
                    f"holds {held}. Nothing was sent: ask for a top-up, then try again",
                    account=ledger.CREDITS, balance=held, shortfall=most - held, cost=most,
                )  # fmt: skip
    slots = _semaphore(settings.ai_concurrency)
    if not slots.acquire(timeout=2):
        raise AiBusy("the AI provider is busy with other requests; try again in a moment",
                     retry_after=5)  # fmt: skip
    try:
        reply = provider.complete(found, settings, messages, max_tokens=max_tokens)
    finally:
        slots.release()
    parsed: M | None = None
    if reply.ok:
        try:
            parsed = schema.model_validate_json(reply.content or "")
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "answer"
            reply = provider.Reply(
                "malformed", reply.content, reply.prompt_tokens, reply.completion_tokens,
                reply.latency_ms, reply.request_sha256, reply.response_sha256,
                f"the AI provider's answer is not what was asked for ({where}: {first['msg']})",
            )  # fmt: skip
    with db.unit_of_work(tenant_id, actor) as uow:
        usage = record(uow, purpose=purpose, subject=subject, provider=found, reply=reply,
                       now=now())  # fmt: skip
        value = apply(uow, usage, parsed) if parsed is not None else None
    if parsed is None:
        detail = f"{reply.detail}; nothing was saved (usage record {usage.id})"
        if reply.outcome == "timeout":
            raise AiTimeout(detail, outcome=reply.outcome, usage_id=str(usage.id))
        if reply.outcome == "rate_limited":
            raise AiBusy(detail, retry_after=int(reply.retry_after or 30),
                         outcome=reply.outcome, usage_id=str(usage.id))  # fmt: skip
        raise AiFailed(detail, outcome=reply.outcome, usage_id=str(usage.id))
    return Answer(usage, value)  # type: ignore[arg-type]
