"""Readiness checks: what a load balancer needs before sending traffic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from invigil.db.engine import Database
from invigil.db.migrate import head_revision
from invigil.errors import DomainError
from invigil.evidence.stores import RegionStores
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


_STORES: dict[tuple[object, ...], RegionStores] = {}


def _stores(settings: Settings) -> RegionStores:
    """The evidence stores of these settings, kept between probes (S3 clients are slow to make)."""
    key = (
        settings.regions,
        settings.object_store,
        settings.objects_dir,
        tuple(sorted(settings.object_stores.items())),
    )
    if key not in _STORES:
        _STORES[key] = RegionStores(
            settings.regions, settings.object_store, settings.objects_dir, settings.object_stores
        )
    return _STORES[key]


def _object_store(settings: Settings) -> dict[str, Any]:
    """Write, read back and delete a small object in every region's store."""
    stores = _stores(settings)
    seen: list[str] = []
    for region in settings.regions:
        try:
            store = stores.for_region(region)
            store.probe()
        except DomainError as exc:
            return {"ok": False, "detail": f"region {region}: {exc.detail}"}
        except Exception as exc:
            return {"ok": False, "detail": f"region {region}: store failed ({type(exc).__name__})"}
        seen.append(f"{region}: {store.location}")
    return {"ok": True, "detail": "; ".join(seen)}


def readiness(
    db: Database | None,
    settings: Settings,
    jobs: Callable[[], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``jobs``: the status of this process's job worker, when it runs one
    (deadlines, seals and mail depend on it: not ready while it is down)."""
    checks = {
        "database": _database(db, settings) if db else {"ok": False, "detail": "not connected"},
        "object_store": _object_store(settings),
    }
    if jobs is not None:
        checks["jobs"] = jobs()
    status = "ready" if all(c["ok"] for c in checks.values()) else "not-ready"
    return {"status": status, "checks": checks}
