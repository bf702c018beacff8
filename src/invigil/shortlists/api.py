"""The shortlists API under ``/api/v1``: positions, rule sets and their
versions, runs (create, list, one with its entries and exclusions, run
again), stage moves, the tenant's stages, and a run's export. Reading needs
``shortlist:view``, changing ``shortlist:run``, moving ``shortlist:stage``;
names and emails need ``candidate:view`` too (else pseudonyms). No answer
carries evidence or a link to it."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Candidate
from invigil.results.exports import XLSX_TYPE
from invigil.results.pseudonyms import code_of
from invigil.security.permissions import Permission as P
from invigil.shortlists import exports, service, stages
from invigil.shortlists.models import Entry, Run
from invigil.shortlists.schemas import (
    EntryOut,
    PositionIn,
    PositionOut,
    RuleSetIn,
    RuleSetOut,
    RunIn,
    RunOut,
    RunsOut,
    StageChangeOut,
    StageIn,
    StagesIn,
    StagesOut,
    VersionIn,
    VersionOut,
)
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1", tags=["shortlists"])


def _position(uow: UnitOfWork, position_id: uuid.UUID) -> PositionOut:
    p = service.require_position(uow, position_id)
    return PositionOut(id=p.id, name=p.name, description=p.description,
                       exam_ids=service.position_exams(uow, p.id))  # fmt: skip


@router.get("/shortlist-positions", response_model=list[PositionOut])
def positions(uow: UnitOfWork = requires(P.SHORTLIST_VIEW)) -> list[PositionOut]:
    return [PositionOut(id=p.id, name=p.name, description=p.description, exam_ids=ids)
            for p, ids in service.list_positions(uow)]  # fmt: skip


@router.post("/shortlist-positions", response_model=PositionOut, status_code=201)
def create_position(body: PositionIn, uow: UnitOfWork = requires(P.SHORTLIST_RUN)) -> PositionOut:
    p = service.save_position(uow, body.name, body.description, body.exam_ids)
    return _position(uow, p.id)


@router.get("/shortlist-positions/{position_id}", response_model=PositionOut)
def position(position_id: uuid.UUID, uow: UnitOfWork = requires(P.SHORTLIST_VIEW)) -> PositionOut:
    return _position(uow, position_id)


@router.put("/shortlist-positions/{position_id}", response_model=PositionOut)
def change_position(
    position_id: uuid.UUID, body: PositionIn, uow: UnitOfWork = requires(P.SHORTLIST_RUN)
) -> PositionOut:
    service.save_position(uow, body.name, body.description, body.exam_ids, position_id)
    return _position(uow, position_id)


def _rule_set(uow: UnitOfWork, rule_set_id: uuid.UUID) -> RuleSetOut:
    r = service.require_rule_set(uow, rule_set_id)
    return RuleSetOut(
        id=r.id,
        name=r.name,
        position_id=r.position_id,
        versions=[VersionOut(id=v.id, version=v.version, rules=v.rules,
                             rules_sha256=v.rules_sha256, created_at=v.created_at)
                  for v in service.versions(uow, r.id)],
    )  # fmt: skip


@router.get("/shortlist-rule-sets", response_model=list[RuleSetOut])
def rule_sets(uow: UnitOfWork = requires(P.SHORTLIST_VIEW)) -> list[RuleSetOut]:
    return [_rule_set(uow, r.id) for r, _ in service.list_rule_sets(uow)]


@router.post("/shortlist-rule-sets", response_model=RuleSetOut, status_code=201)
def create_rule_set(body: RuleSetIn, uow: UnitOfWork = requires(P.SHORTLIST_RUN)) -> RuleSetOut:
    r, _ = service.create_rule_set(
        uow, body.name, body.rules.model_dump(mode="json"), body.position_id
    )
    return _rule_set(uow, r.id)


@router.get("/shortlist-rule-sets/{rule_set_id}", response_model=RuleSetOut)
def rule_set(rule_set_id: uuid.UUID, uow: UnitOfWork = requires(P.SHORTLIST_VIEW)) -> RuleSetOut:
    return _rule_set(uow, rule_set_id)


@router.post(
    "/shortlist-rule-sets/{rule_set_id}/versions", response_model=VersionOut, status_code=201
)
def add_version(
    rule_set_id: uuid.UUID, body: VersionIn, uow: UnitOfWork = requires(P.SHORTLIST_RUN)
) -> VersionOut:
    v = service.add_version(uow, rule_set_id, body.rules.model_dump(mode="json"))
    return VersionOut(id=v.id, version=v.version, rules=v.rules, rules_sha256=v.rules_sha256,
                      created_at=v.created_at)  # fmt: skip


def _entries(uow: UnitOfWork, found: service.RunView, rows: list[Entry]) -> list[EntryOut]:
    identities = P.CANDIDATE_VIEW.value in uow.claims.permissions
    people = {}
    if identities and rows:
        people = {i: (n, m) for i, n, m in uow.session.execute(
            select(Candidate.id, Candidate.name, Candidate.email).where(
                Candidate.id.in_({e.candidate_id for e in rows})))}  # fmt: skip
    out = []
    for e in rows:
        name, email = people.get(e.candidate_id, (None, None))
        now = found.stages.get(e.attempt_id)
        out.append(EntryOut(
            position=e.position, rank=e.rank, attempt_id=e.attempt_id,
            candidate_id=e.candidate_id, exam_id=e.exam_id, pseudonym=code_of(e.attempt_id),
            candidate_name=name, candidate_email=email,
            percentage=None if e.percent is None else float(e.percent), passed=e.passed,
            integrity=e.integrity, time_taken_seconds=e.seconds,
            submitted_at=e.submitted_at, categories=e.categories, met=e.met, failed=e.failed,
            stage=now.stage if now else None, stage_changed_at=now.changed_at if now else None,
        ))  # fmt: skip
    return out


def _run(uow: UnitOfWork, run: Run, full: bool) -> RunOut:
    found = service.view(uow, run.id)
    return RunOut(
        id=run.id, rule_set_id=found.rule_set.id, rule_set_name=found.rule_set.name,
        rule_set_version=found.version.version, rules=run.rules, rules_sha256=run.rules_sha256,
        position_id=run.position_id, exam_ids=[uuid.UUID(i) for i in run.exam_ids],
        rerun_of=run.rerun_of, completed_at=run.completed_at, considered=run.considered,
        shortlisted=run.shortlisted,
        entries=_entries(uow, found, found.ranked) if full else None,
        excluded=_entries(uow, found, found.excluded) if full else None,
    )  # fmt: skip


@router.get("/shortlists", response_model=RunsOut)
def runs(uow: UnitOfWork = requires(P.SHORTLIST_VIEW)) -> RunsOut:
    """The newest 100 runs (without their entries)."""
    return RunsOut(items=[_run(uow, r, False) for r in service.list_runs(uow)])


@router.post("/shortlists", response_model=RunOut, status_code=201)
def create_run(body: RunIn, uow: UnitOfWork = requires(P.SHORTLIST_RUN)) -> RunOut:
    run = service.create_run(uow, body.rule_set_id, version=body.version,
                             position_id=body.position_id, exam_ids=body.exam_ids)  # fmt: skip
    return _run(uow, run, True)


@router.get("/shortlists/{run_id}", response_model=RunOut)
def run(run_id: uuid.UUID, uow: UnitOfWork = requires(P.SHORTLIST_VIEW)) -> RunOut:
    return _run(uow, service.require_run(uow, run_id), True)


@router.post("/shortlists/{run_id}/rerun", response_model=RunOut, status_code=201)
def rerun(run_id: uuid.UUID, uow: UnitOfWork = requires(P.SHORTLIST_RUN)) -> RunOut:
    """The run's frozen rule set version over its exams again, as a new run."""
    return _run(uow, service.rerun(uow, run_id), True)


@router.post(
    "/shortlists/{run_id}/entries/{attempt_id}/stage",
    response_model=StageChangeOut,
    status_code=201,
)
def move(
    run_id: uuid.UUID,
    attempt_id: uuid.UUID,
    body: StageIn,
    uow: UnitOfWork = requires(P.SHORTLIST_STAGE),
) -> StageChangeOut:
    c = stages.move(uow, run_id, attempt_id, body.stage, body.note)
    return StageChangeOut(id=c.id, run_id=c.run_id, attempt_id=c.attempt_id, seq=c.seq,
                          from_stage=c.from_stage, stage=c.stage, note=c.note,
                          changed_by=c.changed_by, changed_at=c.changed_at)  # fmt: skip


@router.get(
    "/shortlists/{run_id}/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, XLSX_TYPE: {}}}},
)
def export(
    run_id: uuid.UUID,
    format: Literal["csv", "xlsx"] = "csv",
    uow: UnitOfWork = requires(P.SHORTLIST_VIEW),
) -> StreamingResponse:
    found = service.view(uow, run_id)
    identities = P.CANDIDATE_VIEW.value in uow.claims.permissions
    return exports.response(uow, format, found, identities=identities)


@router.get("/shortlist-stages", response_model=StagesOut)
def get_stages(uow: UnitOfWork = requires(P.SHORTLIST_VIEW)) -> StagesOut:
    s = stages.configured(uow)
    return StagesOut(stages=list(s.stages), final=[x for x in s.stages if x in s.final])


@router.put("/shortlist-stages", response_model=StagesOut)
def put_stages(body: StagesIn, uow: UnitOfWork = requires(P.SHORTLIST_RUN)) -> StagesOut:
    s = stages.configure(uow, body.stages, body.final)
    return StagesOut(stages=list(s.stages), final=[x for x in s.stages if x in s.final])
