"""Which provider a tenant's calls go to, and whether the tenant opted in.

AI is off unless two things hold: a provider is configured (the platform's,
``INVIGIL_AI_BASE_URL`` and ``INVIGIL_AI_MODEL`` with the key in
``INVIGIL_AI_API_KEY`` or the file ``INVIGIL_AI_API_KEY_FILE``; or the
tenant's own), and the tenant has turned AI on and chosen the feature. A
tenant's own provider key is sealed by the secret box and never shown again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from invigil import audit
from invigil.ai.models import AiSettings
from invigil.ai.provider import Provider
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from invigil.webhooks import addresses

FEATURES = {"rubric_suggestion": "rubric_suggestions", "question_draft": "question_drafting"}
MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,99}$")
MAX_KEY = 500
_KEY_CONTEXT = "ai-provider-key"


@dataclass(frozen=True)
class Choice:
    """What a tenant chose (no row: everything off, the platform's provider)."""

    enabled: bool = False
    rubric_suggestions: bool = False
    question_drafting: bool = False
    base_url: str | None = None
    model: str | None = None
    has_key: bool = False

    def allows(self, purpose: str) -> bool:
        return self.enabled and bool(getattr(self, FEATURES[purpose]))

    def as_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "rubric_suggestions": self.rubric_suggestions,
            "question_drafting": self.question_drafting,
            "own_provider": None
            if self.base_url is None
            else {"base_url": self.base_url, "model": self.model, "has_key": self.has_key},
        }


def _row(uow: UnitOfWork) -> AiSettings | None:
    return uow.scalar(select(AiSettings))


def choice(uow: UnitOfWork) -> Choice:
    row = _row(uow)
    if row is None:
        return Choice()
    return Choice(
        row.enabled, row.rubric_suggestions, row.question_drafting, row.base_url, row.model,
        row.api_key_sealed is not None,
    )  # fmt: skip


def platform_provider(settings: Settings) -> Provider | None:
    if not settings.ai_base_url or not settings.ai_model:
        return None
    key = settings.ai_api_key.get_secret_value() if settings.ai_api_key else ""
    if not key and settings.ai_api_key_file is not None:
        key = settings.ai_api_key_file.read_text(encoding="utf-8").strip()
    return Provider(
        settings.ai_base_url.rstrip("/"), settings.ai_model, key, settings.ai_timeout_seconds,
        settings.ai_max_retries, "platform",
    )  # fmt: skip


def provider_for(uow: UnitOfWork, settings: Settings, box: SecretBox) -> Provider | None:
    """The tenant's own provider if it set one, else the platform's, else None."""
    row = _row(uow)
    if row is not None and row.base_url and row.model:
        key = ""
        if row.api_key_sealed is not None:
            key = box.open(row.api_key_sealed, f"{_KEY_CONTEXT}:{uow.tenant}").decode()
        return Provider(
            row.base_url, row.model, key, settings.ai_timeout_seconds, settings.ai_max_retries,
            "tenant",
        )  # fmt: skip
    return platform_provider(settings)


def _checked_url(url: str, settings: Settings) -> str:
    local = settings.model_copy(
        update={
            "webhook_allow_private": settings.ai_allow_private,
            "webhook_allow_http": settings.ai_allow_private,
        }
    )
    try:
        return addresses.check_on_save(url, local).rstrip("/")
    except Invalid as exc:
        raise Invalid(exc.detail.replace("webhooks go", "AI providers are reached"),
                      field="base_url") from None  # fmt: skip


KEEP = object()  # the tenant's stored key stays as it is


def update(
    uow: UnitOfWork,
    settings: Settings,
    box: SecretBox,
    *,
    enabled: bool,
    rubric_suggestions: bool,
    question_drafting: bool,
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | object | None = KEEP,
    now: datetime | None = None,
) -> Choice:
    """Save the tenant's choice (audited). ``base_url`` None: the platform's
    provider. ``api_key``: a new key, None to remove it, KEEP to keep it."""
    now = now or datetime.now(UTC)
    if (base_url is None) != (model is None):
        raise Invalid("give the provider's base URL and its model together", field="model")
    if base_url is not None:
        base_url = _checked_url(base_url, settings)
        assert model is not None
        model = model.strip()
        if not MODEL.match(model):
            raise Invalid("model: 1-100 letters, digits and . _ : / @ -", field="model")
    if isinstance(api_key, str) and not 1 <= len(api_key.strip()) <= MAX_KEY:
        raise Invalid(f"api_key: 1-{MAX_KEY} characters", field="api_key")
    if enabled and base_url is None and platform_provider(settings) is None:
        raise Conflict(
            "no AI provider is configured on this server: give your organisation's own "
            "provider, or ask the operator to configure one",
            field="base_url",
        )
    before = choice(uow)
    row = _row(uow)
    actor = f"{uow.actor.kind}:{uow.actor.id}"[:200]
    if row is None:
        row = AiSettings(tenant_id=uow.tenant, updated_by=actor)
        uow.add(row)
    row.enabled, row.rubric_suggestions, row.question_drafting = (
        enabled, rubric_suggestions, question_drafting,
    )  # fmt: skip
    row.base_url, row.model = base_url, model
    if base_url is None or api_key is None:
        row.api_key_sealed = None
    elif isinstance(api_key, str):
        row.api_key_sealed = box.seal(api_key.strip().encode(), f"{_KEY_CONTEXT}:{uow.tenant}")
    row.updated_at, row.updated_by = now, actor
    uow.flush()
    after = choice(uow)
    audit.record(
        uow,
        "ai.settings_changed",
        ("ai_settings", row.id),
        {
            "before": _audited(before),
            "after": _audited(after),
            "key_changed": isinstance(api_key, str) or (api_key is None and before.has_key),
        },
    )
    return after


def _audited(c: Choice) -> dict[str, Any]:
    """What the audit entry keeps: the choices and the provider's host, never the key."""
    from urllib.parse import urlsplit

    return {
        "enabled": c.enabled,
        "rubric_suggestions": c.rubric_suggestions,
        "question_drafting": c.question_drafting,
        "provider_host": urlsplit(c.base_url).hostname if c.base_url else None,
        "model": c.model,
    }
