"""The evidence bundle of one attempt (kind ``attempt``;
docs/formats/evidence-bundle.md lists its members).

Every record that the log anchors goes in as the rows hold it now, citing
the entry that anchors it: the frozen exam version (its ``content_hash``
in ``exam.published``), the consent, the answer sheet and the proctoring
event stream (chains, one canonical item a line), every result revision,
every grading mark and moderation, every release and review decision, and
every piece of evidence (its plaintext SHA-256 in ``evidence.stored``).
What the log does not anchor but a reader needs goes in as context: the
attempt row (its paper), the pinned question versions (the scoring keys),
the proctoring actions and the PDF report. Evidence bytes are decrypted
and streamed into the ZIP only for a requester who holds
``evidence:view``; anyone else gets each object's hash and size, which
the verifier checks against the log all the same.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from invigil.audit.bundle import BundleWriter, Cited, Options, Withheld
from invigil.audit.bundle_proofs import anchoring_entry
from invigil.audit.canonical import MAX_SAFE_INTEGER
from invigil.audit.log import jsonable
from invigil.audit.models import AuditEvent
from invigil.content.models import ExamVersion, QuestionVersion
from invigil.db.uow import UnitOfWork
from invigil.delivery import records as delivery_records
from invigil.delivery.models import Attempt, AttemptResult, Consent
from invigil.errors import NotFound
from invigil.evidence import service as evidence
from invigil.evidence.models import EvidenceObject
from invigil.proctoring import live
from invigil.proctoring import records as proctoring_records
from invigil.proctoring.models import ProctoringAction, ReviewDecision
from invigil.results import attempt_result, reports
from invigil.results import records as results_records
from invigil.results.models import GradingMark, ResultRelease

_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "video/webm": "webm"}
_EXAM_FIELDS = ("title", "description", "consent_text", "consent_texts", "settings", "sections")


def row_document(row: Any) -> dict[str, Any]:
    """A row as a document: every column but the tenant's; an integer
    beyond what JSON holds exactly (an attempt's seed) as a string."""
    out = {}
    for c in row.__table__.columns:
        if c.key != "tenant_id":
            value = jsonable(getattr(row, c.key))
            wide = isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER
            out[c.key] = str(value) if wide else value
    return out


def exam_document(version: ExamVersion) -> dict[str, Any]:
    """The frozen exam as :meth:`invigil.content.freeze.FrozenExam.document`
    made it, so its hash is the version's ``content_hash``."""
    document = {f: getattr(version, f) for f in _EXAM_FIELDS}
    if version.text_translations:
        document |= {
            "text_translations": version.text_translations,
            "text_language": version.text_language,
        }
    return document


def _cite(
    uow: UnitOfWork, kind: str, subject: tuple[str, str], actions: tuple[str, ...], **how: Any
) -> Cited:
    entry = anchoring_entry(uow, *subject, actions, latest=how.pop("latest", False))
    if entry is None:
        raise NotFound(f"no {' or '.join(actions)} entry records {subject[0]} {subject[1]}")
    return Cited(kind, subject[1], entry.seq, **how)


def build_attempt(
    uow: UnitOfWork, attempt_id: uuid.UUID, writer: BundleWriter, options: Options
) -> None:
    attempt = uow.scalar(select(Attempt).where(Attempt.id == attempt_id))
    if attempt is None or attempt.status != "submitted":
        raise NotFound(f"attempt {attempt_id} was not found or is not submitted")
    aid = str(attempt.id)
    _exam(uow, attempt, writer)
    writer.add_json("records/attempt.json", row_document(attempt), "context")
    for consent in uow.scalars(select(Consent).where(Consent.attempt_id == attempt.id)):
        doc = delivery_records.consent(uow, consent.id, keep=True).body
        cited = _cite(
            uow, "consent", ("consent", str(consent.id)), ("consent.given", "consent.declined")
        )
        writer.add_json(f"records/consents/{consent.id}.json", doc, "record", cited)
    sheet = delivery_records.answer_sheet(uow, attempt.id, keep=True)
    cited = _cite(uow, "answers", ("attempt", aid), ("attempt.submitted",), chain=True)
    writer.add_lines("records/answers.jsonl", sheet.body, "record", cited)
    _results(uow, attempt, writer)
    _proctoring(uow, attempt, writer)
    _evidence(uow, attempt, writer, options)
    view = attempt_result.build(uow, attempt.id, with_identity=False)
    pdf = reports.attempt_pdf(uow, view, options.locale, now=datetime.now(UTC))
    writer.add_stream("report.pdf", [pdf], "report")


def _exam(uow: UnitOfWork, attempt: Attempt, writer: BundleWriter) -> None:
    version = uow.scalar(
        select(ExamVersion).where(
            ExamVersion.exam_id == attempt.exam_id, ExamVersion.version == attempt.exam_version
        )
    )
    if version is None:
        raise NotFound(f"exam version {attempt.exam_version} was not found")
    entry = uow.scalar(
        select(AuditEvent)
        .where(
            AuditEvent.action == "exam.published",
            AuditEvent.subject_id == str(attempt.exam_id),
            AuditEvent.payload["version_id"].astext == str(version.id),
        )
        .limit(1)
    )
    if entry is None:
        raise NotFound(f"no exam.published entry records exam version {version.id}")
    cited = Cited("exam_version", str(attempt.exam_id), entry.seq, "content_hash")
    writer.add_json("records/exam_version.json", exam_document(version), "record", cited)
    ids = [uuid.UUID(slot["version_id"]) for slot in attempt.paper]
    versions = uow.scalars(
        select(QuestionVersion).where(QuestionVersion.id.in_(ids)).order_by(QuestionVersion.id)
    )
    writer.add_json(
        "records/question_versions.json",
        {
            str(v.id): jsonable(
                {
                    "question_id": v.question_id,
                    "version": v.version,
                    "category": v.category,
                    "points": v.points,
                    "language": v.language,
                    "body": v.body,
                }
            )
            for v in versions
        },
        "context",
    )


def _results(uow: UnitOfWork, attempt: Attempt, writer: BundleWriter) -> None:
    for r in uow.scalars(
        select(AttemptResult)
        .where(AttemptResult.attempt_id == attempt.id)
        .order_by(AttemptResult.revision)
    ):
        cited = _cite(
            uow, "result", ("attempt_result", str(r.id)), ("result.recorded",),
            field="document_sha256",
        )  # fmt: skip
        writer.add_json(f"records/results/{r.revision:04d}.json", r.document, "record", cited)
    marks = uow.scalars(
        select(GradingMark).where(GradingMark.attempt_id == attempt.id).order_by(GradingMark.id)
    )
    for m in marks:
        doc = results_records.mark(uow, m.id, keep=True)
        cited = _cite(uow, "mark", ("grading_mark", str(m.id)), (doc.recorded_by,))
        writer.add_json(f"records/marks/{m.id}.json", doc.body, "record", cited)
    releases = uow.scalars(
        select(ResultRelease)
        .where(ResultRelease.attempt_id == attempt.id)
        .order_by(ResultRelease.id)
    )
    for rel in releases:
        doc = results_records.release(uow, rel.id, keep=True)
        cited = _cite(uow, "release", ("result_release", str(rel.id)), ("result.released",))
        writer.add_json(f"records/releases/{rel.id}.json", doc.body, "record", cited)


def _proctoring(uow: UnitOfWork, attempt: Attempt, writer: BundleWriter) -> None:
    stream = proctoring_records.event_stream(uow, attempt.id, keep=True)
    sealed = proctoring_records.sealed(uow, attempt.id)
    if sealed is None:
        raise NotFound(f"the event stream of attempt {attempt.id} was never sealed")
    cited = Cited("events", str(attempt.id), sealed.seq, chain=True)
    writer.add_lines("records/events.jsonl", stream.body, "record", cited)
    actions = uow.scalars(
        select(ProctoringAction)
        .where(ProctoringAction.attempt_id == attempt.id)
        .order_by(ProctoringAction.id)
    )
    writer.add_json("records/actions.json", [row_document(a) for a in actions], "context")
    decisions = uow.scalars(
        select(ReviewDecision)
        .where(ReviewDecision.attempt_id == attempt.id)
        .order_by(ReviewDecision.id)
    )
    for d in decisions:
        doc = proctoring_records.decision(uow, d.id, keep=True)
        cited = _cite(uow, "review_decision", ("review_decision", str(d.id)), ("review.decided",))
        writer.add_json(f"records/review_decisions/{d.id}.json", doc.body, "record", cited)
    # What proctors did live (a message, time, a pause, an end, a room check)
    # and what the candidate answered: each row's document, as anchored.
    for x in live.of_attempt(uow, attempt.id):
        action = (live.ACTIONS[x.kind],)
        cited = _cite(uow, live.KIND, ("live_intervention", str(x.id)), action)
        writer.add_json(f"records/interventions/{x.id}.json", live.document(x), "record", cited)


def _evidence(uow: UnitOfWork, attempt: Attempt, writer: BundleWriter, options: Options) -> None:
    objects = uow.scalars(
        select(EvidenceObject)
        .where(
            EvidenceObject.subject_type == "attempt", EvidenceObject.subject_id == str(attempt.id)
        )
        .order_by(EvidenceObject.kind, EvidenceObject.created_at, EvidenceObject.id)
    )
    for obj in objects:
        entry = anchoring_entry(uow, "evidence_object", str(obj.id), ("evidence.stored",))
        if entry is None:
            raise NotFound(f"no evidence.stored entry records evidence object {obj.id}")
        if not options.show_evidence:
            writer.withhold(
                Withheld(str(obj.id), obj.kind, obj.plaintext_sha256, obj.plaintext_size, entry.seq)
            )
            continue
        _, stream = evidence.open_object(uow, options.services.evidence, obj.id)
        ext = _EXTENSIONS.get(obj.content_type, "bin")
        cited = Cited("evidence", str(obj.id), entry.seq, "sha256")
        writer.add_stream(f"evidence/{obj.kind}/{obj.id}.{ext}", stream, "evidence", cited)
