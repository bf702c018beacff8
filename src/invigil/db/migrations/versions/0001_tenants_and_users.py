"""Tenants registry, staff users, and the tenant boundary.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import CURRENT_TENANT, grant_dml, run, tenant_rls

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    attrs = op.get_context().config.attributes  # type: ignore[union-attr]
    owner, app = attrs["owner_role"], attrs["app_role"]

    run("GRANT SELECT ON alembic_version TO " + app)

    run(
        r"""
        CREATE TABLE tenants (
            id uuid NOT NULL,
            slug varchar(40) NOT NULL,
            name varchar(200) NOT NULL,
            region varchar(40) NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_tenants PRIMARY KEY (id),
            CONSTRAINT uq_tenants_slug UNIQUE (slug),
            CONSTRAINT ck_tenants_slug_format CHECK (slug ~ '^[a-z][a-z0-9-]{1,38}[a-z0-9]$'),
            CONSTRAINT ck_tenants_name_length CHECK (length(name) BETWEEN 1 AND 200)
        )
        """
    )
    # The registry row is the tenant itself: the app role sees its own row only.
    for stmt in tenant_rls("tenants", column="id"):
        run(stmt)
    # Operator tooling (the owner role) reads and extends the registry; it
    # still sees no tenant *data* without binding a tenant.
    run(f"CREATE POLICY registry_read ON tenants FOR SELECT TO {owner} USING (true)")
    run(f"CREATE POLICY registry_insert ON tenants FOR INSERT TO {owner} WITH CHECK (true)")
    run(grant_dml("tenants", app, "SELECT"))

    # The one named path across tenants for the app role: resolve a slug at
    # sign-in. Runs as the owner (registry_read); returns routing data only.
    run(
        """
        CREATE FUNCTION platform_tenant_by_slug(p_slug text)
        RETURNS TABLE (id uuid, slug varchar, name varchar, region varchar)
        LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, public, pg_temp
        AS $$ SELECT t.id, t.slug, t.name, t.region FROM public.tenants t WHERE t.slug = p_slug $$
        """
    )
    run(f"GRANT EXECUTE ON FUNCTION platform_tenant_by_slug(text) TO {app}")

    run(
        """
        CREATE TABLE users (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            email varchar(320) NOT NULL,
            display_name varchar(200) NOT NULL DEFAULT '',
            password_hash varchar(200),
            status varchar(16) NOT NULL DEFAULT 'active',
            CONSTRAINT pk_users PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_users_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT ck_users_email_format CHECK (position('@' in email) > 1),
            CONSTRAINT ck_users_status CHECK (status IN ('invited', 'active', 'deactivated'))
        )
        """
    )
    run("CREATE UNIQUE INDEX uq_users_tenant_id_email ON users (tenant_id, lower(email))")
    for stmt in tenant_rls("users"):
        run(stmt)
    run(grant_dml("users", app))
    assert CURRENT_TENANT  # the predicate every policy above uses


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
