"""Readiness checks: what a load balancer needs before sending traffic."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from invigil.db.engine import Database
from invigil.db.migrate import head_revision
from invigil.settings import Settings


def _database(db: Database, settings: Settings) -> dict[str, Any]:
    try:
        with db.engine.connect() as conn:
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as exc:
        return {"ok": False, "detail": f"database unreachable ({type(exc).__name__})"}
    head = head_revision(settings)
    if revision != head:
        return {
            "ok": False,
            "detail": f"schema at {revision}, expected {head}: run `invigil db upgrade`",
        }
    return {"ok": True, "detail": f"schema at {revision}"}


def _object_store(settings: Settings) -> dict[str, Any]:
    if settings.object_store != "local":
        return {
            "ok": False,
            "detail": f"object store {settings.object_store!r} is not supported "
            "by this version (only 'local')",
        }
    folder = settings.objects_dir
    probe = folder / f".ready-{uuid.uuid4().hex}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        return {"ok": False, "detail": f"local store {folder} not writable ({exc.strerror})"}
    return {"ok": True, "detail": f"local store {folder}"}


def readiness(db: Database | None, settings: Settings) -> dict[str, Any]:
    checks = {
        "database": _database(db, settings) if db else {"ok": False, "detail": "not connected"},
        "object_store": _object_store(settings),
    }
    status = "ready" if all(c["ok"] for c in checks.values()) else "not-ready"
    return {"status": status, "checks": checks}
