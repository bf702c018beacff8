"""Migration 0025 renames the stored release setting "never" to "manual" in
drafts and published versions of every tenant (RLS is forced on the owner
too, so it visits each tenant)."""

from __future__ import annotations

import importlib

from sqlalchemy import Connection, text

from invigil.db.engine import Database
from invigil.settings import Settings
from tests.conftest import make_tenant
from tests.results.helpers import make_release_exam

MIGRATION = importlib.import_module("invigil.db.migrations.versions.0025_result_releases")


def test_never_becomes_manual_in_every_tenant(
    database: Database, settings: Settings, owner_conn: Connection
) -> None:
    exams = []
    for _ in range(2):
        tenant = make_tenant(database, settings)
        exams.append((tenant.id, make_release_exam(database, tenant.id, results_release="manual")))
    read = "SELECT settings->>'results_release' FROM {table} WHERE {key} = :e"
    for tenant_id, exam in exams:  # as stored before 0025
        owner_conn.execute(
            text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant_id)}
        )
        for table, key in (("exams", "id"), ("exam_versions", "exam_id")):
            owner_conn.execute(
                text(
                    f"UPDATE {table} SET settings = jsonb_set(settings, '{{results_release}}', "
                    f"'\"never\"') WHERE {key} = :e"
                ),
                {"e": exam},
            )
            assert (
                owner_conn.scalar(text(read.format(table=table, key=key)), {"e": exam}) == "never"
            )
    owner_conn.execute(text("SELECT set_config('app.tenant_id', '', true)"))
    owner_conn.exec_driver_sql(MIGRATION.RENAME_NEVER)
    for tenant_id, exam in exams:
        owner_conn.execute(
            text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant_id)}
        )
        for table, key in (("exams", "id"), ("exam_versions", "exam_id")):
            found = owner_conn.scalar(text(read.format(table=table, key=key)), {"e": exam})
            assert found == "manual", (table, tenant_id)
