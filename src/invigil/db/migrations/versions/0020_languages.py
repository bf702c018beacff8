"""Languages: the tenant's, the invitation's, the staff user's.

``tenants.languages``: the languages the tenant's candidates may read
(codes Invigil has a catalog for; English by default), and
``tenants.default_language``: the one a candidate gets when the
invitation names none (NULL: the candidate's browser decides among the
enabled ones). The default must be one of the enabled languages.

``invitations.language``: the language staff chose for this candidate
(NULL: the tenant's default). ``users.language``: a staff user's own
choice for the staff pages (NULL: English).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import run

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

CODE = "'^[a-z]{2,3}(_[A-Za-z0-9]{2,8})?$'"


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]
    run("ALTER TABLE tenants ADD COLUMN languages varchar(16)[] NOT NULL DEFAULT '{en}'")
    run("ALTER TABLE tenants ADD COLUMN default_language varchar(16)")
    run("""
        ALTER TABLE tenants ADD CONSTRAINT ck_tenants_languages
            CHECK (cardinality(languages) BETWEEN 1 AND 40
                   AND (default_language IS NULL OR default_language = ANY (languages)))
    """)
    run(f"GRANT UPDATE (languages, default_language) ON tenants TO {app}")
    run("ALTER TABLE invitations ADD COLUMN language varchar(16)")
    run(f"""
        ALTER TABLE invitations ADD CONSTRAINT ck_invitations_language
            CHECK (language IS NULL OR language ~ {CODE})
    """)
    run("ALTER TABLE users ADD COLUMN language varchar(16)")
    run(f"""
        ALTER TABLE users ADD CONSTRAINT ck_users_language
            CHECK (language IS NULL OR language ~ {CODE})
    """)


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
