"""Positions, rule sets and shortlist runs: the rules of the shortlists domain.

A rule set's rules change only by a new version (the old one stays, written
once). A run freezes the version's canonical rules and their sha256, and the
cohort's exams (a position's exams as they were at that moment), reads the
facts (:mod:`invigil.shortlists.cohort`), ranks them
(:func:`invigil.shortlists.rules.evaluate`) and stores every candidate,
ranked or excluded; the run's record is anchored by ``shortlist.run_completed``
and announced as ``shortlist.completed`` in the same transaction. Running
the same version over the same cohort again gives the identical list as
long as the results did not change (:func:`rerun`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select

from invigil import audit
from invigil.audit.log import timestamp
from invigil.audit.records import anchor, document_sha256
from invigil.content import exams
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid, NotFound
from invigil.shortlists import announce, cohort, records, rules, stages
from invigil.shortlists.models import Entry, Position, PositionExam, RuleSet, RuleSetVersion, Run

MAX_EXAMS = 50
CENT = Decimal("0.01")


def user_id(uow: UnitOfWork) -> uuid.UUID | None:
    return uuid.UUID(uow.actor.id) if uow.actor.kind == "user" else None


def _name(value: str, what: str = "name") -> str:
    value = (value or "").strip()
    if not value or len(value) > 200:
        raise Invalid(f"the {what} has 1 to 200 characters", field=what)
    return value


def _exam_ids(uow: UnitOfWork, exam_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    unique = list(dict.fromkeys(exam_ids))
    if not 1 <= len(unique) <= MAX_EXAMS:
        raise Invalid(f"choose 1 to {MAX_EXAMS} exams", field="exam_ids")
    for exam_id in unique:
        exams.require_exam(uow, exam_id)  # another tenant's exam: 404, like a missing one
    return unique


# --- positions -------------------------------------------------------------------


def position_exams(uow: UnitOfWork, position_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        uow.session.scalars(
            select(PositionExam.exam_id)
            .where(PositionExam.position_id == position_id)
            .order_by(PositionExam.exam_id)
        )
    )


def require_position(uow: UnitOfWork, position_id: uuid.UUID) -> Position:
    return uow.get(Position, position_id, label="position")


def _taken(uow: UnitOfWork, model: Any, name: str, own: uuid.UUID | None = None) -> None:
    found = uow.scalar(select(model.id).where(model.name == name))
    if found is not None and found != own:
        raise Conflict(f"the name {name!r} is taken", field="name")


def save_position(
    uow: UnitOfWork,
    name: str,
    description: str,
    exam_ids: Sequence[uuid.UUID],
    position_id: uuid.UUID | None = None,
) -> Position:
    """Create a position, or (``position_id``) change its name, text and exams."""
    if position_id is not None:
        require_position(uow, position_id)
    name = _name(name)
    if len(description or "") > 2000:
        raise Invalid("the description has at most 2000 characters", field="description")
    ids = _exam_ids(uow, exam_ids)
    if position_id is None:
        _taken(uow, Position, name)
        position = Position(tenant_id=uow.tenant, name=name, description=description or "")
        uow.add(position)
        uow.flush()
        action = "shortlist.position_created"
    else:
        position = require_position(uow, position_id)
        _taken(uow, Position, name, position.id)
        position.name, position.description = name, description or ""
        uow.session.execute(delete(PositionExam).where(PositionExam.position_id == position.id))
        action = "shortlist.position_changed"
    for exam_id in ids:
        uow.add(PositionExam(tenant_id=uow.tenant, position_id=position.id, exam_id=exam_id))
    uow.flush()
    audit.record(uow, action, ("shortlist_position", position.id),
                 {"name": name, "exam_ids": sorted(str(i) for i in ids)})  # fmt: skip
    return position


def list_positions(uow: UnitOfWork) -> list[tuple[Position, list[uuid.UUID]]]:
    found = uow.scalars(select(Position).order_by(Position.name))
    return [(p, position_exams(uow, p.id)) for p in found]


# --- rule sets --------------------------------------------------------------------


def require_rule_set(uow: UnitOfWork, rule_set_id: uuid.UUID) -> RuleSet:
    return uow.get(RuleSet, rule_set_id, label="rule set")


def versions(uow: UnitOfWork, rule_set_id: uuid.UUID) -> list[RuleSetVersion]:
    return uow.scalars(
        select(RuleSetVersion)
        .where(RuleSetVersion.rule_set_id == rule_set_id)
        .order_by(RuleSetVersion.version.desc())
    )


def latest_version(uow: UnitOfWork, rule_set_id: uuid.UUID) -> RuleSetVersion:
    found = versions(uow, rule_set_id)
    if not found:
        raise NotFound(f"rule set {rule_set_id} has no version")
    return found[0]


def _new_version(uow: UnitOfWork, rule_set: RuleSet, data: Any) -> RuleSetVersion:
    canonical = rules.parse(data)
    top = uow.scalar(
        select(func.max(RuleSetVersion.version)).where(RuleSetVersion.rule_set_id == rule_set.id)
    )
    version = RuleSetVersion(
        tenant_id=uow.tenant,
        rule_set_id=rule_set.id,
        version=(top or 0) + 1,
        rules=canonical,
        rules_sha256=document_sha256(canonical),
        created_by=user_id(uow),
    )
    uow.add(version)
    uow.flush()
    record = records.rules_version(uow, version.id)
    audit.record(
        uow,
        "shortlist.rules_versioned",
        ("shortlist_rule_set_version", version.id),
        {"rule_set_id": str(rule_set.id), "version": version.version, "rules": canonical,
         "rules_sha256": version.rules_sha256, "anchor": anchor(record.kind, record.sha256)},
    )  # fmt: skip
    return version


def create_rule_set(
    uow: UnitOfWork, name: str, data: Any, position_id: uuid.UUID | None = None
) -> tuple[RuleSet, RuleSetVersion]:
    """A rule set and its version 1."""
    name = _name(name)
    if position_id is not None:
        require_position(uow, position_id)
    _taken(uow, RuleSet, name)
    rules.parse(data)  # the rules' errors before anything is written
    rule_set = RuleSet(tenant_id=uow.tenant, name=name, position_id=position_id)
    uow.add(rule_set)
    uow.flush()
    audit.record(uow, "shortlist.rule_set_created", ("shortlist_rule_set", rule_set.id),
                 {"name": name})  # fmt: skip
    return rule_set, _new_version(uow, rule_set, data)


def add_version(uow: UnitOfWork, rule_set_id: uuid.UUID, data: Any) -> RuleSetVersion:
    """The rule set's next version (runs made with earlier ones keep theirs)."""
    rule_set = uow.session.get(RuleSet, (uow.tenant, rule_set_id), with_for_update=True)
    if rule_set is None:
        raise NotFound(f"rule set {rule_set_id} was not found")
    return _new_version(uow, rule_set, data)


def list_rule_sets(uow: UnitOfWork) -> list[tuple[RuleSet, RuleSetVersion | None]]:
    return [(r, next(iter(versions(uow, r.id)), None))
            for r in uow.scalars(select(RuleSet).order_by(RuleSet.name))]  # fmt: skip


# --- runs -------------------------------------------------------------------------


def require_run(uow: UnitOfWork, run_id: uuid.UUID) -> Run:
    return uow.get(Run, run_id, label="shortlist")


def _version(uow: UnitOfWork, rule_set_id: uuid.UUID, number: int | None) -> RuleSetVersion:
    require_rule_set(uow, rule_set_id)
    if number is None:
        return latest_version(uow, rule_set_id)
    found = uow.scalar(
        select(RuleSetVersion).where(
            RuleSetVersion.rule_set_id == rule_set_id, RuleSetVersion.version == number
        )
    )
    if found is None:
        raise NotFound(f"rule set {rule_set_id} has no version {number}", field="version")
    return found


def create_run(
    uow: UnitOfWork,
    rule_set_id: uuid.UUID,
    *,
    version: int | None = None,
    position_id: uuid.UUID | None = None,
    exam_ids: Sequence[uuid.UUID] = (),
    rerun_of: uuid.UUID | None = None,
) -> Run:
    """Rank the cohort (a position's exams, or ``exam_ids``) by the rule
    set's version (default: its latest) and store the run."""
    if (position_id is None) == (not exam_ids):
        raise Invalid("give either a position or the exams, not both", field="cohort")
    chosen = _version(uow, rule_set_id, version)
    if position_id is not None:
        require_position(uow, position_id)
        exam_ids = position_exams(uow, position_id)
        if not exam_ids:
            raise Conflict("this position groups no exam yet", field="position_id")
    ids = sorted(_exam_ids(uow, exam_ids), key=str)
    outcomes = rules.evaluate(chosen.rules, cohort.read(uow, ids))
    run = Run(
        tenant_id=uow.tenant,
        rule_set_version_id=chosen.id,
        position_id=position_id,
        exam_ids=[str(i) for i in ids],
        rules=chosen.rules,
        rules_sha256=chosen.rules_sha256,
        rerun_of=rerun_of,
        run_by=user_id(uow),
        completed_at=datetime.now(UTC),
        considered=len(outcomes),
        shortlisted=sum(1 for o in outcomes if o.rank is not None),
    )
    uow.add(run)
    uow.flush()
    for position, o in enumerate(outcomes, start=1):
        f = o.facts
        values: dict[str, Any] = {
            "run_id": run.id, "position": position, "attempt_id": f.attempt_id,
            "exam_id": f.exam_id, "candidate_id": f.candidate_id, "rank": o.rank,
            "percent": None if f.percent is None else f.percent.quantize(CENT),
            "passed": f.passed, "integrity": f.integrity, "seconds": f.seconds,
            "submitted_at": f.submitted_at,
            "categories": {k: rules.number(v) for k, v in sorted(f.categories.items())},
            "met": o.met, "failed": o.failed,
        }  # fmt: skip
        uow.add(Entry(tenant_id=uow.tenant, sha256=records.entry_sha256(values), **values))
    uow.flush()
    record = records.run(uow, run.id)
    payload = {
        "rule_set_id": str(rule_set_id),
        "version": chosen.version,
        "rules_sha256": chosen.rules_sha256,
        "exam_ids": run.exam_ids,
        "considered": run.considered,
        "shortlisted": run.shortlisted,
        "anchor": anchor(record.kind, record.sha256),
    }
    if rerun_of is not None:
        payload["rerun_of"] = str(rerun_of)
    audit.record(uow, "shortlist.run_completed", ("shortlist_run", run.id), payload)
    announce.announce(uow, "shortlist.completed", completed_payload(uow, run, chosen))
    return run


def rerun(uow: UnitOfWork, run_id: uuid.UUID) -> Run:
    """The same frozen rule set version over the same exams, as a new run."""
    old = require_run(uow, run_id)
    version = uow.get(RuleSetVersion, old.rule_set_version_id)
    return create_run(
        uow,
        version.rule_set_id,
        version=version.version,
        exam_ids=[uuid.UUID(i) for i in old.exam_ids],
        rerun_of=old.id,
    )


def list_runs(uow: UnitOfWork, limit: int = 100) -> list[Run]:
    return uow.scalars(select(Run).order_by(Run.created_at.desc(), Run.id).limit(limit))


def entries(uow: UnitOfWork, run_id: uuid.UUID) -> list[Entry]:
    return uow.scalars(select(Entry).where(Entry.run_id == run_id).order_by(Entry.position))


@dataclass(frozen=True)
class RunView:
    run: Run
    version: RuleSetVersion
    rule_set: RuleSet
    ranked: list[Entry]
    excluded: list[Entry]
    stages: dict[uuid.UUID, stages.Current]


def view(uow: UnitOfWork, run_id: uuid.UUID) -> RunView:
    run = require_run(uow, run_id)
    version = uow.get(RuleSetVersion, run.rule_set_version_id)
    found = entries(uow, run.id)
    return RunView(
        run,
        version,
        uow.get(RuleSet, version.rule_set_id),
        [e for e in found if e.rank is not None],
        [e for e in found if e.rank is None],
        stages.current(uow, run.id),
    )


def completed_payload(uow: UnitOfWork, run: Run, version: RuleSetVersion) -> dict[str, Any]:
    """``shortlist.completed`` (docs/formats/shortlist-events.md)."""
    first = stages.configured(uow).stages[0]
    return {
        "run_id": str(run.id),
        "rule_set_id": str(version.rule_set_id),
        "rule_set_version": version.version,
        "rules_sha256": run.rules_sha256,
        "position_id": None if run.position_id is None else str(run.position_id),
        "exam_ids": list(run.exam_ids),
        "completed_at": timestamp(run.completed_at),
        "considered": run.considered,
        "shortlisted": run.shortlisted,
        "excluded": run.considered - run.shortlisted,
        "entries": [
            {
                "rank": e.rank,
                "attempt_id": str(e.attempt_id),
                "candidate_id": str(e.candidate_id),
                "exam_id": str(e.exam_id),
                "percent": None if e.percent is None else str(e.percent),
                "stage": first,
            }
            for e in entries(uow, run.id)
            if e.rank is not None
        ],
    }
