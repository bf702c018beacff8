"""The results class's ``delete`` deletes the results.

Until now ``delete`` at the end of the results period removed the answers a
result repeats and its question-by-question cells, and kept the result rows
(scores), their releases, the graders' marks and the AI's rubric
suggestions, which still pointed at the person. ``platform_retention_results
(attempt)`` (SECURITY DEFINER, bound by forced row security to the caller's
tenant, as the other ``platform_retention_*`` functions) now deletes all of
them for one attempt, in the order their keys need: the result links, the
releases, the marks, the suggestions' discards and the suggestions, the
cells and the result revisions. It returns the (kind, id) of every anchored
record it deleted, so ``invigil audit verify`` names each one as purged
under its receipt. ``attempts.results_deleted_at`` says when, so pages say
"deleted under the retention policy" instead of "not graded yet", and no
grading or regrade starts again on an attempt whose result is gone.

The append-only guard of ``result_releases``, ``rubric_suggestions`` and
``rubric_suggestion_discards`` becomes ``retention_guarded_change()`` (0047):
still no change by any role, except inside such a function.

Revision ID: 0057
Revises: 0056
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import run

revision = "0057"
down_revision = "0056"
branch_labels = None
depends_on = None

TABLES = ("result_releases", "rubric_suggestions", "rubric_suggestion_discards")

FUNCTION = """
    CREATE FUNCTION platform_retention_results(p_attempt uuid)
    RETURNS TABLE (out_kind text, out_id text)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    BEGIN
      PERFORM set_config('invigil.retention_purge', 'on', true);
      DELETE FROM public.result_links l WHERE l.attempt_id = p_attempt;
      RETURN QUERY
        WITH x AS (DELETE FROM public.result_releases r WHERE r.attempt_id = p_attempt
                   RETURNING r.id)
        SELECT 'release'::text, x.id::text FROM x;
      RETURN QUERY
        WITH x AS (DELETE FROM public.grading_marks m WHERE m.attempt_id = p_attempt
                   RETURNING m.id)
        SELECT 'mark'::text, x.id::text FROM x;
      RETURN QUERY
        WITH x AS (DELETE FROM public.rubric_suggestion_discards d
                   USING public.rubric_suggestions s
                   WHERE s.tenant_id = d.tenant_id AND s.id = d.suggestion_id
                     AND s.attempt_id = p_attempt
                   RETURNING d.id)
        SELECT 'suggestion_discard'::text, x.id::text FROM x;
      RETURN QUERY
        WITH x AS (DELETE FROM public.rubric_suggestions s WHERE s.attempt_id = p_attempt
                   RETURNING s.id)
        SELECT 'rubric_suggestion'::text, x.id::text FROM x;
      DELETE FROM public.result_cells c WHERE c.attempt_id = p_attempt;
      RETURN QUERY
        WITH x AS (DELETE FROM public.attempt_results r WHERE r.attempt_id = p_attempt
                   RETURNING r.id)
        SELECT 'result'::text, x.id::text FROM x;
      UPDATE public.attempts a SET results_deleted_at = now()
      WHERE a.id = p_attempt AND a.results_deleted_at IS NULL;
      PERFORM set_config('invigil.retention_purge', 'off', true);
    END $$
"""


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    run("ALTER TABLE attempts ADD COLUMN results_deleted_at timestamptz")
    for table in TABLES:
        run(f"DROP TRIGGER {table}_append_only ON {table}")
        run(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION retention_guarded_change()"
        )
    run(FUNCTION)
    run("REVOKE ALL ON FUNCTION platform_retention_results(uuid) FROM PUBLIC")
    run(f"GRANT EXECUTE ON FUNCTION platform_retention_results(uuid) TO {app}")


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
