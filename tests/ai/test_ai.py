"""AI calls: off unless opted in, every call (whatever the provider does)
recorded once with its charge, the feature's rows only with a good answer,
and `ledger verify` checking the records against their charges."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from invigil.ai import config, service
from invigil.ai.models import AiUsage
from invigil.ai.usage import Subject
from invigil.ai.verify import check
from invigil.cli import cli
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.db.urls import DatabaseUrls
from invigil.errors import Conflict, Invalid, PaymentRequired
from invigil.ledger import prices
from invigil.ledger import service as ledger
from invigil.ledger.verify import verify
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from tests.ai.provider_server import (
    ProviderServer,
    dropped,
    ok,
    rate_limited,
    raw,
    server_error,
    slow,
)
from tests.conftest import make_tenant

PRICES: dict[str, Any] = {
    "invitation": {"unproctored": 0, "webcam": 0, "screen": 0},
    "attempt": {"unproctored": 0, "webcam": 0, "screen": 0},
    "evidence_gb_month": 0,
    "ai_per_1k_tokens": {"*": 2, "test-model": 4},
}
ACTOR = Actor("user", "grader-1")


class Echo(BaseModel):
    text: str


@pytest.fixture
def provider() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        yield server


@pytest.fixture
def box(settings: Settings) -> SecretBox:
    return SecretBox(settings.keys_dir / "secrets.key")


def _tenant(db: Database, settings: Settings, box: SecretBox, *, credits: int = 100,
            opted: bool = True) -> uuid.UUID:  # fmt: skip
    tenant = make_tenant(db, settings).id
    now = datetime.now(UTC)
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        prices.set_price_list(uow, PRICES, reason="plan", now=now)
        if credits:
            ledger.credit(uow, credits, f"T-{uuid.uuid4().hex[:8]}", now=now)
        if opted:
            config.update(uow, settings, box, enabled=True, rubric_suggestions=True,
                          question_drafting=False)  # fmt: skip
    return tenant


def _ask(db: Database, tenant: uuid.UUID, settings: Settings, box: SecretBox,
         applied: list[Any], **more: Any) -> service.Answer[Any]:  # fmt: skip
    def apply(uow: UnitOfWork, usage: AiUsage, answer: Echo) -> str:
        applied.append((usage.id, answer.text))
        return answer.text

    values: dict[str, Any] = {
        "purpose": "rubric_suggestion",
        "subject": Subject("attempt_answer", uuid.uuid4()),
        "messages": [{"role": "user", "content": "Mark this: " + service.redact(
            "Written by jo.doe@example.org, call +44 20 7946 0958")}],
        "schema": Echo,
        "apply": apply,
        "max_tokens": 200,
    } | more  # fmt: skip
    return service.ask(db, tenant, ACTOR, settings, box, **values)


def _usages(db: Database, tenant: uuid.UUID) -> list[AiUsage]:
    with db.unit_of_work(tenant) as uow:
        rows = list(uow.scalars(select(AiUsage).order_by(AiUsage.created_at)))
        uow.session.expunge_all()
        return rows


def _verified(db: Database, tenant: uuid.UUID) -> list[str]:
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        report = verify(uow)
        check(uow, report)
        return report.problems


def test_off_unless_opted_in_and_configured(
    database: Database, settings: Settings, box: SecretBox, provider: ProviderServer
) -> None:
    configured = provider.settings(settings)
    tenant = _tenant(database, configured, box, opted=False)
    with pytest.raises(service.AiOff):
        _ask(database, tenant, configured, box, [])
    with database.unit_of_work(tenant) as uow:  # opted in, but not to this feature
        config.update(uow, configured, box, enabled=True, rubric_suggestions=False,
                      question_drafting=True)  # fmt: skip
    with pytest.raises(service.AiOff):
        _ask(database, tenant, configured, box, [])
    assert provider.requests == [] and _usages(database, tenant) == []
    unconfigured = make_tenant(database, settings).id
    with database.unit_of_work(unconfigured) as uow, pytest.raises(Conflict) as exc:
        config.update(uow, settings, box, enabled=True, rubric_suggestions=True,
                      question_drafting=False)  # fmt: skip
    assert exc.value.extensions["field"] == "base_url"


def test_an_answer_is_recorded_charged_and_applied_in_one_transaction(
    database: Database, settings: Settings, box: SecretBox, provider: ProviderServer
) -> None:
    configured = provider.settings(settings)
    tenant = _tenant(database, configured, box)
    provider.script(ok({"text": "4 of 5: clear, one error"}, prompt=300, completion=60))
    applied: list[Any] = []
    answer = _ask(database, tenant, configured, box, applied)
    assert answer.value == "4 of 5: clear, one error" and len(applied) == 1
    (usage,) = _usages(database, tenant)
    assert (usage.outcome, usage.prompt_tokens, usage.completion_tokens) == ("ok", 300, 60)
    assert usage.cost == 2 and usage.price_list_version == 1  # 360 tokens at 4 per 1,000
    assert usage.actor == "user:grader-1" and usage.model == "test-model"
    assert usage.provider.startswith("127.0.0.1:") and usage.transfer_id is not None
    sent = provider.requests[0]
    assert sent["model"] == "test-model" and sent["response_format"] == {"type": "json_object"}
    assert "jo.doe@example.org" not in str(sent) and "7946" not in str(sent)
    assert provider.headers[0]["authorization"] == "Bearer sk-test-key"
    with database.unit_of_work(tenant) as uow:
        assert ledger.balances(uow)[ledger.AI_USAGE] == 2
    assert _verified(database, tenant) == []


@pytest.mark.parametrize(
    ("behaviour", "outcome", "error", "tokens"),
    [
        (slow(3.5), "timeout", service.AiTimeout, 0),
        (rate_limited(7), "rate_limited", service.AiBusy, 0),
        (server_error(500), "provider_error", service.AiFailed, 0),
        (raw(b"<html>gateway</html>", "text/html"), "malformed", service.AiFailed, 0),
        (raw(b'{"choices": [], "usage": {"prompt_tokens": 90, "completion_tokens": 0}}'),
         "malformed", service.AiFailed, 90),
        (ok({"verdict": "no text field"}, prompt=500, completion=500), "malformed",
         service.AiFailed, 1000),
        (dropped(), "unreachable", service.AiFailed, 0),
    ],
)  # fmt: skip
def test_every_failure_is_recorded_and_nothing_applied(
    database: Database, settings: Settings, box: SecretBox, provider: ProviderServer,
    behaviour: Any, outcome: str, error: type[Exception], tokens: int,
) -> None:  # fmt: skip
    configured = provider.settings(settings)
    tenant = _tenant(database, configured, box)
    provider.script(behaviour)
    applied: list[Any] = []
    with pytest.raises(error) as exc:
        _ask(database, tenant, configured, box, applied)
    assert applied == []
    (usage,) = _usages(database, tenant)
    assert usage.outcome == outcome
    assert usage.prompt_tokens + usage.completion_tokens == tokens
    assert usage.cost == prices.ai_cost(4, tokens)
    problem = exc.value.problem()  # type: ignore[attr-defined]
    assert problem["usage_id"] == str(usage.id) and "nothing was saved" in problem["detail"]
    if outcome == "rate_limited":
        assert exc.value.headers()["Retry-After"] == "7"  # type: ignore[attr-defined]
    assert _verified(database, tenant) == []


def test_a_call_the_credit_cannot_pay_for_is_not_sent(
    database: Database, settings: Settings, box: SecretBox, provider: ProviderServer
) -> None:
    configured = provider.settings(settings)
    tenant = _tenant(database, configured, box, credits=1)
    with pytest.raises(PaymentRequired) as exc:
        _ask(database, tenant, configured, box, [], max_tokens=1000)
    assert "may cost up to" in exc.value.detail
    assert provider.requests == [] and _usages(database, tenant) == []


def test_a_call_whose_credit_went_meanwhile_is_recorded_unpaid(
    database: Database, settings: Settings, box: SecretBox, provider: ProviderServer
) -> None:
    configured = provider.settings(settings)
    tenant = _tenant(database, configured, box, credits=3)
    provider.script(ok({"text": "fine"}, prompt=1000, completion=1000))  # 8 credits, 3 held
    _ask(database, tenant, configured, box, [], max_tokens=100)
    (usage,) = _usages(database, tenant)
    assert usage.unpaid and usage.transfer_id is None and usage.cost == 8
    assert _verified(database, tenant) == []


def test_a_tenants_own_provider_is_checked_and_its_key_sealed(
    database: Database, settings: Settings, box: SecretBox, provider: ProviderServer
) -> None:
    tenant = _tenant(database, settings, box, opted=False)
    with database.unit_of_work(tenant) as uow, pytest.raises(Invalid) as exc:
        config.update(uow, settings, box, enabled=True, rubric_suggestions=True,
                      question_drafting=False, base_url=provider.base_url, model="m",
                      api_key="sk-own")  # fmt: skip
    assert exc.value.extensions["field"] == "base_url"  # plain http: refused
    for url in ("https://127.0.0.1/v1", "https://169.254.169.254/v1", "https://10.1.2.3/v1"):
        with database.unit_of_work(tenant) as uow, pytest.raises(Invalid) as exc:
            config.update(uow, settings, box, enabled=True, rubric_suggestions=True,
                          question_drafting=False, base_url=url, model="m")  # fmt: skip
        assert "non-public address" in exc.value.detail, url
    local = settings.model_copy(update={"ai_allow_private": True})
    with database.unit_of_work(tenant) as uow:
        chosen = config.update(uow, local, box, enabled=True, rubric_suggestions=True,
                               question_drafting=False, base_url=provider.base_url,
                               model="own-model", api_key="sk-own")  # fmt: skip
        stored = uow.driver().cursor().execute("SELECT api_key_sealed FROM ai_settings").fetchone()
    assert chosen.has_key and b"sk-own" not in bytes(stored[0])
    provider.script(ok({"text": "own"}, prompt=10, completion=10, model="own-model"))
    assert _ask(database, tenant, local, box, []).value == "own"
    assert provider.headers[0]["authorization"] == "Bearer sk-own"
    assert provider.requests[0]["model"] == "own-model"
    (usage,) = _usages(database, tenant)
    assert usage.cost == 1  # 20 tokens at the "*" rate, 2 per 1,000, rounded up


def test_verify_names_an_edited_record_and_a_charge_without_its_record(
    database: Database, settings: Settings, box: SecretBox, provider: ProviderServer,
    urls: DatabaseUrls, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    configured = provider.settings(settings)
    tenant = _tenant(database, configured, box)
    provider.script(ok({"text": "a"}, prompt=400, completion=100))
    _ask(database, tenant, configured, box, [])
    (usage,) = _usages(database, tenant)
    engine = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.execute(text("UPDATE ai_usage SET prompt_tokens = 40 WHERE id = :u"), {"u": usage.id})
    problems = _verified(database, tenant)
    assert any(f"AI usage record {usage.id} no longer hashes" in p for p in problems)
    assert any("states a cost of 2; 140 tokens of test-model cost 1" in p for p in problems)
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.execute(text("DELETE FROM ai_usage WHERE id = :u"), {"u": usage.id})
    engine.dispose()
    problems = _verified(database, tenant)
    assert any(f"names usage record {usage.id}, which is missing" in p for p in problems)
    slug = _slug(database, tenant)
    monkeypatch.setattr("invigil.cli.database._database", lambda: database)
    out = CliRunner().invoke(cli, ["ledger", "verify", "--tenant", slug])
    assert out.exit_code == 1 and "AI" in out.output


def _slug(db: Database, tenant: uuid.UUID) -> str:
    with db.unit_of_work(tenant) as uow:
        found = (
            uow.driver()
            .cursor()
            .execute("SELECT slug FROM tenants WHERE id = %(t)s", {"t": tenant})
            .fetchone()
        )
    assert found is not None
    return str(found[0])


def test_the_audit_log_records_each_call_without_content(
    database: Database, settings: Settings, box: SecretBox, provider: ProviderServer
) -> None:
    configured = provider.settings(settings)
    tenant = _tenant(database, configured, box)
    provider.script(ok({"text": "secret essay feedback"}))
    _ask(database, tenant, configured, box, [])
    with database.unit_of_work(tenant) as uow:
        rows = (
            uow.driver()
            .cursor()
            .execute("SELECT payload::text FROM audit_events WHERE action = 'ai.called'")
            .fetchall()
        )
        count = uow.scalar(select(func.count()).select_from(AiUsage))
    assert count == 1 and len(rows) == 1 and "essay" not in rows[0][0]
