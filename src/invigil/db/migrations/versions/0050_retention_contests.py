"""The retention purge reaches the candidates' contest texts.

``proctoring_contests`` is append-only (0048); a contest's ``text`` is the
candidate's own words. It goes with the ``proctoring_events`` class of its
attempt: ``platform_retention_contests`` (SECURITY DEFINER, as the
``platform_retention_*`` functions of 0047) blanks it, and the table's row
guard becomes ``retention_guarded_change()``, which lets a change through
only from inside such a function. A purged contest keeps its row (ids, the
flag it contested, its language, its attachment's id and hash, the stated
hash): review decisions answer it and the audit log names it.

A purged text is the empty string, the one value a candidate can never
send (a contest's text has at least one non-blank character): the check
now admits '' besides 1-4000 characters with one that is not blank.

Revision ID: 0050
Revises: 0049
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import run

revision = "0050"
down_revision = "0049"
branch_labels = None
depends_on = None

FUNCTION = """
    CREATE FUNCTION platform_retention_contests(p_attempt uuid) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    DECLARE n integer;
    BEGIN
      PERFORM set_config('invigil.retention_purge', 'on', true);
      UPDATE public.proctoring_contests SET text = ''
      WHERE attempt_id = p_attempt AND text <> '';
      GET DIAGNOSTICS n = ROW_COUNT;
      PERFORM set_config('invigil.retention_purge', 'off', true);
      RETURN n;
    END $$
"""


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    run("ALTER TABLE proctoring_contests DROP CONSTRAINT ck_proctoring_contests_text")
    run("""
        ALTER TABLE proctoring_contests ADD CONSTRAINT ck_proctoring_contests_text
            CHECK ((text = '' OR btrim(text) <> '') AND char_length(text) <= 4000)
    """)
    run("DROP TRIGGER proctoring_contests_append_only ON proctoring_contests")
    run(
        "CREATE TRIGGER proctoring_contests_append_only BEFORE UPDATE OR DELETE "
        "ON proctoring_contests FOR EACH ROW EXECUTE FUNCTION retention_guarded_change()"
    )
    run(FUNCTION)
    run("REVOKE ALL ON FUNCTION platform_retention_contests(uuid) FROM PUBLIC")
    run(f"GRANT EXECUTE ON FUNCTION platform_retention_contests(uuid) TO {app}")


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
