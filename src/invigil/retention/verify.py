"""Checking that what the receipts say was purged is gone: each deleted
object (evidence, or a built bundle) is absent from its store (local folder
or S3), each destroyed data key has no wrapping left, and the rows of each
purged subject are gone or anonymised (webhook bodies that named an erased
candidate included). Run after each purge and by ``invigil audit verify``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from invigil.audit.anchored import stream
from invigil.db.uow import UnitOfWork
from invigil.evidence.service import Evidence
from invigil.retention.staff_words import WORDS_LEFT

SHOWN = 50


@dataclass
class Check:
    objects: int = 0
    keys: int = 0
    subjects: int = 0
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def bad(self, what: str) -> None:
        self.problem_count += 1
        if len(self.problems) < SHOWN:
            self.problems.append(what)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "objects": self.objects,
            "keys": self.keys,
            "subjects": self.subjects,
            "problems": self.problems,
            "problem_count": self.problem_count,
        }


_OBJECTS = """
    SELECT coalesce(object_id, bundle_id), receipt_id, region, store_key, deleted_at,
           bundle_id IS NOT NULL
    FROM retention_object_deletions {where} ORDER BY created_at, id
"""
_KEYS = """
    SELECT k.id, r.id FROM retention_receipts r
    CROSS JOIN LATERAL jsonb_array_elements_text(r.keys_destroyed) AS d(key_id)
    JOIN evidence_data_keys k ON k.tenant_id = r.tenant_id AND k.id = d.key_id::uuid
    WHERE (k.wrapped_key IS NOT NULL OR k.destroyed_at IS NULL) {also}
"""
_KEY_COUNT = (
    "SELECT coalesce(sum(jsonb_array_length(keys_destroyed)), 0) FROM retention_receipts r {where}"
)
# Rows a purged subject must no longer have (class, action, query naming
# the subject and its receipt).
_ROWS = (
    (
        "answers of attempt {0} are still stored (receipt {1})",
        """SELECT p.subject_id, p.receipt_id FROM retention_purges p
           WHERE p.data_class = 'answers' {also}
             AND EXISTS (SELECT 1 FROM attempt_answers x WHERE x.attempt_id = p.subject_id)""",
    ),
    (
        "proctoring events of attempt {0} keep details or bodies (receipt {1})",
        """SELECT p.subject_id, p.receipt_id FROM retention_purges p
           JOIN retention_receipts r ON r.tenant_id = p.tenant_id AND r.id = p.receipt_id
           WHERE p.data_class = 'proctoring_events' {also}
             AND EXISTS (SELECT 1 FROM proctoring_events e WHERE e.attempt_id = p.subject_id
                         AND (r.counts->>'action' = 'delete'
                              OR e.details <> '{{}}'::jsonb OR coalesce(e.body, '') <> ''))""",
    ),
    (
        "the AI's rationales about attempt {0}'s answers are still stored (receipt {1})",
        """SELECT p.subject_id, p.receipt_id FROM retention_purges p
           WHERE p.data_class = 'answers' {also}
             AND EXISTS (SELECT 1 FROM rubric_suggestions s WHERE s.attempt_id = p.subject_id
                         AND (s.overall_rationale <> ''
                              OR s.criteria @? '$[*] ? (@.rationale != "")'))""",
    ),
    (
        "a result of attempt {0} is still stored (receipt {1})",
        """SELECT p.subject_id, p.receipt_id FROM retention_purges p
           JOIN retention_receipts r ON r.tenant_id = p.tenant_id AND r.id = p.receipt_id
           WHERE p.data_class = 'results' AND r.counts->>'action' = 'delete' {also}
             AND (EXISTS (SELECT 1 FROM attempt_results x WHERE x.attempt_id = p.subject_id)
                  OR EXISTS (SELECT 1 FROM grading_marks m WHERE m.attempt_id = p.subject_id)
                  OR EXISTS (SELECT 1 FROM result_releases x
                             WHERE x.attempt_id = p.subject_id))""",
    ),
    (
        "candidate {0} still has a name, e-mail or reference (receipt {1})",
        """SELECT p.subject_id, p.receipt_id FROM retention_purges p
           JOIN candidates c ON c.tenant_id = p.tenant_id AND c.id = p.subject_id
           WHERE p.data_class = 'candidate_identity' {also}
             AND (c.email <> 'erased-' || c.id::text || '@erased.invalid'
                  OR c.external_ref <> '')""",
    ),
    (
        "a webhook delivery still names candidate {0} (receipt {1})",
        # Deliveries made before the purge (later events about the id are not its).
        """SELECT p.subject_id, p.receipt_id FROM retention_purges p
           JOIN retention_receipts r ON r.tenant_id = p.tenant_id AND r.id = p.receipt_id
           WHERE p.data_class = 'candidate_identity' {also}
             AND EXISTS (SELECT 1 FROM webhook_event_people w
                         JOIN webhook_deliveries d
                           ON d.tenant_id = w.tenant_id AND d.event_id = w.event_id
                         WHERE w.person_id = p.subject_id AND d.created_at <= r.purged_at
                           AND position(convert_to(p.subject_id::text, 'UTF8') IN d.body) > 0)""",
    ),
    (
        "an evidence bundle of attempt {0} is still kept (receipt {1})",
        """SELECT p.subject_id, p.receipt_id FROM retention_purges p
           JOIN retention_receipts r ON r.tenant_id = p.tenant_id AND r.id = p.receipt_id
           WHERE p.data_class = 'evidence' {also}
             AND EXISTS (SELECT 1 FROM bundle_requests b WHERE b.kind = 'attempt'
                         AND b.subject_id = p.subject_id AND b.created_at <= r.purged_at
                         AND b.state IN ('queued', 'building', 'ready'))""",
    ),
    (
        "staff's words about candidate {0} are still stored (receipt {1})",
        """SELECT p.subject_id, p.receipt_id FROM retention_purges p
           WHERE p.data_class = 'candidate_identity' {also}
             AND """
        + WORDS_LEFT.format(c="p.subject_id").replace("{", "{{").replace("}", "}}"),
    ),
    (
        "mail to candidate {0} is still in the outbox (receipt {1})",
        # Mail written before the purge (a candidate invited again later gets new mail).
        """SELECT p.subject_id, p.receipt_id FROM retention_purges p
           JOIN retention_receipts r ON r.tenant_id = p.tenant_id AND r.id = p.receipt_id
           WHERE p.data_class = 'invitations_mail' {also}
             AND EXISTS (SELECT 1 FROM mail_outbox m JOIN invitations i
                           ON i.tenant_id = m.tenant_id AND i.id = m.invitation_id
                         WHERE i.candidate_id = p.subject_id
                           AND m.created_at <= r.purged_at)""",
    ),
)


def check(
    uow: UnitOfWork, evidence: Evidence, receipts: Sequence[uuid.UUID] | None = None
) -> Check:
    """Every receipt's deletions (or only those of ``receipts``, after a run)
    checked against the stores and the rows; objects still pending are
    named whichever receipt left them."""
    out = Check()
    params: dict[str, Any] = {"r": [str(r) for r in receipts or ()]}
    only = receipts is not None
    objects = _OBJECTS.format(
        where="WHERE deleted_at IS NULL OR receipt_id = ANY(%(r)s::uuid[])" if only else ""
    )
    for object_id, receipt_id, region, store_key, deleted_at, bundle in stream(
        uow, objects, params, "retention_verify_objects"
    ):
        out.objects += 1
        what = f"{'bundle' if bundle else 'object'} {object_id} (receipt {receipt_id})"
        if deleted_at is None:
            out.bad(f"{what} is still waiting to be deleted")
        elif evidence.stores.for_region(region).exists(store_key):
            out.bad(f"{what} is still in the {region} store")
    cur = uow.driver().cursor()
    by_receipt = "WHERE r.id = ANY(%(r)s::uuid[])" if only else ""
    also = "AND r.id = ANY(%(r)s::uuid[])" if only else ""
    out.keys = int(cur.execute(_KEY_COUNT.format(where=by_receipt), params).fetchone()[0])
    for key_id, receipt_id in cur.execute(_KEYS.format(also=also), params).fetchall():
        out.bad(f"data key {key_id} (receipt {receipt_id}) is not destroyed")
    purges = "SELECT count(*) FROM retention_purges p"
    if only:
        purges += " WHERE p.receipt_id = ANY(%(r)s::uuid[])"
    out.subjects = int(cur.execute(purges, params).fetchone()[0])
    also = "AND p.receipt_id = ANY(%(r)s::uuid[])" if only else ""
    for message, sql in _ROWS:
        for subject_id, receipt_id in cur.execute(sql.format(also=also), params).fetchall():
            out.bad(message.format(subject_id, receipt_id))
    return out
