"""The retention purge reaches staff's own words about a candidate.

Reviewers, graders, shortlisters and certifiers write free text about a
person's attempt, result or certificate: a review decision's reason, a void's
note, a mark's criterion comments and a moderation's or regrade's reason
(repeated in the result revision the regrade issued), a shortlist stage
change's note, a certificate state change's reason. Such
text often names the person, so it goes with the ``candidate_identity``
class (docs/adr/0063-staff-words.md): ``platform_retention_staff_words``
(SECURITY DEFINER, as the ``platform_retention_*`` functions of 0047 and
0050, still bound by forced RLS to the caller's tenant) empties every such
text of one candidate and returns the (kind, id) of each anchored record it
altered, so the purge lists them for ``invigil audit verify``. The
structured decision (the decision, the void's reason code, points, levels,
stages, states) stays.

The row guard of the five tables that had ``audit_reject_change()`` becomes ``retention_guarded_change()``, which lets
a change through only from inside such a function. A removed text is the
empty string; where staff must write one (a review reason, a moderation's or
regrade's reason, the note of a void for "other"), the checks now admit ''
too, the one value the services never accept from a person. A certificate's
generated reasons ("issued", "renews ...") are not staff's words and stay.

Revision ID: 0052
Revises: 0053
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import run

revision = "0052"
down_revision = "0053"
branch_labels = None
depends_on = None

TABLES = (
    "review_decisions",
    "attempt_voids",
    "grading_marks",
    "shortlist_stage_changes",
    "certificate_state_changes",
)

# Each UPDATE touches only rows that still hold words, so a second call
# returns nothing and the receipt counts what this one removed.
FUNCTION = """
    CREATE FUNCTION platform_retention_staff_words(p_candidate uuid)
    RETURNS TABLE (out_kind text, out_id text)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    BEGIN
      PERFORM set_config('invigil.retention_purge', 'on', true);
      RETURN QUERY
        WITH x AS (
          UPDATE public.review_decisions d SET reason = ''
          FROM public.attempts a
          WHERE a.tenant_id = d.tenant_id AND a.id = d.attempt_id
            AND a.candidate_id = p_candidate AND d.reason <> ''
          RETURNING d.id)
        SELECT 'review_decision'::text, x.id::text FROM x;
      RETURN QUERY
        WITH x AS (
          UPDATE public.attempt_voids v SET note = ''
          FROM public.attempts a
          WHERE a.tenant_id = v.tenant_id AND a.id = v.attempt_id
            AND a.candidate_id = p_candidate AND v.note <> ''
          RETURNING v.attempt_id)
        SELECT 'attempt_void'::text, x.attempt_id::text FROM x;
      RETURN QUERY
        WITH x AS (
          UPDATE public.grading_marks m
          SET reason = CASE WHEN m.reason IS NULL THEN NULL ELSE '' END,
              marks = (SELECT coalesce(jsonb_agg(
                         CASE WHEN jsonb_typeof(c) = 'object' AND c ? 'comment'
                              THEN c || '{"comment": ""}'::jsonb ELSE c END
                         ORDER BY i), '[]'::jsonb)
                       FROM jsonb_array_elements(m.marks) WITH ORDINALITY AS y(c, i))
          FROM public.attempts a
          WHERE a.tenant_id = m.tenant_id AND a.id = m.attempt_id
            AND a.candidate_id = p_candidate
            AND (coalesce(m.reason, '') <> ''
                 OR m.marks @? '$[*] ? (@.comment != "")')
          RETURNING m.id)
        SELECT 'mark'::text, x.id::text FROM x;
      -- A regrade's reason is repeated in the result revision it issued.
      RETURN QUERY
        WITH x AS (
          UPDATE public.attempt_results r SET document = jsonb_set(r.document, '{reason}', '""')
          FROM public.attempts a
          WHERE a.tenant_id = r.tenant_id AND a.id = r.attempt_id
            AND a.candidate_id = p_candidate
            AND jsonb_typeof(r.document->'reason') = 'string' AND r.document->>'reason' <> ''
          RETURNING r.id)
        SELECT 'result'::text, x.id::text FROM x;
      RETURN QUERY
        WITH x AS (
          UPDATE public.shortlist_stage_changes s SET note = ''
          FROM public.attempts a
          WHERE a.tenant_id = s.tenant_id AND a.id = s.attempt_id
            AND a.candidate_id = p_candidate AND s.note <> ''
          RETURNING s.id)
        SELECT 'shortlist_stage'::text, x.id::text FROM x;
      RETURN QUERY
        WITH x AS (
          UPDATE public.certificate_state_changes s SET reason = ''
          FROM public.certificates c
          WHERE c.tenant_id = s.tenant_id AND c.id = s.certificate_id
            AND c.holder_id = p_candidate AND s.from_state IS NOT NULL AND s.reason <> ''
          RETURNING s.id)
        SELECT 'certificate_state'::text, x.id::text FROM x;
      PERFORM set_config('invigil.retention_purge', 'off', true);
    END $$
"""


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    run("ALTER TABLE review_decisions DROP CONSTRAINT ck_review_decisions_reason")
    run(
        "ALTER TABLE review_decisions ADD CONSTRAINT ck_review_decisions_reason "
        "CHECK (reason = '' OR btrim(reason) <> '')"
    )
    run("ALTER TABLE attempt_voids DROP CONSTRAINT ck_attempt_voids_note_for_other")
    run(
        "ALTER TABLE attempt_voids ADD CONSTRAINT ck_attempt_voids_note_for_other "
        "CHECK (reason <> 'other' OR note = '' OR btrim(note) <> '')"
    )
    run("ALTER TABLE grading_marks DROP CONSTRAINT ck_grading_marks_reason")
    run("""
        ALTER TABLE grading_marks ADD CONSTRAINT ck_grading_marks_reason CHECK (
            (kind IN ('moderation', 'regrade'))
            = (reason IS NOT NULL AND (reason = '' OR btrim(reason) <> ''))
        )
    """)
    for table in TABLES:
        run(f"DROP TRIGGER {table}_append_only ON {table}")
        run(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION retention_guarded_change()"
        )
    run(FUNCTION)
    run("REVOKE ALL ON FUNCTION platform_retention_staff_words(uuid) FROM PUBLIC")
    run(f"GRANT EXECUTE ON FUNCTION platform_retention_staff_words(uuid) TO {app}")


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
