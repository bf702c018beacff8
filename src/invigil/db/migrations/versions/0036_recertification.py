"""Recertification: the staff page lists the latest steps taken; holders
are found by their address at once.

``ix_cert_notices_done``: ``cert_notices`` newest first per tenant (the
recertification page's "recent" list), without sorting every notice ever
written. The daily pass itself reads notices by certificate and step (the
unique key of 0032).

``ix_certificates_version_expiry``: the page's upcoming steps, read per
program version and step as a range of expiry dates (each version has its
own offsets), so only certificates with a step in the next 30 days are read.

``ix_candidates_email``: a candidate by the exact address on record. The
case-insensitive ``lower(email) = ...`` cannot use
``uq_candidates_tenant_id_email`` under row-level security (``lower`` is not
leakproof, so it may not run before the tenant policy) and read every
candidate of the tenant: 80 ms at 100,000 candidates, for each invitation
the recertification pass sends. ``find_by_email`` tries the exact address
first.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-07
"""

from __future__ import annotations

from invigil.db.ddl import run

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run("CREATE INDEX ix_cert_notices_done ON cert_notices (tenant_id, done_at)")
    run("CREATE INDEX ix_candidates_email ON candidates (tenant_id, email)")
    run(
        "CREATE INDEX ix_certificates_version_expiry ON certificates "
        "(tenant_id, program_version_id, expires_at)"
    )


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
