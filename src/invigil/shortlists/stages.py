"""Stages a shortlisted candidate moves through, per tenant.

The tenant's stages are an ordered list, some of them final (default:
screened -> interview -> offer / rejected, offer and rejected final). Every
ranked entry starts in the first stage; a move goes forward (to any later
stage) and never out of a final one. Each move is a new row, never an
edit (append-only, numbered per entry so that two people moving one entry
at once cannot both win): the current stage is the latest row's. Each move
is anchored in the audit log (``shortlist.stage_changed``) and announced
as ``stage.changed`` in its transaction.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from invigil import audit
from invigil.audit.log import timestamp
from invigil.audit.records import anchor
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid, NotFound
from invigil.i18n import N_
from invigil.shortlists import announce, records
from invigil.shortlists.models import Entry, Run, Settings, StageChange

DEFAULT_STAGES = ("screened", "interview", "offer", "rejected")
DEFAULT_FINAL = ("offer", "rejected")
LABELS = {
    "screened": N_("screened"),
    "interview": N_("interview"),
    "offer": N_("offer"),
    "rejected": N_("rejected"),
}
STAGE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_STAGES = 12
MAX_NOTE = 2000


@dataclass(frozen=True)
class Stages:
    stages: tuple[str, ...]
    final: frozenset[str]

    def targets(self, current: str) -> list[str]:
        """Where an entry in ``current`` may move: any later stage, none from a final one."""
        if current in self.final or current not in self.stages:
            return []
        return list(self.stages[self.stages.index(current) + 1 :])


@dataclass(frozen=True)
class Current:
    stage: str
    seq: int  # 0: never moved
    changed_by: uuid.UUID | None
    changed_at: datetime | None
    note: str


def configured(uow: UnitOfWork) -> Stages:
    found = uow.scalar(select(Settings))
    if found is None:
        return Stages(DEFAULT_STAGES, frozenset(DEFAULT_FINAL))
    return Stages(tuple(found.stages), frozenset(found.final_stages))


def configure(uow: UnitOfWork, names: list[str], final: list[str]) -> Stages:
    """Set the tenant's stages (moves already made keep their names)."""
    if not 2 <= len(names) <= MAX_STAGES or len(set(names)) != len(names):
        raise Invalid(f"name 2 to {MAX_STAGES} different stages", field="stages")
    for i, name in enumerate(names):
        if not STAGE.match(name):
            raise Invalid("a stage is lower case letters, digits and _", field=f"stages.{i}")
    if not set(final) <= set(names) or names[0] in final or not final:
        raise Invalid("final stages are some of the stages, never the first", field="final")
    found = uow.scalar(select(Settings))
    if found is None:
        found = Settings(tenant_id=uow.tenant, stages=names, final_stages=final)
        uow.add(found)
    else:
        found.stages, found.final_stages = names, final
    uow.flush()
    audit.record(uow, "shortlist.stages_changed", ("shortlist_settings", found.id),
                 {"stages": names, "final": final})  # fmt: skip
    return Stages(tuple(names), frozenset(final))


def current(uow: UnitOfWork, run_id: uuid.UUID) -> dict[uuid.UUID, Current]:
    """Each ranked entry's current stage (entries never moved: the first stage)."""
    first = configured(uow).stages[0]
    out = {
        a: Current(first, 0, None, None, "")
        for a in uow.scalars(
            select(Entry.attempt_id).where(Entry.run_id == run_id, Entry.rank.is_not(None))
        )
    }
    for change in uow.scalars(
        select(StageChange).where(StageChange.run_id == run_id).order_by(StageChange.seq)
    ):
        out[change.attempt_id] = Current(
            change.stage, change.seq, change.changed_by, change.changed_at, change.note
        )
    return out


def history(uow: UnitOfWork, run_id: uuid.UUID, attempt_id: uuid.UUID) -> list[StageChange]:
    return uow.scalars(
        select(StageChange)
        .where(StageChange.run_id == run_id, StageChange.attempt_id == attempt_id)
        .order_by(StageChange.seq)
    )


def move(
    uow: UnitOfWork, run_id: uuid.UUID, attempt_id: uuid.UUID, stage: str, note: str = ""
) -> StageChange:
    """Move a ranked entry of the run to ``stage``."""
    uow.get(Run, run_id, label="shortlist")
    entry = uow.scalar(select(Entry).where(Entry.run_id == run_id, Entry.attempt_id == attempt_id))
    if entry is None:
        raise NotFound(f"attempt {attempt_id} is not in shortlist {run_id}")
    if entry.rank is None:
        raise Conflict("an excluded candidate has no stage", field="attempt_id")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise Invalid(f"the note has at most {MAX_NOTE} characters", field="note")
    known = configured(uow)
    now = current(uow, run_id)[attempt_id]
    if stage not in known.stages:
        raise Invalid(f"{stage!r} is not one of the stages: {', '.join(known.stages)}",
                      field="stage")  # fmt: skip
    if stage not in known.targets(now.stage):
        raise Conflict(f"an entry in {now.stage} cannot move to {stage}", field="stage")
    actor = uuid.UUID(uow.actor.id) if uow.actor.kind == "user" else None
    change = StageChange(
        tenant_id=uow.tenant, run_id=run_id, attempt_id=attempt_id, seq=now.seq + 1,
        from_stage=now.stage, stage=stage, note=note, changed_by=actor,
        changed_at=datetime.now(UTC),
    )  # fmt: skip
    uow.add(change)
    try:
        with uow.session.begin_nested():
            uow.flush()
    except IntegrityError:
        raise Conflict("someone moved this entry just now: load the page again") from None
    record = records.stage_change(uow, change.id)
    audit.record(
        uow,
        "shortlist.stage_changed",
        ("shortlist_stage_change", change.id),
        {"run_id": str(run_id), "attempt_id": str(attempt_id), "from": now.stage,
         "stage": stage, "anchor": anchor(record.kind, record.sha256)},
    )  # fmt: skip
    announce.announce(uow, "stage.changed", changed_payload(entry, change))
    return change


def changed_payload(entry: Entry, change: StageChange) -> dict[str, Any]:
    """``stage.changed`` (docs/formats/shortlist-events.md)."""
    return {
        "run_id": str(entry.run_id),
        "attempt_id": str(entry.attempt_id),
        "candidate_id": str(entry.candidate_id),
        "exam_id": str(entry.exam_id),
        "rank": entry.rank,
        "from_stage": change.from_stage,
        "stage": change.stage,
        "seq": change.seq,
        "changed_by": None if change.changed_by is None else str(change.changed_by),
        "changed_at": timestamp(change.changed_at),
    }
