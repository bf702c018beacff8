"""The purge: each class of candidate data goes when its period under the
retention policy is over, unless a legal hold covers it; a person is erased
on request (:func:`erase_person`). Every batch writes one signed receipt
(:mod:`invigil.retention.receipts`) and its audit entry in its transaction.

Subjects. Evidence, proctoring events, answers and results are purged per
attempt, counted from the attempt's event under the policy version the
attempt froze at its start (``attempts.retention_version``; none: the
version in force now); evidence keeps the days of the exam's proctoring
preset. Identity and invitations/mail are purged per candidate, counted
from the candidate's latest submission or activity, under the version their
latest attempt froze; a candidate who may still sit an exam (an open
invitation, a running attempt) is not purged. Staff's words about a person
(review reasons, void notes, grading comments, shortlist notes, certificate
reasons) go with their identity (ADR 0063); words left about a person
already anonymised go with the next run.

Evidence is crypto-shredded: each object's bytes are deleted from the
store (local folder or S3) once the batch has committed (a store delete
cannot roll back, so the objects wait in ``retention_object_deletions``
and a crash is resumed by the next run), and an attempt's objects are under
its candidate's data key: the key is destroyed as soon as no object under it
is left (ADR 0058), so a candidate with one expired attempt and a recent
one keeps the key until the recent one's evidence goes too.

Batches are bounded (``BATCH`` subjects per transaction), one tenant at a
time; each takes the tenant's purge lock for its transaction only, so two
runs never purge one subject twice and nothing else waits on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from invigil import audit
from invigil.audit.models import BundleRequest
from invigil.certification.models import Certificate
from invigil.db import platform
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery.models import Candidate, Invitation
from invigil.errors import Invalid
from invigil.evidence.models import DataKey, EvidenceObject, Upload, UploadChunk
from invigil.evidence.service import Evidence
from invigil.logs import get_logger
from invigil.proctoring.contests import SUBJECT as CONTEST
from invigil.retention import holds, policy, receipts, staff_words
from invigil.retention.models import LegalHold, ObjectDeletion, Purge, PurgedRecord
from invigil.security.keys import KeyRing
from invigil.webhooks import erasure as webhook_erasure

log = get_logger(__name__)

DELETE_TASK = "invigil:retention.delete_objects"
# The anchored records platform_retention_results deletes, and their tables.
RESULT_TABLES = {
    "result": "attempt_results",
    "release": "result_releases",
    "mark": "grading_marks",
    "rubric_suggestion": "rubric_suggestions",
    "suggestion_discard": "rubric_suggestion_discards",
}  # retention.jobs.DELETE_OBJECTS, as deferred
BATCH = 100
MAX_REASON = 2000
ATTEMPT_CLASSES = ("evidence", "proctoring_events", "answers", "results")
CANDIDATE_CLASSES = ("invitations_mail", "candidate_identity")
# The order a run (and an erasure) takes: mail before identity, whose
# anonymised e-mail no longer finds the mail sent to it.
ORDER = (*ATTEMPT_CLASSES, *CANDIDATE_CLASSES)
ERASED_DOMAIN = "erased.invalid"
ERASED_NAME = "Erased candidate"
POLICY_REASON = "retention period over"


@dataclass(frozen=True)
class Subject:
    """An attempt or a candidate, with the moments its periods count from."""

    type: str
    id: uuid.UUID
    candidate_id: uuid.UUID
    exam_ids: tuple[uuid.UUID, ...]
    version: int | None
    preset: str | None
    events: dict[str, datetime | None]


_ATTEMPTS = """
    SELECT a.id, a.candidate_id, ARRAY[a.exam_id], a.retention_version,
           coalesce(v.settings->>'proctoring_preset', 'standard'),
           a.submitted_at,
           (SELECT max(r.released_at) FROM result_releases r WHERE r.attempt_id = a.id),
           (SELECT CASE WHEN bool_or(c.expires_at IS NULL) THEN NULL ELSE max(c.expires_at) END
              FROM certificates c WHERE c.holder_id = a.candidate_id),
           (SELECT max(greatest(x.created_at, x.last_seen_at, x.submitted_at))
              FROM attempts x WHERE x.candidate_id = a.candidate_id)
    FROM attempts a
    JOIN exam_versions v
      ON v.tenant_id = a.tenant_id AND v.exam_id = a.exam_id AND v.version = a.exam_version
    WHERE {where}
      AND NOT EXISTS (SELECT 1 FROM retention_purges p WHERE p.data_class = :cls
                      AND p.subject_type = 'attempt' AND p.subject_id = a.id)
    ORDER BY a.submitted_at NULLS LAST, a.id
"""

_CANDIDATES = """
    SELECT c.id, c.id,
           ARRAY(SELECT DISTINCT i.exam_id FROM invitations i WHERE i.candidate_id = c.id),
           (SELECT x.retention_version FROM attempts x WHERE x.candidate_id = c.id
             ORDER BY x.created_at DESC, x.id LIMIT 1),
           NULL,
           (SELECT max(x.submitted_at) FROM attempts x WHERE x.candidate_id = c.id),
           NULL,
           (SELECT CASE WHEN bool_or(k.expires_at IS NULL) THEN NULL ELSE max(k.expires_at) END
              FROM certificates k WHERE k.holder_id = c.id),
           greatest(c.created_at,
                    (SELECT max(greatest(x.created_at, x.last_seen_at, x.submitted_at))
                       FROM attempts x WHERE x.candidate_id = c.id),
                    (SELECT max(i.created_at) FROM invitations i WHERE i.candidate_id = c.id))
    FROM candidates c
    WHERE {where}
      AND NOT EXISTS (SELECT 1 FROM retention_purges p WHERE p.data_class = :cls
                      AND p.subject_type = 'candidate' AND p.subject_id = c.id)
    ORDER BY c.created_at, c.id
"""

# A candidate who may still sit an exam is never purged under the policy.
_IDLE = """
    NOT EXISTS (SELECT 1 FROM attempts x WHERE x.candidate_id = c.id
                AND x.status = 'in_progress')
    AND NOT EXISTS (SELECT 1 FROM invitations i WHERE i.candidate_id = c.id
                    AND i.status = 'active' AND i.closes_at > :now
                    AND NOT EXISTS (SELECT 1 FROM attempts y WHERE y.invitation_id = i.id
                                    AND y.status = 'submitted'))
"""


def _subjects(
    uow: UnitOfWork,
    data_class: str,
    *,
    now: datetime,
    candidate: uuid.UUID | None = None,
    ids: Sequence[uuid.UUID] | None = None,
) -> list[Subject]:
    """The subjects of a class not purged yet (of one candidate: erasure;
    among ``ids``: one batch)."""
    params: dict[str, Any] = {"cls": data_class, "now": now}
    if data_class in ATTEMPT_CLASSES:
        kind = "attempt"
        if candidate is None:
            where = "a.status = 'submitted'"
        else:
            where, params["candidate"] = "a.candidate_id = :candidate", candidate
        if ids is not None:
            where, params["ids"] = where + " AND a.id = ANY(:ids)", list(ids)
        sql = _ATTEMPTS.format(where=where)
    else:
        kind = "candidate"
        if candidate is None:
            where = _IDLE
        else:
            where, params["candidate"] = "c.id = :candidate", candidate
        if ids is not None:
            where, params["ids"] = where + " AND c.id = ANY(:ids)", list(ids)
        sql = _CANDIDATES.format(where=where)
    out = []
    for row in uow.session.execute(text(sql), params).all():
        subject_id, cand, exams, version, preset, submitted, released, expired, active = row
        out.append(
            Subject(
                kind, subject_id, cand, tuple(exams or ()), version, preset,
                {
                    "attempt_submitted": submitted,
                    "result_released": released,
                    "certificate_expired": expired,
                    "candidate_last_active": active,
                },
            )
        )  # fmt: skip
    return out


class _Versions:
    """Policy versions by number, read once per transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.now = policy.current(uow)
        self._seen: dict[int, policy.PolicyVersion] = {}

    def of(self, subject: Subject) -> policy.PolicyVersion:
        if subject.version is None:
            return self.now
        if subject.version not in self._seen:
            found = policy.by_version(self.uow, subject.version)
            self._seen[subject.version] = found or self.now
        return self._seen[subject.version]


def due_at(subject: Subject, data_class: str, version: policy.PolicyVersion) -> datetime | None:
    """When the subject's period for ``data_class`` ends (None: kept)."""
    rule = version.document.rule(data_class)
    days = rule.days_for(subject.preset) if data_class == "evidence" else rule.keep_days
    start = subject.events.get(rule.start)
    if days is None or start is None:
        return None
    return start + timedelta(days=days)


def _held(subject: Subject, in_force: holds.InForce) -> bool:
    if in_force.covers(candidate_id=subject.candidate_id):
        return True
    return any(in_force.covers(exam_id=e) for e in subject.exam_ids)


@dataclass
class _Done:
    """What one batch removed, for its receipt."""

    rows: dict[str, int] = field(default_factory=dict)
    objects: list[EvidenceObject] = field(default_factory=list)
    keys: list[uuid.UUID] = field(default_factory=list)
    records: list[tuple[str, str]] = field(default_factory=list)
    bundles: list[BundleRequest] = field(default_factory=list)

    def count(self, table: str, n: int) -> None:
        if n:
            self.rows[table] = self.rows.get(table, 0) + n


def _scalar_int(uow: UnitOfWork, sql: str, params: dict[str, Any]) -> int:
    value = uow.session.execute(text(sql), params).scalar()
    return int(value or 0)


def _destroy_key(uow: UnitOfWork, key_id: uuid.UUID, receipt_id: uuid.UUID, done: _Done) -> None:
    """Crypto-shred one data key (overwrite and drop its wrapping), audited."""
    key = uow.session.execute(
        update(DataKey)
        .where(DataKey.id == key_id, DataKey.destroyed_at.is_(None))
        .values(wrapped_key=None, destroyed_at=func.now())
        .returning(DataKey.subject_type, DataKey.subject_id)
    ).first()
    if key is None:
        return
    done.keys.append(key_id)
    audit.record(
        uow,
        "evidence.key_destroyed",
        ("evidence_data_key", key_id),
        {"subject": {"type": key[0], "id": key[1]}, "reason": f"retention receipt {receipt_id}"},
    )


def _evidence(
    uow: UnitOfWork,
    subjects: Sequence[Subject],
    receipt_id: uuid.UUID,
    done: _Done,
    *,
    candidate: uuid.UUID | None = None,
) -> None:
    """The attempts' objects (and, erasing a candidate, the candidate's own)
    go on the pending list; open uploads are aborted; each data key left
    with no object is destroyed."""
    names = [str(s.id) for s in subjects]
    of_subjects = (EvidenceObject.subject_type == "attempt") & EvidenceObject.subject_id.in_(names)
    if candidate is not None:
        of_subjects = of_subjects | (
            (EvidenceObject.subject_type == "candidate")
            & (EvidenceObject.subject_id == str(candidate))
        )
    pending = exists().where(ObjectDeletion.object_id == EvidenceObject.id)
    objects = uow.scalars(select(EvidenceObject).where(of_subjects, ~pending))
    done.objects.extend(objects)
    uploads = uow.scalars(
        select(Upload).where(
            Upload.subject_type == "attempt", Upload.subject_id.in_(names), Upload.status == "open"
        )
    )
    for upload in uploads:
        upload.status = "aborted"
        gone = uow.session.execute(delete(UploadChunk).where(UploadChunk.upload_id == upload.id))
        done.count("evidence_upload_chunks", int(getattr(gone, "rowcount", 0) or 0))
    done.count("evidence_uploads", len(uploads))
    leaving = [o.id for o in objects]
    for key_id in sorted({o.data_key_id for o in objects}):
        left = _scalar_int(
            uow,
            "SELECT count(*) FROM evidence_objects o WHERE o.data_key_id = :k "
            "AND NOT EXISTS (SELECT 1 FROM retention_object_deletions d WHERE d.object_id = o.id) "
            "AND o.id <> ALL(:leaving)",
            {"k": key_id, "leaving": leaving},
        )
        if left == 0:
            _destroy_key(uow, key_id, receipt_id, done)
    _bundles(uow, [s.id for s in subjects], candidate, receipt_id, done)


# A bundle not yet purged or expired: its object (if built) and key go.
_LIVE_BUNDLE = ("queued", "building", "ready", "failed")


def _bundles(
    uow: UnitOfWork,
    attempt_ids: Sequence[uuid.UUID],
    candidate: uuid.UUID | None,
    receipt_id: uuid.UUID,
    done: _Done,
) -> None:
    """The evidence bundles built (or being built) about the attempts and,
    erasing a candidate, about their certificates, before their own expiry:
    each one's key is destroyed, its object put on the deletion list and
    its row marked ``purged`` (kept: its anchored hash still verifies, and
    audit verify names the receipt). A bundle still queued or building is
    purged too, so its job finds nothing to build or throws its object
    away (:func:`invigil.audit.bundle_jobs.build`)."""
    about = (BundleRequest.kind == "attempt") & BundleRequest.subject_id.in_(list(attempt_ids))
    if candidate is not None:
        held = select(Certificate.id).where(Certificate.holder_id == candidate)
        about = about | ((BundleRequest.kind == "certificate") & BundleRequest.subject_id.in_(held))
    rows = uow.scalars(
        select(BundleRequest)
        .where(about, BundleRequest.state.in_(_LIVE_BUNDLE))
        .order_by(BundleRequest.created_at, BundleRequest.id)
        .with_for_update()
    )
    for row in rows:
        live = uow.scalars(
            select(DataKey.id).where(
                DataKey.subject_type == "bundle",
                DataKey.subject_id == str(row.id),
                DataKey.destroyed_at.is_(None),
            )
        )
        for key_id in live:
            _destroy_key(uow, key_id, receipt_id, done)
        was = row.state
        row.state = "purged"
        if row.store_key and row.region and was != "failed":
            done.bundles.append(row)
        audit.record(
            uow, "bundle.purged", row,
            {"receipt": receipt_id, "was": was, "sha256": row.sha256},
        )  # fmt: skip
        if row.sha256 is not None:
            done.records.append(("bundle", str(row.id)))
    done.count("bundle_requests", len(rows))


def _events(uow: UnitOfWork, subjects: Sequence[Subject], mode: str, done: _Done) -> None:
    """The attempts' events (deleted or anonymised) and the texts of their
    contests, the candidate's own words (blanked in either mode; the row
    stays: a review decision answers it)."""
    for s in subjects:
        n = _scalar_int(uow, "SELECT platform_retention_events(:a, :m)", {"a": s.id, "m": mode})
        done.count("proctoring_events", n)
        if n:
            done.records.append(("events", str(s.id)))
        contested = uow.session.execute(
            text("SELECT id FROM proctoring_contests WHERE attempt_id = :a AND text <> ''"),
            {"a": s.id},
        ).scalars()
        changed = [str(c) for c in contested]
        n = _scalar_int(uow, "SELECT platform_retention_contests(:a)", {"a": s.id})
        done.count("proctoring_contests", n)
        done.records.extend((CONTEST, c) for c in changed)


def _responses(uow: UnitOfWork, subjects: Sequence[Subject], rows: bool, done: _Done) -> None:
    """Answers (``rows``) and the responses their results repeat."""
    for s in subjects:
        results = uow.session.execute(
            text(
                "SELECT id FROM attempt_results WHERE attempt_id = :a "
                "AND document @? '$.questions[*] ? (exists(@.response) "
                "|| exists(@.canonical_response))'"
            ),
            {"a": s.id},
        ).scalars()
        changed = [str(r) for r in results]
        n = _scalar_int(
            uow, "SELECT platform_retention_answers(:a, :rows)", {"a": s.id, "rows": rows}
        )
        done.count("attempt_answers", n)
        done.count("attempt_results", len(changed))
        if n:
            done.records.append(("answers", str(s.id)))
        done.records.extend(("result", r) for r in changed)
        if rows:  # the answers class: the AI's rationales quote the answers (0058)
            quoted = (
                uow.session.execute(
                    text("SELECT out_id FROM platform_retention_suggestion_texts(:a)"), {"a": s.id}
                )
                .scalars()
                .all()
            )
            done.count("rubric_suggestions", len(quoted))
            done.records.extend(("rubric_suggestion", q) for q in quoted)


def _results(uow: UnitOfWork, subjects: Sequence[Subject], mode: str, done: _Done) -> None:
    """Anonymise: the responses go from the result documents (scores,
    points and times stay; the identity is the candidate_identity class).
    Delete: the results go, every revision with its cells, releases (and
    their links), graders' marks and the AI's rubric suggestions
    (``platform_retention_results``, migration 0057); the attempt says when
    (``results_deleted_at``). Shortlists already run and certificates
    already issued keep the figures they were made from (ADR 0058)."""
    if mode != "delete":
        _responses(uow, subjects, False, done)
        return
    for s in subjects:
        cells = _scalar_int(
            uow, "SELECT count(*) FROM result_cells WHERE attempt_id = :a", {"a": s.id}
        )
        done.count("result_cells", cells)
        gone = uow.session.execute(
            text("SELECT out_kind, out_id FROM platform_retention_results(:a)"), {"a": s.id}
        ).all()
        for kind, record_id in gone:
            done.count(RESULT_TABLES[kind], 1)
            done.records.append((kind, record_id))


def _invitations(uow: UnitOfWork, candidate_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    return list(
        uow.session.scalars(select(Invitation.id).where(Invitation.candidate_id.in_(candidate_ids)))
    )


def _mail(uow: UnitOfWork, subjects: Sequence[Subject], done: _Done) -> None:
    """Mail sent to the candidates (bodies, addresses, sealed links) or
    about them (a lapsed certificate's escalation to a group's managers)
    and their guest links' sealed tokens; links still open are ended."""
    ids = [s.id for s in subjects]
    invitations = _invitations(uow, ids)
    gone = uow.session.execute(
        text(
            "DELETE FROM mail_outbox m WHERE m.invitation_id = ANY(:inv) "
            "OR lower(m.to_address) IN (SELECT lower(c.email) FROM candidates c "
            "WHERE c.id = ANY(:ids)) "
            # the recertification steps' mails, to group managers too (they
            # name the holder): the notices keep their ids
            "OR m.id::text IN (SELECT v #>> '{}' FROM cert_notices n JOIN certificates k "
            "ON k.tenant_id = n.tenant_id AND k.id = n.certificate_id "
            "CROSS JOIN LATERAL jsonb_path_query(jsonb_build_array(n.details->'mail_ids', "
            "n.details->'manager_mail_ids', n.details->'holder_mail_id'), "
            "'lax $[*][*] ? (@.type() == \"string\")') AS v "
            "WHERE k.holder_id = ANY(:ids))"
        ),
        {"inv": invitations, "ids": ids},
    )
    done.count("mail_outbox", int(getattr(gone, "rowcount", 0) or 0))
    links = uow.session.execute(
        text(
            "UPDATE guest_links SET token_sealed = NULL, sealed_key_id = NULL, "
            "ended_at = coalesce(ended_at, now()), "
            "ended_reason = coalesce(ended_reason, 'revoked') "
            "WHERE invitation_id = ANY(:inv) AND (ended_at IS NULL OR token_sealed IS NOT NULL)"
        ),
        {"inv": invitations},
    )
    done.count("guest_links", int(getattr(links, "rowcount", 0) or 0))


def erased_email(candidate_id: uuid.UUID) -> str:
    return f"erased-{candidate_id}@{ERASED_DOMAIN}"


def _identity(uow: UnitOfWork, subjects: Sequence[Subject], done: _Done) -> None:
    """Name, e-mail and external reference anonymised (``erased_at`` set:
    the public verification page then says the holder was erased); the
    address and user agent of each consent dropped (its text and decision
    stay), and those the attempts were heard from live; the webhook bodies
    sent about the person rewritten without them (:mod:`invigil.webhooks.erasure`)."""
    ids = [s.id for s in subjects]
    invitations = _invitations(uow, ids)
    consents = uow.session.execute(
        text(
            "SELECT id FROM consents WHERE invitation_id = ANY(:inv) "
            "AND (address <> '' OR user_agent <> '')"
        ),
        {"inv": invitations},
    ).scalars()
    changed = [str(c) for c in consents]
    n = _scalar_int(uow, "SELECT platform_retention_consents(:inv)", {"inv": invitations})
    done.count("consents", n)
    # Where the attempts were heard from, seen live (migration 0059).
    n = _scalar_int(uow, "SELECT platform_retention_client_changes(:c)", {"c": ids})
    done.count("attempt_client_changes", n)
    done.records.extend(("consent", c) for c in changed)
    for s in subjects:
        person = uow.session.get(Candidate, (uow.tenant, s.id))
        words = [person.name, person.email, person.external_ref] if person else []
        if person is not None and person.erased_at is not None:
            words = []  # already anonymised: its words are the erased ones
        sent = webhook_erasure.erase_person(uow, s.id, words)
        done.count("webhook_deliveries", sent.deliveries)
        done.count("webhook_attempts", sent.attempts)
        _staff_words(uow, s.id, done)
        row = uow.session.execute(
            update(Candidate)
            .where(Candidate.id == s.id)
            .values(
                name=ERASED_NAME,
                email=erased_email(s.id),
                external_ref="",
                erased_at=func.coalesce(Candidate.erased_at, func.now()),
            )
            .returning(Candidate.id)
        ).first()
        done.count("candidates", 1 if row else 0)


def _staff_words(uow: UnitOfWork, candidate_id: uuid.UUID, done: _Done) -> None:
    """Staff's own words about the person (:mod:`invigil.retention.staff_words`)."""
    removed = staff_words.remove(uow, candidate_id)
    for table, n in removed.rows.items():
        done.count(table, n)
    done.records.extend(removed.records)


def _words_left(uow: UnitOfWork, ids: Sequence[uuid.UUID] | None = None) -> list[Subject]:
    """Candidates whose identity is purged but who still have staff's words
    about them (purged before migration 0052 reached those words, or words
    written since, such as a regrade's reason), that no hold covers now."""
    where = "" if ids is None else "AND p.subject_id = ANY(:ids)"
    rows = uow.session.execute(
        text(
            "SELECT p.subject_id, ARRAY(SELECT DISTINCT i.exam_id FROM invitations i "
            "WHERE i.candidate_id = p.subject_id) FROM retention_purges p "
            "WHERE p.data_class = 'candidate_identity' AND p.subject_type = 'candidate' "
            f"{where} AND {staff_words.WORDS_LEFT.format(c='p.subject_id')} ORDER BY p.subject_id"
        ),
        {"ids": list(ids or ())},
    ).all()
    in_force = holds.in_force(uow)
    found = [Subject("candidate", c, c, tuple(e or ()), None, None, {}) for c, e in rows]
    return [s for s in found if not _held(s, in_force)]


def _act(
    uow: UnitOfWork,
    data_class: str,
    subjects: Sequence[Subject],
    then: str,
    receipt_id: uuid.UUID,
    done: _Done,
    candidate: uuid.UUID | None = None,
) -> None:
    if data_class == "evidence":
        _evidence(uow, subjects, receipt_id, done, candidate=candidate)
    elif data_class == "proctoring_events":
        _events(uow, subjects, then, done)
    elif data_class == "answers":
        _responses(uow, subjects, True, done)
    elif data_class == "results":
        _results(uow, subjects, then, done)
    elif data_class == "invitations_mail":
        _mail(uow, subjects, done)
    elif data_class == "candidate_identity":
        _identity(uow, subjects, done)
    else:  # pragma: no cover - CLASSES is closed
        raise KeyError(data_class)


def _lock(uow: UnitOfWork) -> None:
    uow.session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('retention_purge:' || :t))"),
        {"t": str(uow.tenant)},
    )


def _purge(
    uow: UnitOfWork,
    data_class: str,
    subjects: Sequence[Subject],
    *,
    version: policy.PolicyVersion,
    trigger: str,
    reason: str,
    request_id: uuid.UUID | None = None,
    candidate: uuid.UUID | None = None,
    signer: KeyRing | None = None,
    extra: Callable[[uuid.UUID, _Done], None] | None = None,
    words_only: bool = False,
) -> uuid.UUID:
    """Purge one batch of one class and write its receipt (one transaction).
    ``words_only``: identities purged already, whose staff's words are left
    (no new ``retention_purges`` row: the class was purged once)."""
    receipt_id = uuid.uuid4()
    done = _Done()
    then = version.document.rule(data_class).then
    if words_only:
        for s in subjects:
            _staff_words(uow, s.id, done)
    else:
        _act(uow, data_class, subjects, then, receipt_id, done, candidate)
    if extra is not None:
        extra(receipt_id, done)
    receipts.write(
        uow,
        receipt_id=receipt_id,
        policy_version=version.version,
        data_class=data_class,
        trigger=trigger,
        reason=reason,
        request_id=request_id,
        subjects=[{"type": s.type, "id": str(s.id)} for s in subjects],
        counts={
            "subjects": len(subjects),
            "objects": len(done.objects),
            "bytes": sum(o.stored_size for o in done.objects),
            "rows": dict(sorted(done.rows.items())),
            "action": then,
        },
        keys_destroyed=[str(k) for k in done.keys],
        objects_deleted=[str(o.id) for o in done.objects],
        signer=signer,
    )
    for s in subjects if not words_only else ():
        uow.add(
            Purge(
                id=uuid.uuid4(), tenant_id=uow.tenant, data_class=data_class,
                subject_type=s.type, subject_id=s.id, receipt_id=receipt_id,
            )
        )  # fmt: skip
    for o in done.objects:
        uow.add(
            ObjectDeletion(
                id=uuid.uuid4(), tenant_id=uow.tenant, object_id=o.id, receipt_id=receipt_id,
                region=o.region, store_key=o.store_key,
            )
        )  # fmt: skip
    for b in done.bundles:
        assert b.region is not None and b.store_key is not None
        uow.add(
            ObjectDeletion(
                id=uuid.uuid4(), tenant_id=uow.tenant, bundle_id=b.id, receipt_id=receipt_id,
                region=b.region, store_key=b.store_key,
            )
        )  # fmt: skip
    uow.flush()
    for kind, record_id in sorted(set(done.records)):
        uow.session.execute(
            insert(PurgedRecord)
            .values(
                tenant_id=uow.tenant, id=uuid.uuid4(), kind=kind, record_id=record_id,
                receipt_id=receipt_id,
            )
            .on_conflict_do_nothing(constraint="uq_retention_purged_records_record")
        )  # fmt: skip
    return receipt_id


# ---------------------------------------------------------------- store deletes


def delete_pending(
    db: Database, tenant_id: uuid.UUID, evidence: Evidence, *, limit: int = 500
) -> int:
    """Delete the stored bytes of objects purged by committed batches (a
    missing object is fine: a crash may have come after the store's delete).
    Returns how many were deleted; run again, it finds none."""
    total = 0
    while True:
        with db.unit_of_work(tenant_id, Actor.system("retention purge")) as uow:
            rows = uow.scalars(
                select(ObjectDeletion)
                .where(ObjectDeletion.deleted_at.is_(None))
                .order_by(ObjectDeletion.created_at, ObjectDeletion.id)
                .limit(limit)
            )
            if not rows:
                return total
            for row in rows:
                evidence.stores.for_region(row.region).delete(row.store_key)
                row.deleted_at = datetime.now(UTC)
            uow.flush()
            total += len(rows)


# ---------------------------------------------------------------- the run


@dataclass
class Run:
    """What one run over one tenant did."""

    receipts: list[uuid.UUID] = field(default_factory=list)
    subjects: dict[str, int] = field(default_factory=dict)
    objects_deleted: int = 0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "receipts": [str(r) for r in self.receipts],
            "subjects": dict(self.subjects),
            "objects_deleted": self.objects_deleted,
            "problems": list(self.problems),
        }


def _due(
    uow: UnitOfWork, data_class: str, now: datetime, batch: int
) -> list[tuple[int, list[uuid.UUID]]]:
    """The batches to purge: the subjects whose period is over at ``now``
    and no hold covers, read once per class and run (each batch then reads
    its own subjects again under the lock), grouped by policy version (one
    receipt, one version), at most ``batch`` each."""
    versions = _Versions(uow)
    in_force = holds.in_force(uow)
    by_version: dict[int, list[uuid.UUID]] = {}
    for s in _subjects(uow, data_class, now=now):
        v = versions.of(s)
        at = due_at(s, data_class, v)
        if at is None or at > now or _held(s, in_force):
            continue
        by_version.setdefault(v.version, []).append(s.id)
    return [
        (version, ids[i : i + batch])
        for version, ids in sorted(by_version.items())
        for i in range(0, len(ids), batch)
    ]


def _due_batch(
    uow: UnitOfWork, data_class: str, now: datetime, ids: Sequence[uuid.UUID]
) -> tuple[policy.PolicyVersion, list[Subject]] | None:
    """One batch's subjects, read again in its transaction: those purged
    meanwhile, now held, or no longer due drop out."""
    versions = _Versions(uow)
    in_force = holds.in_force(uow)
    chosen: list[Subject] = []
    version: policy.PolicyVersion | None = None
    for s in _subjects(uow, data_class, now=now, ids=ids):
        v = versions.of(s)
        if version is not None and v.version != version.version:
            continue  # cannot happen within one batch, unless a version was rewritten
        at = due_at(s, data_class, v)
        if at is None or at > now or _held(s, in_force):
            continue
        version = v
        chosen.append(s)
    return (version, chosen) if version is not None else None


def run_tenant(
    db: Database,
    tenant_id: uuid.UUID,
    evidence: Evidence,
    *,
    now: datetime,
    batch: int = BATCH,
    classes: Iterable[str] = ORDER,
    signer: KeyRing | None = None,
    actor: Actor | None = None,
) -> Run:
    """Purge everything of one tenant whose period is over at ``now``, a
    batch per transaction, then delete the stored objects and verify."""
    if not 1 <= batch <= 1000:
        raise Invalid("batch must be 1-1000", field="batch")
    actor = actor or Actor.system("retention purge")
    done = Run()
    done.objects_deleted += delete_pending(db, tenant_id, evidence)  # a crashed run's
    for data_class in classes:
        with db.unit_of_work(tenant_id, actor) as uow:
            batches = _due(uow, data_class, now, batch)
        for _, ids in batches:
            with db.unit_of_work(tenant_id, actor) as uow:
                _lock(uow)
                found = _due_batch(uow, data_class, now, ids)
                if found is None:
                    continue
                version, subjects = found
                receipt = _purge(
                    uow, data_class, subjects, version=version, trigger="policy",
                    reason=POLICY_REASON, signer=signer,
                )  # fmt: skip
            done.receipts.append(receipt)
            done.subjects[data_class] = done.subjects.get(data_class, 0) + len(subjects)
            done.objects_deleted += delete_pending(db, tenant_id, evidence)
    if "candidate_identity" in classes:
        _catch_up_words(db, tenant_id, actor, done, batch=batch, signer=signer)
    from invigil.retention import verify

    with db.unit_of_work(tenant_id, actor) as uow:
        done.problems = verify.check(uow, evidence, done.receipts).problems
    return done


def _catch_up_words(
    db: Database, tenant_id: uuid.UUID, actor: Actor, done: Run, *, batch: int,
    signer: KeyRing | None,
) -> None:  # fmt: skip
    """Staff's words left about people whose identity is purged go now,
    under the version in force, a receipt per batch."""
    with db.unit_of_work(tenant_id, actor) as uow:
        ids = [s.id for s in _words_left(uow)]
    for i in range(0, len(ids), batch):
        with db.unit_of_work(tenant_id, actor) as uow:
            _lock(uow)
            subjects = _words_left(uow, ids[i : i + batch])
            if not subjects:
                continue
            receipt = _purge(
                uow, "candidate_identity", subjects, version=policy.current(uow),
                trigger="policy", reason=staff_words.REASON, signer=signer, words_only=True,
            )  # fmt: skip
        done.receipts.append(receipt)
        done.subjects["candidate_identity"] = done.subjects.get("candidate_identity", 0) + len(
            subjects
        )


def run_all(db: Database, evidence: Evidence, *, now: datetime) -> dict[str, int]:
    """Every tenant in turn; one tenant's failure is logged and does not stop
    the others."""
    receipts_written = subjects = failed = 0
    for tenant_id in platform.tenant_ids(db):
        try:
            done = run_tenant(db, tenant_id, evidence, now=now)
        except Exception:
            failed += 1
            log.exception("retention.purge_failed", tenant=str(tenant_id))
            continue
        receipts_written += len(done.receipts)
        subjects += sum(done.subjects.values())
        if done.problems:
            log.error("retention.verify_failed", tenant=str(tenant_id), problems=done.problems)
    return {"receipts": receipts_written, "subjects": subjects, "failed": failed}


# ---------------------------------------------------------------- what is due


@dataclass(frozen=True)
class Due:
    data_class: str
    overdue: int
    next_30_days: int
    held: int
    kept: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "data_class": self.data_class,
            "overdue": self.overdue,
            "next_30_days": self.next_30_days,
            "held": self.held,
            "kept": self.kept,
        }


def schedule(uow: UnitOfWork, *, now: datetime, days: int = 30) -> list[Due]:
    """Per class: subjects whose period is over (the next run purges them),
    those whose period ends within ``days``, those a hold keeps, and those
    kept with no end (no period, or its event has not happened)."""
    versions = _Versions(uow)
    in_force = holds.in_force(uow)
    horizon = now + timedelta(days=days)
    out = []
    for data_class in ORDER:
        overdue = soon = held = kept = 0
        for s in _subjects(uow, data_class, now=now):
            at = due_at(s, data_class, versions.of(s))
            if at is None:
                kept += 1
            elif at <= horizon and _held(s, in_force):
                held += 1
            elif at <= now:
                overdue += 1
            elif at <= horizon:
                soon += 1
        out.append(Due(data_class, overdue, soon, held, kept))
    return out


# ---------------------------------------------------------------- erasure


@dataclass(frozen=True)
class Erased:
    """The receipts an erasure wrote, and what it kept: the ids of the legal
    holds that kept parts of the person's data (nothing they cover was
    purged). The audit log (ids and hashes only) is always kept and not
    listed."""

    receipts: list[uuid.UUID]
    kept: list[str]


def _holds_on(uow: UnitOfWork, candidate_id: uuid.UUID, exams: set[uuid.UUID]) -> list[LegalHold]:
    """The holds in force that cover the candidate or one of their exams."""
    from invigil.retention.models import HoldLift

    lifted = exists().where(HoldLift.hold_id == LegalHold.id)
    rows = uow.scalars(select(LegalHold).where(~lifted).order_by(LegalHold.created_at))
    return [
        h
        for h in rows
        if h.scope == "tenant"
        or (h.scope == "candidate" and h.subject_id == candidate_id)
        or (h.scope == "exam" and h.subject_id in exams)
    ]


def erase_person(
    uow: UnitOfWork,
    evidence: Evidence,
    candidate_id: uuid.UUID,
    *,
    reason: str,
    request_id: uuid.UUID | None = None,
    signer: KeyRing | None = None,
) -> Erased:
    """Erase one candidate now, whatever the periods: every class, one
    receipt per class (trigger 'erasure', ``reason`` stated in each), in the
    caller's transaction. What a legal hold covers is kept (``kept`` names
    the holds): a hold on the candidate or the tenant keeps everything; a
    hold on an exam keeps that exam's attempts, and the identity and mail
    their records need. The audit log is kept (ids and hashes only).

    The evidence objects' bytes are deleted from the store after the commit
    by the ``retention.delete_objects`` job this queues (and by the next
    purge run, whichever comes first)."""
    text_reason = reason.strip() if isinstance(reason, str) else ""
    if not text_reason or len(text_reason) > MAX_REASON:
        raise Invalid(f"reason must be 1-{MAX_REASON} characters", field="reason")
    uow.get(Candidate, candidate_id, label="candidate")
    _lock(uow)
    exams = set(
        uow.session.scalars(
            select(Invitation.exam_id).where(Invitation.candidate_id == candidate_id)
        )
    )
    covering = _holds_on(uow, candidate_id, exams)
    kept = [str(h.id) for h in covering]
    held_exams = {h.subject_id for h in covering if h.scope == "exam"}
    whole = any(h.scope in ("tenant", "candidate") for h in covering)
    version = policy.current(uow)
    written: list[uuid.UUID] = []
    if whole:
        return Erased(written, kept)
    now = datetime.now(UTC)
    for data_class in ORDER:
        subjects = [
            s
            for s in _subjects(uow, data_class, now=now, candidate=candidate_id)
            if not (set(s.exam_ids) & held_exams)
        ]
        if data_class in CANDIDATE_CLASSES and held_exams:
            continue  # the held attempts still need to say whose they are
        extra = None
        if data_class == "evidence" and not held_exams:

            def extra(receipt_id: uuid.UUID, done: _Done) -> None:
                # Nothing held: every key of the candidate goes (links sealed
                # under it too), whether or not objects were left under it.
                live = uow.scalars(
                    select(DataKey.id).where(
                        DataKey.subject_type == "candidate",
                        DataKey.subject_id == str(candidate_id),
                        DataKey.destroyed_at.is_(None),
                    )
                )
                for key_id in live:
                    _destroy_key(uow, key_id, receipt_id, done)

        if not subjects and extra is None:
            continue
        if not subjects and data_class == "evidence":
            has_key = uow.scalar(
                select(
                    exists().where(
                        DataKey.subject_type == "candidate",
                        DataKey.subject_id == str(candidate_id),
                        DataKey.destroyed_at.is_(None),
                    )
                )
            )
            if not has_key:
                continue
        receipt = _purge(
            uow, data_class, subjects, version=version, trigger="erasure", reason=text_reason,
            request_id=request_id, candidate=None if held_exams else candidate_id,
            signer=signer, extra=extra,
        )  # fmt: skip
        written.append(receipt)
    if written:
        uow.defer(DELETE_TASK, queue="maintenance", tenant_id=str(uow.tenant))
    return Erased(written, kept)
