"""The evidence bundle of one shortlist run (kind ``shortlist``;
docs/formats/evidence-bundle.md lists its members).

Every record goes in as the rows hold it now, citing the entry that
anchors it: the frozen rule set version (``shortlist.rules_versioned``),
the run exactly as :mod:`invigil.shortlists.records` anchors it (rules,
cohort, counts and the ordered list, each entry by its sha256), every
stage change of the run (``shortlist.stage_changed``), and for each
attempt the run considered the result revision it read: the latest one
recorded before the run's own entry (``result.recorded``). Each entry's
facts go in as context (``records/entries/NNNN.json``): the verifier
checks that they hash to what the run anchored, that they are the cited
results' numbers, and re-ranks them by the frozen rules.

Nothing else: no evidence, no answers, no names or emails. Candidates are
their ids and the pseudonyms the audit log uses. ``report.txt`` is a short
summary a person can read before running the verifier.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from invigil.audit.bundle import BundleWriter, Cited, Options
from invigil.audit.bundle_proofs import anchoring_entry
from invigil.audit.log import jsonable
from invigil.audit.models import AuditEvent
from invigil.db.uow import UnitOfWork
from invigil.delivery.models import AttemptResult
from invigil.errors import NotFound
from invigil.results.pseudonyms import pseudonym
from invigil.shortlists import records
from invigil.shortlists.models import Entry, Run, StageChange


def _cite(uow: UnitOfWork, kind: str, subject: tuple[str, str], action: str) -> Cited:
    entry = anchoring_entry(uow, *subject, (action,))
    if entry is None:
        raise NotFound(f"no {action} entry records {subject[0]} {subject[1]}")
    return Cited(kind, subject[1], entry.seq)


def build_run(uow: UnitOfWork, run_id: uuid.UUID, writer: BundleWriter, options: Options) -> None:
    run = uow.scalar(select(Run).where(Run.id == run_id))
    if run is None:
        raise NotFound(f"shortlist {run_id} was not found")
    rid = str(run.id)
    version = records.rules_version(uow, run.rule_set_version_id, keep=True)
    cited = _cite(uow, "shortlist_rules", ("shortlist_rule_set_version", version.id),
                  "shortlist.rules_versioned")  # fmt: skip
    writer.add_json("records/rule_set_version.json", version.body, "record", cited)
    record = records.run(uow, run.id, keep=True)
    run_cited = _cite(uow, "shortlist_run", ("shortlist_run", rid), "shortlist.run_completed")
    writer.add_json("records/run.json", record.body, "record", run_cited)
    entries = uow.scalars(select(Entry).where(Entry.run_id == run.id).order_by(Entry.position))
    for e in entries:
        document = jsonable({f: getattr(e, f) for f in records.ENTRY_FIELDS})
        writer.add_json(f"records/entries/{e.position:04d}.json", document, "context")
    changes = uow.scalars(
        select(StageChange)
        .where(StageChange.run_id == run.id)
        .order_by(StageChange.attempt_id, StageChange.seq)
    )
    for c in changes:
        doc = records.stage_change(uow, c.id, keep=True).body
        cited = _cite(uow, "shortlist_stage", ("shortlist_stage_change", str(c.id)),
                      "shortlist.stage_changed")  # fmt: skip
        writer.add_json(f"records/stage_changes/{c.id}.json", doc, "record", cited)
    for e in entries:
        _result(uow, e.attempt_id, run_cited.seq, writer)
    writer.add_stream("report.txt", [_summary(run, entries, list(changes)).encode()], "report")


def _result(uow: UnitOfWork, attempt_id: uuid.UUID, before: int, writer: BundleWriter) -> None:
    """The result revision the run read: the attempt's latest recorded
    before the run's entry (none: the run found no result)."""
    entry = uow.scalar(
        select(AuditEvent)
        .where(
            AuditEvent.action == "result.recorded",
            AuditEvent.payload["attempt_id"].astext == str(attempt_id),
            AuditEvent.seq < before,
        )
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )
    if entry is None:
        return
    result = uow.get(AttemptResult, uuid.UUID(entry.subject_id), label="result")
    cited = Cited("result", str(result.id), entry.seq, "document_sha256")
    writer.add_json(f"records/results/{attempt_id}.json", result.document, "record", cited)


def _summary(run: Run, entries: list[Entry], changes: list[StageChange]) -> str:
    lines = [
        f"Evidence bundle of shortlist run {run.id}",
        f"Completed {jsonable(run.completed_at)} with rule set version {run.rule_set_version_id}",
        f"(rules sha256 {run.rules_sha256}) over exams {', '.join(run.exam_ids)}.",
        f"{run.considered} considered, {run.shortlisted} shortlisted, "
        f"{len(changes)} stage changes since.",
        "",
        "Shortlisted (rank, candidate, attempt, percent):",
    ]
    for e in entries:
        if e.rank is not None:
            lines.append(f"  {e.rank:>4}  {pseudonym(e.attempt_id)}  {e.attempt_id}  {e.percent}")
    lines += ["", "Not shortlisted (candidate, attempt, first rule failed):"]
    for e in entries:
        if e.rank is None:
            failed: dict[str, Any] = e.failed or {}
            lines.append(f"  {pseudonym(e.attempt_id)}  {e.attempt_id}  {failed.get('rule')}")
    lines += [
        "",
        "No names, emails, answers or evidence are in this bundle: candidates are",
        "named by their ids and pseudonyms only. To check it offline:",
        "  invigil bundle verify THIS.zip   (or: python -m invigil.verifier THIS.zip)",
        "It re-runs the frozen rules over the facts in records/entries/ and compares",
        "the order and the exclusions with the anchored run (records/run.json).",
        "",
    ]
    return "\n".join(lines)
