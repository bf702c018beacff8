"""Staff's own words about a person go with the person's identity (ADR 0063).

Reviewers, graders, shortlisters, certifiers and administrators write free
text about a person's attempt, result or certificate. Such words name the
person often enough that they may not outlive the identity's anonymisation,
and the person may ask about them for as long as they can be named; so
:func:`remove` runs with the ``candidate_identity`` class (the purge at the
end of its period, and an erasure), and empties, for one candidate:

- through ``platform_retention_staff_words`` (migration 0052; the tables are
  append-only): review decisions' reasons, voids' notes, marks' criterion
  comments and moderation or regrade reasons (and the ``reason`` a regrade
  wrote into the result revision it issued), shortlist stage changes'
  notes, certificate state changes' reasons (not the generated ones of an
  issue or a renewal); and (``platform_retention_release_reasons``,
  migration 0056) the reasons staff gave for releasing an attempt's browser;
  (``platform_retention_intervention_texts``, migration 0059) a proctor's
  live messages to the candidate and the reasons given for live steps;
- directly: the reasons of rejected certificate requests, the notes and
  outcomes of the person's privacy requests (a completed erasure keeps its
  outcome: the erasure's reason, which its receipts state too).

The decisions stay. An emptied text is ``''``, which the services never
accept where words are required, so pages can say it was removed.
:data:`WORDS_LEFT` finds words still stored about a person (for the purge's
verification, and for the purge's catch-up of people anonymised before
this, or written about since).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import text

from invigil.db.uow import UnitOfWork
from invigil.retention.requests import KIND as PRIVACY_REQUEST

REASON = "staff's words left after the identity was purged"

# The table each kind of anchored record the function alters lives in (the
# receipt counts rows per table).
_TABLE = {
    "review_decision": "review_decisions",
    "attempt_void": "attempt_voids",
    "mark": "grading_marks",
    "result": "attempt_results",
    "shortlist_stage": "shortlist_stage_changes",
    "certificate_state": "certificate_state_changes",
    PRIVACY_REQUEST: "privacy_requests",
}

# Staff's words still stored about candidate {c} (a column or an expression
# naming the candidate's id): exactly what remove() empties.
WORDS_LEFT = """(
    EXISTS (SELECT 1 FROM review_decisions d JOIN attempts a
              ON a.tenant_id = d.tenant_id AND a.id = d.attempt_id
            WHERE a.candidate_id = {c} AND d.reason <> '')
    OR EXISTS (SELECT 1 FROM attempt_releases x JOIN attempts a
                 ON a.tenant_id = x.tenant_id AND a.id = x.attempt_id
               WHERE a.candidate_id = {c} AND x.reason <> '')
    OR EXISTS (SELECT 1 FROM live_interventions x JOIN attempts a
                 ON a.tenant_id = x.tenant_id AND a.id = x.attempt_id
               WHERE a.candidate_id = {c} AND x.text <> '')
    OR EXISTS (SELECT 1 FROM attempt_voids v JOIN attempts a
                 ON a.tenant_id = v.tenant_id AND a.id = v.attempt_id
               WHERE a.candidate_id = {c} AND v.note <> '')
    OR EXISTS (SELECT 1 FROM grading_marks m JOIN attempts a
                 ON a.tenant_id = m.tenant_id AND a.id = m.attempt_id
               WHERE a.candidate_id = {c} AND (coalesce(m.reason, '') <> ''
                     OR m.marks @? '$[*] ? (@.comment != "")'))
    OR EXISTS (SELECT 1 FROM attempt_results r JOIN attempts a
                 ON a.tenant_id = r.tenant_id AND a.id = r.attempt_id
               WHERE a.candidate_id = {c} AND jsonb_typeof(r.document->'reason') = 'string'
                 AND r.document->>'reason' <> '')
    OR EXISTS (SELECT 1 FROM shortlist_stage_changes x JOIN attempts a
                 ON a.tenant_id = x.tenant_id AND a.id = x.attempt_id
               WHERE a.candidate_id = {c} AND x.note <> '')
    OR EXISTS (SELECT 1 FROM certificate_state_changes x JOIN certificates k
                 ON k.tenant_id = x.tenant_id AND k.id = x.certificate_id
               WHERE k.holder_id = {c} AND x.from_state IS NOT NULL AND x.reason <> '')
    OR EXISTS (SELECT 1 FROM cert_pending q WHERE q.holder_id = {c} AND q.reason <> '')
    OR EXISTS (SELECT 1 FROM privacy_requests q WHERE q.candidate_id = {c} AND q.note <> '')
)"""


@dataclass
class Removed:
    """Rows emptied per table, and the anchored records altered (kind, id)."""

    rows: dict[str, int] = field(default_factory=dict)
    records: list[tuple[str, str]] = field(default_factory=list)

    def count(self, table: str, n: int) -> None:
        if n:
            self.rows[table] = self.rows.get(table, 0) + n


def remove(uow: UnitOfWork, candidate_id: uuid.UUID) -> Removed:
    """Empty every text staff wrote about the candidate (the module's list)."""
    out = Removed()
    altered = uow.session.execute(
        text("SELECT out_kind, out_id FROM platform_retention_staff_words(:c)"),
        {"c": candidate_id},
    ).all()
    for kind, record_id in altered:
        out.count(_TABLE[kind], 1)
        out.records.append((kind, record_id))
    # A browser release's reason (migration 0056): not an anchored record.
    released = uow.session.execute(
        text("SELECT platform_retention_release_reasons(:c)"), {"c": candidate_id}
    ).scalar_one()
    out.count("attempt_releases", int(released or 0))
    # A proctor's live messages and reasons (migration 0059): anchored by the
    # SHA-256 of the words, so the records stay verifiable once emptied.
    live = uow.session.execute(
        text("SELECT platform_retention_intervention_texts(:c)"), {"c": candidate_id}
    ).scalar_one()
    out.count("live_interventions", int(live or 0))
    pending = uow.session.execute(
        text(
            "UPDATE cert_pending SET reason = '' WHERE holder_id = :c AND reason <> '' RETURNING id"
        ),
        {"c": candidate_id},
    )
    out.count("cert_pending", len(pending.all()))
    # A finished request is anchored (its document holds the note and the
    # outcome): it is listed. An open one is not yet; an erasure request
    # being carried out is still open here, and its outcome is written after.
    requests = uow.session.execute(
        text(
            "UPDATE privacy_requests SET note = '', "
            "outcome = CASE WHEN outcome IS NULL OR (kind = 'erasure' AND status = 'completed') "
            "THEN outcome ELSE '' END "
            "WHERE candidate_id = :c AND (note <> '' OR (coalesce(outcome, '') <> '' "
            "AND NOT (kind = 'erasure' AND status = 'completed'))) "
            "RETURNING id, status"
        ),
        {"c": candidate_id},
    ).all()
    for request_id, status in requests:
        out.count("privacy_requests", 1)
        if status != "open":
            out.records.append((PRIVACY_REQUEST, str(request_id)))
    return out
