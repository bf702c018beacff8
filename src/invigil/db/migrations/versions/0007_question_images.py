"""Question images: immutable image attachments of questions, kept in
PostgreSQL until the evidence store can hold them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CONTENT_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
MAX_SIZE = 2 * 1024 * 1024


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]
    types = ", ".join(f"'{t}'" for t in CONTENT_TYPES)

    # Written once, never changed: the app role may only INSERT and SELECT.
    # question_version is the question version that first shows the image
    # (attaching writes that version); every later version shows it too.
    run(f"""
        CREATE TABLE question_images (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            question_id uuid NOT NULL,
            question_version integer NOT NULL,
            filename varchar(200) NOT NULL,
            content_type varchar(32) NOT NULL,
            size integer NOT NULL,
            sha256 bytea NOT NULL,
            data bytea NOT NULL,
            CONSTRAINT pk_question_images PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_question_images_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_question_images_tenant_id_question_id_questions
                FOREIGN KEY (tenant_id, question_id)
                REFERENCES questions (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_question_images_question_version
                FOREIGN KEY (tenant_id, question_id, question_version)
                REFERENCES question_versions (tenant_id, question_id, version) ON DELETE RESTRICT,
            CONSTRAINT ck_question_images_content_type CHECK (content_type IN ({types})),
            CONSTRAINT ck_question_images_size CHECK (size > 0 AND size <= {MAX_SIZE}),
            CONSTRAINT ck_question_images_data_size CHECK (octet_length(data) = size),
            CONSTRAINT ck_question_images_sha256 CHECK (octet_length(sha256) = 32),
            CONSTRAINT ck_question_images_filename_not_blank CHECK (btrim(filename) <> '')
        )
    """)
    run(
        "CREATE INDEX ix_question_images_question "
        "ON question_images (tenant_id, question_id, question_version)"
    )
    # The formats are compressed already: keep the bytes out of line, uncompressed.
    run("ALTER TABLE question_images ALTER COLUMN data SET STORAGE EXTERNAL")
    for stmt in tenant_rls("question_images"):
        run(stmt)
    run(grant_dml("question_images", app, "SELECT, INSERT"))


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
