"""Stages: moves forward only, never out of a final stage, append-only,
audited and announced; the tenant's own stages."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from invigil.audit.anchored import verify_records
from invigil.db.uow import Actor, UnitOfWork
from invigil.errors import Conflict, Invalid, NotFound
from invigil.shortlists import announce, service, stages
from invigil.shortlists.records import SOURCES
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, make_user
from tests.shortlists.factories import exam, rule_set, sit


def _run(db: BoundDatabase, t: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    e = exam(db, t)
    kept = sit(db, t, e, "80.00")
    out = sit(db, t, e, "20.00")
    rid = rule_set(db, t, {"min_percent": "50"})
    with db.unit_of_work(t) as uow:
        return service.create_run(uow, rid, exam_ids=[e]).id, kept, out


def test_an_entry_moves_forward_through_the_stages_with_who_when_and_a_note(
    db: BoundDatabase, tenant_a: Tenant
) -> None:
    t = tenant_a.id
    run_id, kept, out = _run(db, t)
    ann = make_user(db, t, ["shortlister"])
    heard: list[tuple[str, dict[str, Any]]] = []

    def hook(uow: UnitOfWork, event: str, data: dict[str, Any]) -> None:
        heard.append((event, data))

    announce.register(hook)
    try:
        with db.unit_of_work(t, Actor("user", str(ann.id))) as uow:
            assert stages.current(uow, run_id)[kept].stage == "screened"
            stages.move(uow, run_id, kept, "interview", "Strong essays.")
            stages.move(uow, run_id, kept, "offer")
            now = stages.current(uow, run_id)[kept]
            assert (now.stage, now.seq, now.changed_by) == ("offer", 2, ann.id)
            with pytest.raises(Conflict), uow.session.begin_nested():
                stages.move(uow, run_id, kept, "rejected")  # offer is final
            with pytest.raises(Conflict), uow.session.begin_nested():
                stages.move(uow, run_id, out, "interview")  # excluded: no stage
            with pytest.raises(Invalid), uow.session.begin_nested():
                stages.move(uow, run_id, kept, "hired")
            with pytest.raises(NotFound), uow.session.begin_nested():
                stages.move(uow, run_id, uuid.uuid4(), "interview")
            history = stages.history(uow, run_id, kept)
            assert [(c.from_stage, c.stage, c.note) for c in history] == [
                ("screened", "interview", "Strong essays."), ("interview", "offer", "")]  # fmt: skip
            assert verify_records(uow, SOURCES).ok
            with pytest.raises(DBAPIError, match="permission denied"), uow.session.begin_nested():
                uow.session.execute(text("DELETE FROM shortlist_stage_changes"))
    finally:
        announce.unregister(hook)
    events = [e for e, _ in heard]
    assert events == ["stage.changed", "stage.changed"]
    data = heard[0][1]
    assert data["attempt_id"] == str(kept) and data["rank"] == 1
    assert (data["from_stage"], data["stage"], data["changed_by"]) == (
        "screened", "interview", str(ann.id))  # fmt: skip
    assert "note" not in data  # a note may say anything about a person: it stays inside


def test_the_tenant_chooses_its_stages(db: BoundDatabase, tenant_a: Tenant) -> None:
    t = tenant_a.id
    run_id, kept, _ = _run(db, t)
    with db.unit_of_work(t) as uow:
        with pytest.raises(Invalid) as caught, uow.session.begin_nested():
            stages.configure(uow, ["new", "Bad Name"], ["new"])
        assert caught.value.extensions["field"] == "stages.1"
        with pytest.raises(Invalid), uow.session.begin_nested():
            stages.configure(uow, ["new", "done"], ["new"])  # the first stage is never final
        stages.configure(uow, ["applied", "phone", "onsite", "hired", "declined"],
                         ["hired", "declined"])  # fmt: skip
        now = stages.current(uow, run_id)[kept]
        assert now.stage == "applied"
        stages.move(uow, run_id, kept, "onsite")
        assert stages.configured(uow).targets("onsite") == ["hired", "declined"]
