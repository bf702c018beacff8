"""The answers class reaches the AI's rationales, which quote the answers.

A rubric suggestion (0042) holds, per criterion, the model's rationale and
an overall one: written about the candidate's answer, they quote it (and
whatever the candidate wrote in it, their name included). When the answers
are deleted at the end of their period, ``platform_retention_suggestion_texts
(attempt)`` (SECURITY DEFINER, as the other ``platform_retention_*``
functions; ``rubric_suggestions`` has had the guarded trigger since 0057)
empties them; the suggested points, the totals and which criteria were
named stay (the marks may have followed them). It returns the ids of the
suggestions it changed, anchored records that ``invigil audit verify`` then
names as purged under the receipt.

Revision ID: 0058
Revises: 0057
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import run

revision = "0058"
down_revision = "0057"
branch_labels = None
depends_on = None

FUNCTION = """
    CREATE FUNCTION platform_retention_suggestion_texts(p_attempt uuid)
    RETURNS TABLE (out_id text)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    BEGIN
      PERFORM set_config('invigil.retention_purge', 'on', true);
      RETURN QUERY
        WITH x AS (
          UPDATE public.rubric_suggestions s
          SET overall_rationale = '',
              criteria = (SELECT coalesce(jsonb_agg(
                            CASE WHEN jsonb_typeof(c) = 'object' AND c ? 'rationale'
                                 THEN c || '{"rationale": ""}'::jsonb ELSE c END
                            ORDER BY i), '[]'::jsonb)
                          FROM jsonb_array_elements(s.criteria) WITH ORDINALITY AS y(c, i))
          WHERE s.attempt_id = p_attempt
            AND (s.overall_rationale <> '' OR s.criteria @? '$[*] ? (@.rationale != "")')
          RETURNING s.id)
        SELECT x.id::text FROM x;
      PERFORM set_config('invigil.retention_purge', 'off', true);
    END $$
"""


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    run(FUNCTION)
    run("REVOKE ALL ON FUNCTION platform_retention_suggestion_texts(uuid) FROM PUBLIC")
    run(f"GRANT EXECUTE ON FUNCTION platform_retention_suggestion_texts(uuid) TO {app}")


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
