"""Voided attempts: an attempt voided by staff, with its refund.

``attempt_voids``: one row per voided attempt (unique per tenant and
attempt): the reason code, a note (required for ``other``), who and when,
what the attempt was (running or submitted), the reversal that refunded
its start (NULL when nothing was charged) and the sha256 of the row as a
canonical document, anchored by the ``attempt.voided`` audit entry.
Written once, for every role (the ``audit_reject_change()`` trigger; the
app role holds SELECT and INSERT only): a void is never undone or edited.

A running attempt is submitted by its void: ``attempts.submit_reason``
takes ``voided`` as well (the check is added NOT VALID, then validated,
so the table is not locked against writes while its rows are read).

Revision ID: 0039
Revises: 0042
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0039"
down_revision = "0042"
branch_labels = None
depends_on = None


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    run("""
        CREATE TABLE attempt_voids (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            attempt_id uuid NOT NULL,
            reason varchar(32) NOT NULL,
            note text NOT NULL,
            status_before varchar(16) NOT NULL,
            voided_by varchar(200) NOT NULL,
            voided_at timestamptz NOT NULL,
            refund_transfer_id uuid,
            sha256 varchar(64) NOT NULL,
            CONSTRAINT pk_attempt_voids PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_attempt_voids_tenant_id_attempt_id UNIQUE (tenant_id, attempt_id),
            CONSTRAINT ck_attempt_voids_reason
                CHECK (reason IN ('technical_failure', 'duplicate', 'other')),
            CONSTRAINT ck_attempt_voids_note_length CHECK (char_length(note) <= 1000),
            CONSTRAINT ck_attempt_voids_note_for_other CHECK (reason <> 'other' OR btrim(note) <> ''),
            CONSTRAINT ck_attempt_voids_status_before
                CHECK (status_before IN ('in_progress', 'submitted')),
            CONSTRAINT fk_attempt_voids_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_attempt_voids_tenant_id_attempt_id_attempts FOREIGN KEY (tenant_id, attempt_id)
                REFERENCES attempts (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_attempt_voids_refund FOREIGN KEY (tenant_id, refund_transfer_id)
                REFERENCES ledger_transfers (tenant_id, id) ON DELETE RESTRICT
        )
    """)
    run("""
        CREATE TRIGGER attempt_voids_append_only BEFORE UPDATE OR DELETE
        ON attempt_voids FOR EACH ROW EXECUTE FUNCTION audit_reject_change()
    """)
    run("""
        CREATE TRIGGER attempt_voids_no_truncate BEFORE TRUNCATE ON attempt_voids
        FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()
    """)
    run("ALTER TABLE attempts DROP CONSTRAINT ck_attempts_submit_reason")
    run("""
        ALTER TABLE attempts ADD CONSTRAINT ck_attempts_submit_reason CHECK (
            submit_reason IN ('candidate', 'deadline', 'proctoring', 'staff', 'voided')
        ) NOT VALID
    """)
    run("ALTER TABLE attempts VALIDATE CONSTRAINT ck_attempts_submit_reason")
    for stmt in tenant_rls("attempt_voids"):
        run(stmt)
    run(grant_dml("attempt_voids", app, "SELECT, INSERT"))


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
