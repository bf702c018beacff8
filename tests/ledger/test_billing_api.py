"""The tenant's billing API: balances and price list, the history with what
each transfer was for (every writer's convention: top-up, invitation,
attempt start, refund, AI call, evidence storage), filters and pages, one
transfer, another tenant's transfer, and the statement with its CSV."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.ledger import prices, service
from invigil.ledger.service import AI_USAGE, CONSUMED, CREDITS, Leg
from invigil.settings import Settings
from tests.conftest import bearer, make_tenant, make_user
from tests.ledger.test_prices import PRICES

DAY1 = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
DAY2 = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
DAY3 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
DAY4 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def every_kind(db: Database, tenant: uuid.UUID) -> dict[str, Any]:
    """One transfer of each kind the ledger's writers make, in Oct-Dec 2026."""
    made: dict[str, Any] = {}
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        made["topup"] = service.credit(uow, 1000, "INV-1", now=DAY1)
        made["invitation"] = service.charge(
            uow, 2, ("invitation", uuid.uuid4()), now=DAY2,
            meta={"price_list": "1", "level": "webcam"},
        )  # fmt: skip
        attempt = uuid.uuid4()
        made["attempt"] = service.charge(
            uow, 5, ("attempt", attempt), now=DAY2 + timedelta(minutes=1),
            meta={"price_list": "1", "level": "webcam"},
        )  # fmt: skip
        made["attempt_id"] = str(attempt)
        made["refund"] = service.transfer(
            uow, f"refund:attempt:{attempt}", "reversal",
            [Leg(CREDITS, 5), Leg(CONSUMED, -5)], reason="attempt voided",
            meta={"reverses": str(made["attempt"].id)}, now=DAY3,
            reverses=made["attempt"].id,
        )  # fmt: skip
        made["ai"] = service.transfer(
            uow, "charge:ai_call:1", "charge", [Leg(CREDITS, -3), Leg(AI_USAGE, 3)],
            reason="AI call", meta={"ai_call": str(uuid.uuid4()), "price_list": "1",
                                    "model": "big-model"}, now=DAY3 + timedelta(hours=1),
        )  # fmt: skip
        made["storage"] = service.transfer(
            uow, "charge:storage:2026-11-30", "charge", [Leg(CREDITS, -7), Leg(CONSUMED, 7)],
            reason="evidence storage", meta={"storage_day": "2026-11-30"},
            now=DAY3 + timedelta(days=10),
        )  # fmt: skip
        made["december"] = service.charge(uow, 11, ("invitation", uuid.uuid4()), now=DAY4)
    return made


def test_history_says_what_each_transfer_was_for(
    app: FastAPI, client: TestClient, database: Database, db: Database, settings: Settings
) -> None:
    tenant = make_tenant(database, settings)
    made = every_kind(database, tenant.id)
    h = bearer(app, db, make_user(db, tenant.id, ["billing_admin"]))
    r = client.get("/api/v1/billing/transfers", headers=h)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["for"] for i in items] == [
        "invitation", "evidence storage", "AI call", "refund", "attempt start",
        "invitation", "top-up",
    ]  # fmt: skip
    refund = items[3]
    assert refund["kind"] == "reversal" and refund["credits"] == 5
    assert refund["meta"] == {"reverses": str(made["attempt"].id)}
    assert refund["subject"] == {"type": "attempt", "id": made["attempt_id"]}
    assert {leg["account"]: leg["amount"] for leg in items[2]["legs"]} == {CREDITS: -3, AI_USAGE: 3}
    assert set(items[0]) >= {"id", "kind", "legs", "meta", "reason", "created_at", "for"}
    # Filters: by kind, by period (whole UTC days), and pages that never repeat.
    only = client.get("/api/v1/billing/transfers?kind=reversal", headers=h).json()["items"]
    assert [i["id"] for i in only] == [str(made["refund"].id)]
    nov = client.get("/api/v1/billing/transfers?from=2026-11-01&to=2026-11-30", headers=h).json()
    assert len(nov["items"]) == 5 and nov["next"] is None
    seen, cursor = [], None
    while True:
        page = client.get(
            "/api/v1/billing/transfers", params={"limit": 2, "cursor": cursor or ""}, headers=h
        ).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [i["id"] for i in items]
    bad = client.get("/api/v1/billing/transfers?from=2026-13-01", headers=h)
    assert bad.status_code == 422 and bad.json()["field"] == "from"
    assert client.get("/api/v1/billing/transfers?cursor=xyz", headers=h).status_code in (400, 422)
    one = client.get(f"/api/v1/billing/transfers/{made['attempt'].id}", headers=h).json()
    assert one["for"] == "attempt start" and one["reversed_by"] == str(made["refund"].id)


def test_another_tenants_transfer_is_not_found(
    app: FastAPI, client: TestClient, database: Database, db: Database, settings: Settings
) -> None:
    mine, theirs = make_tenant(database, settings), make_tenant(database, settings)
    made = every_kind(database, theirs.id)
    h = bearer(app, db, make_user(db, mine.id, ["billing_admin"]))
    found = client.get(f"/api/v1/billing/transfers/{made['topup'].id}", headers=h)
    missing = client.get(f"/api/v1/billing/transfers/{uuid.uuid4()}", headers=h)
    assert found.status_code == missing.status_code == 404
    assert client.get("/api/v1/billing/transfers", headers=h).json()["items"] == []


def test_balance_and_price_list(
    app: FastAPI, client: TestClient, database: Database, db: Database, settings: Settings
) -> None:
    tenant = make_tenant(database, settings)
    h = bearer(app, db, make_user(db, tenant.id, ["billing_admin"]))
    empty = client.get("/api/v1/billing/balance", headers=h).json()
    assert empty["price_list"] is None and empty["credits_available"] == 0
    with db.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        now = datetime.now(UTC)
        prices.set_price_list(uow, PRICES, reason="standard", now=now)
        prices.set_price_list(
            uow, {**PRICES, "evidence_gb_month": 9}, reason="dearer", now=now,
            effective_from=now + timedelta(days=30),
        )  # fmt: skip
        service.credit(uow, 40, "INV-9", now=now)
    body = client.get("/api/v1/billing/balance", headers=h).json()
    assert body["credits_available"] == 40 and body["accounts"]["operator_topups"] == -40
    assert body["price_list"]["version"] == 1
    lists = client.get("/api/v1/billing/price-list", headers=h).json()
    assert lists["in_force"]["version"] == 1
    assert [v["version"] for v in lists["versions"]] == [2, 1]
    # A grader holds no billing:view.
    g = bearer(app, db, make_user(db, tenant.id, ["grader"]))
    assert client.get("/api/v1/billing/balance", headers=g).status_code == 403


def test_statement_groups_and_checks_the_month(
    app: FastAPI, client: TestClient, database: Database, db: Database, settings: Settings
) -> None:
    tenant = make_tenant(database, settings)
    every_kind(database, tenant.id)
    h = bearer(app, db, make_user(db, tenant.id, ["billing_admin"]))
    r = client.get("/api/v1/billing/statement?from=2026-11-01&to=2026-11-30", headers=h)
    s = r.json()
    assert s["opening_balance"] == 1000  # the top-up of 31 October
    assert {g["for"]: (g["count"], g["credits"]) for g in s["movements"]} == {
        "invitation": (1, -2), "attempt start": (1, -5), "refund": (1, 5),
        "AI call": (1, -3), "evidence storage": (1, -7),
    }  # fmt: skip
    assert s["closing_balance"] == 1000 - 2 - 5 + 5 - 3 - 7 and s["balanced"] is True
    december = client.get("/api/v1/billing/statement?from=2026-12-01", headers=h).json()
    assert december["opening_balance"] == 988 and december["closing_balance"] == 977
    bad = client.get("/api/v1/billing/statement?from=2026-11-30&to=2026-11-01", headers=h)
    assert bad.status_code == 422 and bad.json()["field"] == "to"
    too_long = client.get("/api/v1/billing/statement?from=2024-01-01&to=2026-01-01", headers=h)
    assert too_long.status_code == 422
    default = client.get("/api/v1/billing/statement", headers=h).json()
    today = datetime.now(UTC).date()
    assert default["period"]["from"] == today.replace(day=1).isoformat()


def test_statement_csv(
    app: FastAPI, client: TestClient, database: Database, db: Database, settings: Settings
) -> None:
    tenant = make_tenant(database, settings)
    made = every_kind(database, tenant.id)
    h = bearer(app, db, make_user(db, tenant.id, ["billing_admin"]))
    r = client.get("/api/v1/billing/statement?from=2026-11-01&to=2026-11-30&format=csv", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert f"statement-{tenant.slug}-2026-11-01-2026-11-30.csv" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == [
        "created_at", "transfer_id", "for", "kind", "subject_type", "subject_id",
        "credit", "debit", "balance_after",
    ]  # fmt: skip
    assert rows[0]["for"] == "opening" and rows[0]["balance_after"] == "1000"
    assert rows[-1]["for"] == "closing" and rows[-1]["balance_after"] == "988"
    assert [x["for"] for x in rows[1:-1]] == [
        "invitation", "attempt start", "refund", "AI call", "evidence storage",
    ]  # fmt: skip
    refund = rows[3]
    assert refund["credit"] == "5" and refund["debit"] == ""
    assert refund["transfer_id"] == str(made["refund"].id)
    assert (refund["subject_type"], refund["subject_id"]) == ("attempt", made["attempt_id"])
    assert rows[1]["debit"] == "2" and rows[1]["balance_after"] == "998"
    running = 1000
    for x in rows[1:-1]:
        running += int(x["credit"] or 0) - int(x["debit"] or 0)
        assert int(x["balance_after"]) == running
    assert client.get("/api/v1/billing/statement?format=xml", headers=h).status_code == 422
