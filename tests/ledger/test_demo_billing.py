"""The demo's billing: acme is given a price list and a top-up before its
invitations and attempts, which are then charged like any tenant's; the
ledger verifies after `invigil demo`; running the demo again charges and
credits nothing more; globex stays unmetered."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from invigil import demo
from invigil.ai.models import AiUsage
from invigil.ai.verify import check as check_ai
from invigil.cli import cli
from invigil.db import platform
from invigil.db.engine import Database
from invigil.ledger import prices, service, statement
from invigil.ledger.demo import REFERENCE, TOP_UP
from invigil.ledger.verify import verify
from invigil.settings import Settings
from tests.delivery.factories import kit_for


def test_the_demo_charges_acme_and_verifies(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo.seed(database, regions=settings.regions, kit=kit_for(settings))
    acme = platform.tenant_by_slug(database, "acme")
    globex = platform.tenant_by_slug(database, "globex")
    assert acme is not None and globex is not None
    with database.unit_of_work(acme.id) as uow:
        before = service.balances(uow)
        found = statement.lines(uow)
        assert len(prices.versions(uow)) == 1
        report = verify(uow)
        check_ai(uow, report)
        usages = list(uow.scalars(select(AiUsage)))
    assert report.ok, report.problems
    purposes = [x.purpose for x in found]
    assert purposes.count("topup") == 1 and purposes.count("invitation") >= 10
    assert purposes.count("attempt") >= 10
    # the demo's voided attempt: its start refunded by a reversal
    (refund,) = [x for x in found if x.purpose == "refund"]
    assert refund.kind == "reversal" and refund.reason == "attempt voided: technical failure"
    topup = next(x for x in found if x.purpose == "topup")
    assert topup.meta == {"reference": REFERENCE}
    # every charge is older than nothing it paid for: the top-up comes first
    assert min(x.created_at for x in found) == topup.created_at
    assert 0 < before[service.CREDITS] < TOP_UP
    # the demo's AI calls, recorded without a provider: two answered (the
    # draft's 800 tokens and the marks' 850, at 2 credits per 1,000: 2 + 2),
    # one timed out (free)
    assert sorted((u.purpose, u.outcome, u.cost) for u in usages) == [
        ("question_draft", "ok", 2), ("rubric_suggestion", "ok", 2),
        ("rubric_suggestion", "timeout", 0),
    ]  # fmt: skip
    assert all(u.provider == "provider.invalid" for u in usages)
    assert purposes.count("ai_call") == 2 and before[service.AI_USAGE] == 4
    assert before[service.CONSUMED] + 4 == TOP_UP - before[service.CREDITS]

    again = demo.seed(database, regions=settings.regions, kit=kit_for(settings))
    assert not again.created
    with database.unit_of_work(acme.id) as uow:
        assert service.balances(uow) == before
        assert len(prices.versions(uow)) == 1
    with database.unit_of_work(globex.id) as uow:
        assert statement.lines(uow) == [] and prices.versions(uow) == []

    monkeypatch.setattr("invigil.cli.database._database", lambda: database)
    checked = CliRunner().invoke(cli, ["ledger", "verify", "--tenant", "acme"])
    assert checked.exit_code == 0, checked.output


def test_only_a_first_price_list_with_nothing_charged_may_be_backdated(
    database: Database, settings: Settings
) -> None:
    import uuid
    from datetime import UTC, datetime, timedelta

    from invigil.db.uow import Actor
    from invigil.errors import Invalid
    from tests.conftest import make_tenant
    from tests.ledger.test_prices import PRICES

    now = datetime.now(UTC)
    past = now - timedelta(days=3)
    for setup in ("version", "charge", "none"):
        tenant = make_tenant(database, settings).id
        with database.unit_of_work(tenant, Actor.operator("test")) as uow:
            if setup == "version":
                prices.set_price_list(uow, PRICES, reason="x", now=now)
            if setup == "charge":
                service.credit(uow, 5, "R", now=now)
                service.charge(uow, 1, ("invitation", uuid.uuid4()), now=now)
            with pytest.raises(Invalid, match="in the past"):
                prices.set_price_list(uow, PRICES, reason="x", now=now, effective_from=past)
            if setup == "none":
                made = prices.set_price_list(
                    uow, PRICES, reason="x", now=now, effective_from=past, backdate_first=True
                )
                assert made.effective_from == past
            else:
                with pytest.raises(Invalid, match="in the past"):
                    prices.set_price_list(
                        uow, PRICES, reason="x", now=now, effective_from=past,
                        backdate_first=True,
                    )  # fmt: skip
