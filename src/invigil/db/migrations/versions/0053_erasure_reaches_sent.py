"""Erasing a person reaches what was sent and built about them (ADR 0064).

``candidates.erased_at``: when the person's identity was erased (a purge of
the ``candidate_identity`` class or an erasure request); the public
verification page reads it to say "holder erased" instead of a name.
Candidates erased before this migration (their e-mail is the erased
address) get the moment of their identity receipt.

``webhook_deliveries``: ``body_sha256`` (the hash of the bytes as first
frozen, kept when an erasure rewrites the body, so the delivery history
still says what was sent) and ``erased_at``. ``webhook_event_people``: the
people an event's body is about (written by ``emit``), so an erasure finds
their deliveries through an index instead of reading every body; the
deliveries written before this migration are indexed from the
``candidate_id`` members of their bodies (the only person ids the events
emitted so far carry). ``webhook_attempts``: the app role may blank the
receiver's answer (``response_excerpt``) of an erased delivery.

``bundle_requests``: a bundle about an erased person is ``purged`` (its
object and key destroyed before its own expiry). ``retention_object_deletions``
also lists such a bundle's object (``bundle_id``; exactly one of
``object_id`` and ``bundle_id`` is set), deleted from the store once the
erasure has committed, like evidence.

Revision ID: 0053
Revises: 0055
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0053"
down_revision = "0055"
branch_labels = None
depends_on = None

# Existing rows, tenant by tenant (RLS is forced for the owner too).
BACKFILL = """
DO $$
DECLARE
    caller text := current_setting('app.tenant_id', true);
    t uuid;
BEGIN
    FOR t IN SELECT id FROM tenants ORDER BY id LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        UPDATE candidates c SET erased_at = coalesce(
            (SELECT min(r.purged_at) FROM retention_purges p
               JOIN retention_receipts r ON r.tenant_id = p.tenant_id AND r.id = p.receipt_id
              WHERE p.tenant_id = t AND p.data_class = 'candidate_identity'
                AND p.subject_id = c.id),
            c.updated_at)
        WHERE c.tenant_id = t AND c.email = 'erased-' || c.id::text || '@erased.invalid';
        UPDATE webhook_deliveries SET body_sha256 = encode(sha256(body), 'hex')
        WHERE tenant_id = t;
        INSERT INTO webhook_event_people (tenant_id, id, event_id, person_id)
        SELECT t, gen_random_uuid(), f.event_id, f.person::uuid
        FROM (
            SELECT DISTINCT d.event_id, p #>> '{}' AS person
            FROM webhook_deliveries d
            CROSS JOIN LATERAL jsonb_path_query(
                convert_from(d.body, 'UTF8')::jsonb, 'lax $.data.**.candidate_id') AS p
            WHERE d.tenant_id = t AND jsonb_typeof(p) = 'string'
        ) f
        WHERE f.person ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
        ON CONFLICT DO NOTHING;
    END LOOP;
    PERFORM set_config('app.tenant_id', coalesce(caller, ''), true);
END
$$
"""


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    run("ALTER TABLE candidates ADD COLUMN erased_at timestamptz")
    run("ALTER TABLE webhook_deliveries ADD COLUMN body_sha256 varchar(64)")
    run("ALTER TABLE webhook_deliveries ADD COLUMN erased_at timestamptz")
    run("CREATE INDEX ix_webhook_deliveries_event ON webhook_deliveries (tenant_id, event_id)")
    run("""
        CREATE TABLE webhook_event_people (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            event_id uuid NOT NULL,
            person_id uuid NOT NULL,
            CONSTRAINT pk_webhook_event_people PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_webhook_event_people_person UNIQUE (tenant_id, event_id, person_id),
            CONSTRAINT fk_webhook_event_people_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT
        )
    """)
    run(
        "CREATE INDEX ix_webhook_event_people_person ON webhook_event_people (tenant_id, person_id)"
    )
    for stmt in tenant_rls("webhook_event_people"):
        run(stmt)
    run(grant_dml("webhook_event_people", app, "SELECT, INSERT"))
    run(BACKFILL)
    run("ALTER TABLE webhook_deliveries ALTER COLUMN body_sha256 SET NOT NULL")
    run("""
        ALTER TABLE webhook_deliveries ADD CONSTRAINT ck_webhook_deliveries_body_sha256
            CHECK (body_sha256 ~ '^[0-9a-f]{64}$')
    """)
    run(f"GRANT UPDATE (response_excerpt) ON webhook_attempts TO {app}")

    run("ALTER TABLE bundle_requests DROP CONSTRAINT ck_bundle_requests_state")
    run("""
        ALTER TABLE bundle_requests ADD CONSTRAINT ck_bundle_requests_state
            CHECK (state IN ('queued', 'building', 'ready', 'failed', 'expired', 'purged'))
    """)
    run("ALTER TABLE retention_object_deletions ALTER COLUMN object_id DROP NOT NULL")
    run("ALTER TABLE retention_object_deletions ADD COLUMN bundle_id uuid")
    run("""
        ALTER TABLE retention_object_deletions
            ADD CONSTRAINT uq_retention_object_deletions_bundle UNIQUE (tenant_id, bundle_id),
            ADD CONSTRAINT fk_retention_object_deletions_bundle FOREIGN KEY (tenant_id, bundle_id)
                REFERENCES bundle_requests (tenant_id, id) ON DELETE RESTRICT,
            ADD CONSTRAINT ck_retention_object_deletions_one
                CHECK ((object_id IS NULL) <> (bundle_id IS NULL))
    """)


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
