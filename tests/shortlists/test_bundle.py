"""The evidence bundle of a real shortlist run: built from the rows, verified
offline (the frozen rules re-run over the facts in the bundle), and every
tampering named by member and check."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from invigil.audit import bundle_proofs
from invigil.audit.bundle import Options
from invigil.cli import cli
from invigil.context import Services
from invigil.db.uow import Actor
from invigil.settings import Settings
from invigil.shortlists import cohort, rules, service, stages
from invigil.tenants.models import Tenant
from invigil.verifier import Summary, verify
from invigil.verifier.shortlist import rank
from tests.conftest import BoundDatabase, make_tenant
from tests.results.bundles import canonical, edit_manifest, members, rezip
from tests.shortlists.factories import exam, rule_set, sit
from tests.test_pages_matrix import web_client

RULES = {"min_percent": "60", "pass_required": True, "integrity_allowed": ["clear", "cleared"],
         "tie_breaks": ["shorter_time"], "top_n": 3}  # fmt: skip
CHECKED = ("manifest", "members", "hashes", "keys", "checkpoint", "inclusion", "anchors",
           "subject", "ranking")  # fmt: skip


@pytest.fixture
def services(settings: Settings) -> Services:
    return Services.build(settings)


@dataclass(frozen=True)
class Cohort:
    tenant_id: uuid.UUID
    exam_id: uuid.UUID
    rule_set_id: uuid.UUID
    attempts: list[uuid.UUID]  # by percentage, highest first


def make_cohort(db: BoundDatabase, settings: Settings) -> Cohort:
    tenant = make_tenant(db, settings)
    e = exam(db, tenant.id)
    made = [
        sit(db, tenant.id, e, "91.00", categories={"Writing": "80"}, minutes=40),
        sit(db, tenant.id, e, "91.00", categories={"Writing": "70"}, minutes=25),  # ties, faster
        sit(db, tenant.id, e, "84.50", minutes=30),
        sit(db, tenant.id, e, "77.00", minutes=30),  # fourth: top_n excludes it
        sit(db, tenant.id, e, "55.00", passed=False),  # fails pass_required first
        sit(db, tenant.id, e, "99.00", pending=True),  # not final
        sit(db, tenant.id, e, "95.00", integrity="flagged"),  # awaiting review
        sit(db, tenant.id, e, "0", submitted=False),  # no result: not submitted
    ]
    return Cohort(tenant.id, e, rule_set(db, tenant.id, RULES), made)


def run_and_move(db: BoundDatabase, c: Cohort) -> uuid.UUID:
    with db.unit_of_work(c.tenant_id) as uow:
        run = service.create_run(uow, c.rule_set_id, exam_ids=[c.exam_id])
        first = service.entries(uow, run.id)[0].attempt_id
        stages.move(uow, run.id, first, "interview", "Strong essays.")
        stages.move(uow, run.id, first, "offer")
        return run.id


def build(db: BoundDatabase, services: Services, tenant_id: uuid.UUID, run_id: uuid.UUID) -> bytes:
    sink = io.BytesIO()
    with db.unit_of_work(tenant_id, Actor.operator()) as uow:
        options = Options(show_evidence=True, services=services)
        bundle_proofs.build(uow, services.keys.audit, "shortlist", run_id, sink, options)
    return sink.getvalue()


def check(data: bytes) -> Summary:
    return verify(io.BytesIO(data))


def failed(summary: Summary) -> tuple[str, str]:
    assert not summary.ok and summary.first is not None
    return summary.first.member, summary.first.check


def replace(data: bytes, path: str, content: bytes) -> bytes:
    """Change a member and its line of the manifest (a careful forger)."""
    import hashlib

    def fix(manifest: dict[str, Any]) -> None:
        for m in manifest["members"]:
            if m["path"] == path:
                m["sha256"], m["size"] = hashlib.sha256(content).hexdigest(), len(content)

    return edit_manifest(rezip(data, {path: content}), fix)


def edit_json(data: bytes, path: str, change: Callable[[Any], None]) -> bytes:
    doc = json.loads(members(data)[path])
    change(doc)
    return replace(data, path, canonical(doc))


@pytest.fixture
def made(
    db: BoundDatabase, settings: Settings, services: Services
) -> tuple[Cohort, uuid.UUID, bytes]:
    c = make_cohort(db, settings)
    run_id = run_and_move(db, c)
    return c, run_id, build(db, services, c.tenant_id, run_id)


def test_a_real_run_bundled_verifies_and_holds_no_names(
    made: tuple[Cohort, uuid.UUID, bytes],
) -> None:
    c, run_id, data = made
    summary = check(data)
    assert summary.ok, summary.failures
    assert all(summary.checks[k] == "ok" for k in CHECKED), summary.checks
    assert summary.kind == "shortlist" and summary.subject == str(run_id)
    assert summary.counts["entries"] == 8 and summary.counts["shortlisted"] == 3
    found = members(data)
    entries = [json.loads(found[f"records/entries/{n:04d}.json"]) for n in range(1, 9)]
    a = c.attempts
    assert [e["attempt_id"] for e in entries[:3]] == [str(a[1]), str(a[0]), str(a[2])]
    assert [e["failed"]["rule"] for e in entries[3:]] == [
        "final", "final", "top_n", "pass_required", "final"]  # fmt: skip
    assert len([p for p in found if p.startswith("records/stage_changes/")]) == 2
    results = sorted(p for p in found if p.startswith("records/results/"))
    assert results == sorted(f"records/results/{x}.json" for x in a[:7])  # not the unsubmitted
    assert b"Strong essays." in b"".join(found.values())  # the note is part of the record
    assert not any(p.startswith("evidence/") for p in found)
    text = b"".join(found.values()).decode(errors="replace")
    assert "@" not in text.replace("invigil-evidence-bundle", "")  # no email anywhere
    assert "Candidate" in found["report.txt"].decode()  # pseudonyms in the summary


def test_swapped_order_changed_percent_rule_and_removed_stage_are_named(
    made: tuple[Cohort, uuid.UUID, bytes],
) -> None:
    _, _, data = made
    found = members(data)
    one, two = "records/entries/0001.json", "records/entries/0002.json"
    swapped = replace(replace(data, one, found[two]), two, found[one])
    assert failed(check(swapped)) == (one, "subject")

    def richer(doc: Any) -> None:
        doc["percent"] = "99.00"

    assert failed(check(edit_json(data, "records/entries/0003.json", richer))) == (
        "records/entries/0003.json", "subject")  # fmt: skip

    def laxer(doc: Any) -> None:
        doc["rules"]["min_percent"] = "10"

    for path in ("records/run.json", "records/rule_set_version.json"):
        assert failed(check(edit_json(data, path, laxer))) == (path, "anchors")

    stage = sorted(p for p in found if p.startswith("records/stage_changes/"))[0]
    assert failed(check(rezip(data, {stage: None}))) == (stage, "members")

    def forget(manifest: dict[str, Any]) -> None:
        manifest["members"] = [m for m in manifest["members"] if m["path"] != stage]

    member, check_name = failed(check(edit_manifest(rezip(data, {stage: None}), forget)))
    assert (member, check_name) == ("audit/entries.jsonl", "inclusion")


def test_a_member_of_another_runs_bundle_is_named(
    db: BoundDatabase, settings: Settings, services: Services,
    made: tuple[Cohort, uuid.UUID, bytes],
) -> None:  # fmt: skip
    c, _, data = made
    with db.unit_of_work(c.tenant_id) as uow:
        other = service.create_run(uow, c.rule_set_id, exam_ids=[c.exam_id]).id
        first = service.entries(uow, other)[0].attempt_id
        stages.move(uow, other, first, "rejected")
    theirs = members(build(db, services, c.tenant_id, other))
    path = "records/entries/0001.json"
    assert failed(check(replace(data, path, theirs[path]))) == (path, "subject")
    ours = sorted(p for p in members(data) if p.startswith("records/stage_changes/"))[0]
    (their_stage,) = [p for p in theirs if p.startswith("records/stage_changes/")]
    assert failed(check(replace(data, ours, theirs[their_stage]))) == (ours, "anchors")


def test_a_run_anchored_in_the_wrong_order_or_with_other_numbers_fails_ranking(
    db: BoundDatabase, settings: Settings, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server itself got it wrong, and anchored it: every hash agrees,
    and only re-running the rules over the facts finds it."""
    c = make_cohort(db, settings)
    honest = rules.evaluate

    def swapped(r: dict[str, Any], facts: Any) -> list[rules.Outcome]:
        out = honest(r, facts)
        return [out[1], out[0], *out[2:]]

    monkeypatch.setattr(rules, "evaluate", swapped)
    run_id = run_and_move(db, c)
    monkeypatch.setattr(rules, "evaluate", honest)
    assert failed(check(build(db, services, c.tenant_id, run_id))) == (
        "records/entries/0001.json", "ranking")  # fmt: skip

    read = cohort.read

    def inflated(uow: Any, exam_ids: Any) -> list[rules.Facts]:
        out = read(uow, exam_ids)
        return [
            f if f.attempt_id != c.attempts[3] else rules.Facts(**{**vars(f), "percent": Decimal("88")})
            for f in out
        ]  # fmt: skip

    monkeypatch.setattr(cohort, "read", inflated)
    with db.unit_of_work(c.tenant_id) as uow:
        run_id = service.create_run(uow, c.rule_set_id, exam_ids=[c.exam_id]).id
    monkeypatch.setattr(cohort, "read", read)
    summary = check(build(db, services, c.tenant_id, run_id))
    member, name = failed(summary)
    assert name == "ranking" and member.startswith("records/entries/"), summary.first
    assert "percent 88.00 is not the result's" in summary.first.problem  # type: ignore[union-attr]


def test_the_offline_ranking_agrees_with_the_servers_on_ties_and_missing_values() -> None:
    r = rules.parse({"tie_breaks": ["category:Writing", "earlier_submission"], "top_n": 2})
    ids = sorted(uuid.uuid4() for _ in range(4))
    t = "2026-01-01T10:00:00.000000Z"
    facts = [
        rules.Facts(ids[0], ids[0], ids[0], None, Decimal("70"), True, "clear", 60, None, {}),
        rules.Facts(ids[1], ids[1], ids[1], None, Decimal("70"), True, "clear", 60, None,
                    {"Writing": Decimal("50")}),
        rules.Facts(ids[2], ids[2], ids[2], None, Decimal("70"), True, "clear", 60, None,
                    {"Writing": Decimal("50")}),
        rules.Facts(ids[3], ids[3], ids[3], "no_result", None, None, "clear", None, None, {}),
    ]  # fmt: skip
    from datetime import datetime

    facts[2] = rules.Facts(**{**vars(facts[2]), "submitted_at": datetime.fromisoformat(t)})
    server = [(str(o.facts.attempt_id), o.rank, o.failed) for o in rules.evaluate(r, facts)]
    offline = rank(r, [
        {"attempt_id": str(f.attempt_id), "not_final": f.not_final, "percent": f.percent,
         "passed": f.passed, "integrity": f.integrity, "seconds": f.seconds,
         "submitted_at": f.submitted_at, "categories": f.categories}
        for f in facts
    ])  # fmt: skip
    assert [(o["attempt_id"], o["rank"], o["failed"]) for o in offline] == server
    assert server[0][0] == str(ids[2])  # the category tie, then the earlier submission


def test_a_shortlister_asks_for_the_bundle_from_the_run_page_and_a_results_viewer_cannot(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    e = exam(db, tenant_a.id)
    sit(db, tenant_a.id, e, "80.00")
    rules_id = rule_set(db, tenant_a.id, {})
    with db.unit_of_work(tenant_a.id) as uow:
        run_id = service.create_run(uow, rules_id, exam_ids=[e]).id
    client, csrf = web_client(app, db, tenant_a.id, ["shortlister"])
    page = client.get(f"/shortlists/{run_id}")
    assert page.status_code == 200 and "Build evidence bundle" in page.text
    asked = client.post("/bundles", data={"csrf": csrf, "kind": "shortlist",
                                          "subject_id": str(run_id)})  # fmt: skip
    assert asked.status_code == 303, asked.text
    bundle_page = client.get(asked.headers["location"])
    assert bundle_page.status_code == 200 and f'href="/shortlists/{run_id}"' in bundle_page.text
    viewer, viewer_csrf = web_client(app, db, tenant_a.id, ["results_viewer"])
    refused = viewer.post("/bundles", data={"csrf": viewer_csrf, "kind": "shortlist",
                                            "subject_id": str(run_id)})  # fmt: skip
    assert refused.status_code == 404
    assert viewer.get(asked.headers["location"]).status_code == 404


def test_the_command_names_exactly_one_subject(
    tmp_path: Path,
) -> None:
    out = str(tmp_path / "b.zip")
    both = CliRunner().invoke(cli, ["bundle", "build", "--tenant", "t", "--out", out,
                                    "--attempt", str(uuid.uuid4()), "--shortlist", "x"])  # fmt: skip
    assert "exactly one of --attempt, --shortlist" in str(both.exception)
    cert = CliRunner().invoke(cli, ["bundle", "build", "--tenant", "t", "--out", out,
                                    "--certificate", "ten"])  # fmt: skip
    assert "is not a certificate id" in str(cert.exception)
    bad = CliRunner().invoke(cli, ["bundle", "build", "--tenant", "t", "--out", out,
                                   "--shortlist", "nine"])  # fmt: skip
    assert "is not a shortlist id" in str(bad.exception)
    assert not (tmp_path / "b.zip").exists()
