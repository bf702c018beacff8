"""How the pass is run: the hourly job over every tenant (the real clock),
and `invigil certification recertify` by hand (``--now`` for a given time)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from invigil.certification import recert_jobs
from invigil.certification.models import Notice
from invigil.cli import base
from invigil.cli import database as database_cli
from invigil.cli.base import cli
from invigil.db.engine import Database
from invigil.jobs import queue
from invigil.settings import Settings
from tests.certification.factories import certificate, get, program
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for


def test_the_job_is_registered_hourly() -> None:
    blueprint = queue.tasks()
    names = {t.name for t in blueprint.tasks.values()}
    assert "certification.recertify" in names
    crons = {p.task.name: p.cron for p in blueprint.periodic_registry.periodic_tasks.values()}
    assert crons["certification.recertify"] == recert_jobs.CRON


def test_the_job_visits_every_tenant(database: Database, settings: Settings) -> None:
    kit = kit_for(settings)
    services = SimpleNamespace(
        settings=settings, links=kit.key, box=kit.box, evidence=SimpleNamespace(master=None)
    )
    tenants = [make_tenant(database, settings).id for _ in range(2)]
    certs = {}
    for t in tenants:
        _, version = program(database, t, validity_months=12)
        certs[t] = certificate(database, t, version)
    expires = get(database, tenants[0], certs[tenants[0]]).expires_at
    assert expires is not None
    done = recert_jobs.recertify_all(database, services, expires - timedelta(days=29))
    assert done["reminder"] >= 2  # other tests' tenants may have steps due too
    for t in tenants:
        with database.unit_of_work(t) as uow:
            assert uow.scalar(select(func.count()).select_from(Notice)) == 1
    again = recert_jobs.recertify_all(database, services, expires - timedelta(days=29))
    assert sum(again.values()) == 0


def test_recertify_by_hand(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database_cli, "_database", lambda: database)
    monkeypatch.setattr(base, "_settings", lambda: settings)
    ref = make_tenant(database, settings)
    _, version = program(database, ref.id, validity_months=12)
    cert = certificate(database, ref.id, version)
    expires = get(database, ref.id, cert).expires_at
    assert expires is not None
    at = (expires + timedelta(hours=1)).isoformat()
    args = ["--json", "certification", "recertify", "--tenant", ref.slug, "--now", at]
    run = CliRunner().invoke(cli, args)
    assert run.exit_code == 0, run.output
    out = json.loads(run.output.strip().splitlines()[-1])
    assert out["steps"]["expiry"] == 1 and out["failed"] == 0
    assert datetime.fromisoformat(out["now"]) == expires + timedelta(hours=1)
    assert get(database, ref.id, cert).state == "expired"
    again = CliRunner().invoke(cli, args)
    assert json.loads(again.output.strip().splitlines()[-1])["steps"]["expiry"] == 0

    bad = CliRunner().invoke(cli, ["certification", "recertify", "--tenant", ref.slug,
                                   "--now", "2027-03-01T09:00"])  # fmt: skip
    assert bad.exit_code != 0 and "time zone" in str(bad.exception)
    unknown = CliRunner().invoke(cli, ["certification", "recertify", "--tenant", "no-such"])
    assert unknown.exit_code != 0 and "no tenant" in str(unknown.exception)
    assert datetime.now(UTC) > expires - timedelta(days=3650)
