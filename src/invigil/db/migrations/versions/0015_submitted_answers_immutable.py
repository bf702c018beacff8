"""The answers of a submitted attempt never change, for any role.

While an attempt runs, its answers are upserted (the app role keeps INSERT
and UPDATE on attempt_answers for that, and never had DELETE). Once it is
submitted, a trigger refuses every INSERT, UPDATE and DELETE of its answers,
whoever asks, as the append-only trigger does for results; a TRUNCATE is
refused outright. A second trigger keeps a submitted attempt submitted, so the
first cannot be side-stepped by "reopening" the attempt. Only a superuser who disables triggers gets past,
and ``invigil audit verify`` then names the answer sheet that changed
(docs/adr/0014-anchored-records.md).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from invigil.db.ddl import run

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The attempt is read as the caller sees it (RLS bound to its tenant): a
    # caller that cannot see the attempt cannot show it runs, and is refused.
    run(
        """
        CREATE FUNCTION answers_reject_when_submitted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP IN ('UPDATE', 'DELETE') THEN
            IF NOT EXISTS (SELECT 1 FROM public.attempts t
                           WHERE t.tenant_id = OLD.tenant_id AND t.id = OLD.attempt_id
                             AND t.status <> 'submitted') THEN
              RAISE EXCEPTION 'the answers of a submitted attempt are immutable: % is not allowed',
                TG_OP USING ERRCODE = 'insufficient_privilege';
            END IF;
          END IF;
          IF TG_OP IN ('INSERT', 'UPDATE') THEN
            IF NOT EXISTS (SELECT 1 FROM public.attempts t
                           WHERE t.tenant_id = NEW.tenant_id AND t.id = NEW.attempt_id
                             AND t.status <> 'submitted') THEN
              RAISE EXCEPTION 'the answers of a submitted attempt are immutable: % is not allowed',
                TG_OP USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
          END IF;
          RETURN OLD;
        END $$
        """
    )
    run(
        """
        CREATE TRIGGER attempt_answers_frozen_when_submitted
        BEFORE INSERT OR UPDATE OR DELETE ON attempt_answers
        FOR EACH ROW EXECUTE FUNCTION answers_reject_when_submitted()
        """
    )
    run(
        """
        CREATE TRIGGER attempt_answers_no_truncate BEFORE TRUNCATE ON attempt_answers
        FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()
        """
    )
    run(
        """
        CREATE FUNCTION attempts_stay_submitted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.status IS DISTINCT FROM OLD.status THEN
            RAISE EXCEPTION 'a submitted attempt stays submitted'
              USING ERRCODE = 'insufficient_privilege';
          END IF;
          RETURN NEW;
        END $$
        """
    )
    run(
        """
        CREATE TRIGGER attempts_stay_submitted BEFORE UPDATE ON attempts
        FOR EACH ROW WHEN (OLD.status = 'submitted')
        EXECUTE FUNCTION attempts_stay_submitted()
        """
    )


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
