"""Certification: programs, certificates and their states, approvals, groups,
recertification notices.

``cert_programs`` and ``cert_program_versions``: a program and its frozen
definitions (requirements, validity, recertification window, grace,
approval), a change being a new version. ``certificates``: written once but
for their current state (the app role may update ``state``, ``state_seq``
and ``state_changed_at`` only), which equals the last row of the append-only
``certificate_state_changes``. ``cert_pending``: issuance waiting for an
approver. ``cert_groups`` (+ requirements, members, managers): who must hold
what. ``cert_notices``: recertification steps taken, one per certificate and
step, written once.

The public verification page finds a certificate's tenant by its id alone
through ``platform_certificate_tenant(uuid)`` (SECURITY DEFINER, owner role,
returns the tenant id only), as sign-in resolves a slug.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

APPEND_ONLY = ("cert_program_versions", "certificate_state_changes", "cert_notices")
STATES = "('issued', 'suspended', 'expired', 'revoked')"


def _tenant_fk(table: str) -> str:
    return (
        f"CONSTRAINT fk_{table}_tenant_id_tenants FOREIGN KEY (tenant_id) "
        "REFERENCES tenants (id) ON DELETE RESTRICT"
    )


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app, owner = config["app_role"], config["owner_role"]
    run(f"""
        CREATE TABLE cert_programs (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            name varchar(200) NOT NULL,
            archived boolean NOT NULL DEFAULT false,
            created_by uuid,
            CONSTRAINT pk_cert_programs PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_cert_programs_tenant_id_name UNIQUE (tenant_id, name),
            {_tenant_fk("cert_programs")}
        )
    """)
    run(f"""
        CREATE TABLE cert_program_versions (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            program_id uuid NOT NULL,
            version integer NOT NULL,
            definition jsonb NOT NULL,
            definition_sha256 varchar(64) NOT NULL,
            created_by uuid,
            CONSTRAINT pk_cert_program_versions PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_cert_program_versions_tenant_id_program_id_version
                UNIQUE (tenant_id, program_id, version),
            CONSTRAINT fk_cert_program_versions_program FOREIGN KEY (tenant_id, program_id)
                REFERENCES cert_programs (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_cert_program_versions_version CHECK (version >= 1),
            {_tenant_fk("cert_program_versions")}
        )
    """)
    run(f"""
        CREATE TABLE certificates (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            number varchar(40) NOT NULL,
            program_id uuid NOT NULL,
            program_version_id uuid NOT NULL,
            holder_id uuid NOT NULL,
            issued_at timestamptz NOT NULL,
            expires_at timestamptz,
            basis jsonb NOT NULL,
            renews_id uuid,
            status_index integer NOT NULL,
            issued_by uuid,
            approved_by uuid,
            state varchar(16) NOT NULL,
            state_seq integer NOT NULL,
            state_changed_at timestamptz NOT NULL,
            CONSTRAINT pk_certificates PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_certificates_tenant_id_number UNIQUE (tenant_id, number),
            CONSTRAINT uq_certificates_tenant_id_status_index UNIQUE (tenant_id, status_index),
            CONSTRAINT fk_certificates_program FOREIGN KEY (tenant_id, program_id)
                REFERENCES cert_programs (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_certificates_program_version FOREIGN KEY (tenant_id, program_version_id)
                REFERENCES cert_program_versions (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_certificates_holder FOREIGN KEY (tenant_id, holder_id)
                REFERENCES candidates (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_certificates_renews FOREIGN KEY (tenant_id, renews_id)
                REFERENCES certificates (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_certificates_state CHECK (state IN {STATES}),
            CONSTRAINT ck_certificates_dates CHECK (expires_at IS NULL OR expires_at > issued_at),
            CONSTRAINT ck_certificates_status_index CHECK (status_index >= 0),
            {_tenant_fk("certificates")}
        )
    """)
    run("CREATE INDEX ix_certificates_holder ON certificates (tenant_id, holder_id, program_id)")
    run("CREATE INDEX ix_certificates_expiry ON certificates (tenant_id, expires_at)")
    run("CREATE INDEX ix_certificates_public_id ON certificates (id)")
    run(f"""
        CREATE TABLE certificate_state_changes (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            certificate_id uuid NOT NULL,
            seq integer NOT NULL,
            from_state varchar(16),
            state varchar(16) NOT NULL,
            reason text NOT NULL,
            changed_by uuid,
            changed_at timestamptz NOT NULL,
            CONSTRAINT pk_certificate_state_changes PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_certificate_state_changes_tenant_id_certificate_id_seq
                UNIQUE (tenant_id, certificate_id, seq),
            CONSTRAINT fk_certificate_state_changes_certificate
                FOREIGN KEY (tenant_id, certificate_id)
                REFERENCES certificates (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_certificate_state_changes_state CHECK (state IN {STATES}),
            CONSTRAINT ck_certificate_state_changes_seq CHECK (seq >= 1),
            {_tenant_fk("certificate_state_changes")}
        )
    """)
    run(f"""
        CREATE TABLE cert_pending (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            program_id uuid NOT NULL,
            program_version_id uuid NOT NULL,
            holder_id uuid NOT NULL,
            basis jsonb NOT NULL,
            status varchar(16) NOT NULL DEFAULT 'pending',
            decided_by uuid,
            decided_at timestamptz,
            reason text NOT NULL DEFAULT '',
            certificate_id uuid,
            CONSTRAINT pk_cert_pending PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_cert_pending_program FOREIGN KEY (tenant_id, program_id)
                REFERENCES cert_programs (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_cert_pending_program_version FOREIGN KEY (tenant_id, program_version_id)
                REFERENCES cert_program_versions (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_cert_pending_holder FOREIGN KEY (tenant_id, holder_id)
                REFERENCES candidates (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_cert_pending_certificate FOREIGN KEY (tenant_id, certificate_id)
                REFERENCES certificates (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_cert_pending_status CHECK (status IN ('pending', 'approved', 'rejected')),
            {_tenant_fk("cert_pending")}
        )
    """)
    run(
        "CREATE UNIQUE INDEX uq_cert_pending_open ON cert_pending (tenant_id, program_id, holder_id)"
        " WHERE status = 'pending'"
    )
    run(f"""
        CREATE TABLE cert_groups (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            name varchar(200) NOT NULL,
            kind varchar(16) NOT NULL DEFAULT 'team',
            CONSTRAINT pk_cert_groups PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_cert_groups_tenant_id_name UNIQUE (tenant_id, name),
            CONSTRAINT ck_cert_groups_kind CHECK (kind IN ('team', 'role', 'site')),
            {_tenant_fk("cert_groups")}
        )
    """)
    run(f"""
        CREATE TABLE cert_group_requirements (
            tenant_id uuid NOT NULL,
            group_id uuid NOT NULL,
            program_id uuid NOT NULL,
            CONSTRAINT pk_cert_group_requirements PRIMARY KEY (tenant_id, group_id, program_id),
            CONSTRAINT fk_cert_group_requirements_group FOREIGN KEY (tenant_id, group_id)
                REFERENCES cert_groups (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT fk_cert_group_requirements_program FOREIGN KEY (tenant_id, program_id)
                REFERENCES cert_programs (tenant_id, id) ON DELETE RESTRICT,
            {_tenant_fk("cert_group_requirements")}
        )
    """)
    run(f"""
        CREATE TABLE cert_group_members (
            tenant_id uuid NOT NULL,
            group_id uuid NOT NULL,
            candidate_id uuid NOT NULL,
            added_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_cert_group_members PRIMARY KEY (tenant_id, group_id, candidate_id),
            CONSTRAINT fk_cert_group_members_group FOREIGN KEY (tenant_id, group_id)
                REFERENCES cert_groups (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT fk_cert_group_members_candidate FOREIGN KEY (tenant_id, candidate_id)
                REFERENCES candidates (tenant_id, id) ON DELETE RESTRICT,
            {_tenant_fk("cert_group_members")}
        )
    """)
    run(
        "CREATE INDEX ix_cert_group_members_candidate ON cert_group_members "
        "(tenant_id, candidate_id)"
    )
    run(f"""
        CREATE TABLE cert_group_managers (
            tenant_id uuid NOT NULL,
            group_id uuid NOT NULL,
            user_id uuid NOT NULL,
            CONSTRAINT pk_cert_group_managers PRIMARY KEY (tenant_id, group_id, user_id),
            CONSTRAINT fk_cert_group_managers_group FOREIGN KEY (tenant_id, group_id)
                REFERENCES cert_groups (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT fk_cert_group_managers_user FOREIGN KEY (tenant_id, user_id)
                REFERENCES users (tenant_id, id) ON DELETE RESTRICT,
            {_tenant_fk("cert_group_managers")}
        )
    """)
    run(f"""
        CREATE TABLE cert_notices (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            certificate_id uuid NOT NULL,
            kind varchar(16) NOT NULL,
            step varchar(40) NOT NULL,
            due_at timestamptz NOT NULL,
            done_at timestamptz NOT NULL,
            details jsonb NOT NULL DEFAULT '{{}}'::jsonb,
            CONSTRAINT pk_cert_notices PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_cert_notices_tenant_id_certificate_id_step
                UNIQUE (tenant_id, certificate_id, step),
            CONSTRAINT fk_cert_notices_certificate FOREIGN KEY (tenant_id, certificate_id)
                REFERENCES certificates (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_cert_notices_kind
                CHECK (kind IN ('reminder', 'escalation', 'invitation', 'expiry')),
            {_tenant_fk("cert_notices")}
        )
    """)
    for table in APPEND_ONLY:
        run(f"""
            CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION audit_reject_change()
        """)
        run(f"""
            CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()
        """)
    for table in (
        "cert_programs",
        *APPEND_ONLY,
        "certificates",
        "cert_pending",
        "cert_groups",
        "cert_group_requirements",
        "cert_group_members",
        "cert_group_managers",
    ):
        for stmt in tenant_rls(table):
            run(stmt)
    run(grant_dml("cert_programs", app, "SELECT, INSERT, UPDATE"))
    # A certificate is written once but for its current state.
    run(grant_dml("certificates", app, "SELECT, INSERT"))
    run(f"GRANT UPDATE (state, state_seq, state_changed_at) ON certificates TO {app}")
    run(grant_dml("cert_pending", app, "SELECT, INSERT, UPDATE"))
    run(grant_dml("cert_groups", app, "SELECT, INSERT, UPDATE, DELETE"))
    for table in ("cert_group_requirements", "cert_group_members", "cert_group_managers"):
        run(grant_dml(table, app, "SELECT, INSERT, DELETE"))
    for table in APPEND_ONLY:
        run(grant_dml(table, app, "SELECT, INSERT"))

    # The public verification page: a certificate id to its tenant, nothing
    # else. RLS is forced on the owner too; this policy lets the owner (and
    # so this function) read certificate rows for the lookup only.
    run(f"CREATE POLICY public_lookup ON certificates FOR SELECT TO {owner} USING (true)")
    run("""
        CREATE FUNCTION platform_certificate_tenant(p_id uuid)
        RETURNS uuid
        LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, public, pg_temp
        AS $$ SELECT c.tenant_id FROM public.certificates c WHERE c.id = p_id LIMIT 1 $$
    """)
    run(f"GRANT EXECUTE ON FUNCTION platform_certificate_tenant(uuid) TO {app}")


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
