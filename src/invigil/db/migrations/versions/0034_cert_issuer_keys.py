"""Certification: each tenant's issuer keys for its Open Badges credentials.

``cert_issuer_keys``: one row per signing key (RS256, the algorithm Open
Badges 3.0 requires every verifier to support). The public half is kept as a
JWK and published at ``/issuers/{tenant}/jwks.json``; the private half only
sealed with the secret box (AES-256-GCM, bound to the row through its
associated data), never in the clear. Rotation retires the current key
(``retired_at``) and creates the next; a retired key still verifies what it
signed, so rows are never deleted and the app role may update
``retired_at`` and ``withdrawn_at`` only. A key that was stolen is
withdrawn (``withdrawn_at``, only once retired): it leaves the JWKS, and
everything it signed stops verifying.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    run("""
        CREATE TABLE cert_issuer_keys (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            alg varchar(16) NOT NULL,
            public_jwk jsonb NOT NULL,
            private_sealed bytea NOT NULL,
            retired_at timestamptz,
            withdrawn_at timestamptz,
            CONSTRAINT pk_cert_issuer_keys PRIMARY KEY (tenant_id, id),
            CONSTRAINT ck_cert_issuer_keys_alg CHECK (alg IN ('RS256')),
            CONSTRAINT ck_cert_issuer_keys_withdrawn
                CHECK (withdrawn_at IS NULL OR retired_at IS NOT NULL),
            CONSTRAINT fk_cert_issuer_keys_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT
        )
    """)
    # At most one key signs at a time.
    run("""
        CREATE UNIQUE INDEX uq_cert_issuer_keys_current ON cert_issuer_keys (tenant_id)
        WHERE retired_at IS NULL
    """)
    for stmt in tenant_rls("cert_issuer_keys"):
        run(stmt)
    run(grant_dml("cert_issuer_keys", app, "SELECT, INSERT"))
    run(f"GRANT UPDATE (retired_at, withdrawn_at) ON cert_issuer_keys TO {app}")


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
