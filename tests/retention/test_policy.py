"""Retention policies and legal holds: versioned, validated field by field,
written once, anchored and recomputed by `audit verify`."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from invigil.audit import service as audit_service
from invigil.cli.audit import _sources
from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.errors import Conflict, Invalid, NotFound
from invigil.retention import holds, policy
from invigil.security.keys import Keys
from invigil.settings import Settings
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for, make_invitation


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("retention-keys"))


def _doc(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(policy.DEFAULT.as_json())
    for path, value in changes.items():
        node = doc
        *parents, last = path.split("__")
        for p in parents:
            node = node[p]
        node[last] = value
    return doc


def test_the_defaults_round_trip_and_bad_fields_are_named() -> None:
    assert policy.parse(policy.DEFAULT.as_json()) == policy.DEFAULT
    assert policy.DEFAULT.rule("evidence").days_for("practice") == 30
    assert policy.DEFAULT.rule("evidence").days_for(None) == 365
    assert policy.DEFAULT.rule("results").keep_days is None
    cases = {
        "classes.evidence.keep_days": _doc(classes__evidence__keep_days=0),
        "classes.answers.then": _doc(classes__answers__then="shred"),
        "classes.candidate_identity": _doc(classes__candidate_identity__then="delete"),
        "classes.results": _doc(classes__results__from="attempt_submitted"),
        "contest_window_days": _doc(contest_window_days=61),
        "classes.answers": _doc(classes__answers__by_preset={"strict": 5}),
    }
    for where, doc in cases.items():
        with pytest.raises(Invalid) as exc:
            policy.parse(doc)
        assert exc.value.extensions["field"].startswith(where), (where, exc.value.detail)
    with pytest.raises(Invalid):
        policy.parse({**policy.DEFAULT.as_json(), "audit_log": {"keep_days": 1}})
    with pytest.raises(Invalid):
        policy.parse([])


def test_versions_are_written_once_anchored_and_verified(
    database: Database, settings: Settings, keys: Keys, owner_conn: Any
) -> None:
    tenant = make_tenant(database, settings).id
    with database.unit_of_work(tenant, Actor.operator("test")) as uow:
        assert policy.current(uow).is_default
        with pytest.raises(Invalid) as exc:
            policy.set_policy(uow, policy.DEFAULT.as_json(), reason="  ")
        assert exc.value.extensions["field"] == "reason"
        first = policy.set_policy(uow, _doc(classes__evidence__keep_days=60), reason="DPO review")
        second = policy.set_policy(uow, _doc(contest_window_days=14), reason="works council")
    assert (first.version, second.version) == (1, 2)
    with database.unit_of_work(tenant, Actor.operator("test")) as uow:
        assert policy.current(uow).version == 2
        assert policy.current(uow).document.contest_window_days == 14
        by_one = policy.by_version(uow, 1)
        assert by_one is not None and by_one.document.rule("evidence").keep_days == 60
        assert policy.by_version(uow, 0) == policy.DEFAULT_VERSION
        assert policy.by_version(uow, 9) is None
        assert [v.version for v in policy.versions(uow)] == [2, 1]
        report = audit_service.verify_tenant(uow, keys.audit, _sources())
    assert report.ok, (report.problems, report.records)
    # written once, for every role
    owner_conn.execute(text("SELECT set_config('app.tenant_id', :t, false)"), {"t": str(tenant)})
    with pytest.raises(DBAPIError, match=r"append-only|cannot|not allowed"):
        owner_conn.execute(text("UPDATE retention_policies SET reason = 'x'"))


def test_holds_cover_what_they_name_until_lifted(database: Database, settings: Settings,
                                                 keys: Keys) -> None:  # fmt: skip
    tenant = make_tenant(database, settings).id
    made = make_invitation(database, tenant, kit_for(settings))
    with database.unit_of_work(tenant, Actor.operator("test")) as uow:
        candidate = uow.session.execute(
            text("SELECT candidate_id, exam_id FROM invitations WHERE id = :i"),
            {"i": made.invitation.id},
        ).one()
        assert not holds.in_force(uow).covers(candidate_id=candidate[0])
        with pytest.raises(NotFound):
            holds.place(uow, "candidate", uuid.uuid4(), "litigation")
        with pytest.raises(Invalid) as exc:
            holds.place(uow, "exam", None, "litigation")
        assert exc.value.extensions["field"] == "subject_id"
        with pytest.raises(Invalid):
            holds.place(uow, "planet", None, "litigation")
        on_candidate = holds.place(uow, "candidate", candidate[0], "claim 2026-41")
        on_exam = holds.place(uow, "exam", candidate[1], "regulator enquiry")
        now = holds.in_force(uow)
        assert now.covers(candidate_id=candidate[0]) and now.covers(exam_id=candidate[1])
        assert not now.covers(candidate_id=uuid.uuid4()) and not now.tenant
        lifted = holds.lift(uow, on_candidate.id, "claim settled")
        assert not lifted.active and lifted.lift_reason == "claim settled"
        with pytest.raises(Conflict):
            holds.lift(uow, on_candidate.id, "again")
        assert not holds.in_force(uow).covers(candidate_id=candidate[0])
        assert holds.in_force(uow).covers(exam_id=candidate[1])
        whole = holds.place(uow, "tenant", None, "company-wide litigation hold")
        assert holds.in_force(uow).covers(candidate_id=uuid.uuid4())
        # One transaction, one created_at: compare by id, not by position.
        active = {h.id: h.active for h in holds.history(uow)}
        assert active == {on_candidate.id: False, on_exam.id: True, whole.id: True}
        report = audit_service.verify_tenant(uow, keys.audit, _sources())
    assert report.ok, (report.problems, report.records)


def test_another_tenant_sees_no_policy_or_hold(database: Database, settings: Settings) -> None:
    a, b = make_tenant(database, settings).id, make_tenant(database, settings).id
    with database.unit_of_work(a, Actor.operator("test")) as uow:
        policy.set_policy(uow, policy.DEFAULT.as_json(), reason="ours")
        hold = holds.place(uow, "tenant", None, "ours")
    with database.unit_of_work(b, Actor.operator("test")) as uow:
        assert policy.current(uow).is_default and holds.history(uow) == []
        with pytest.raises(NotFound):
            holds.lift(uow, hold.id, "theirs")
