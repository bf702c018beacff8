"""Retention over HTTP: the policy in force and its versions (read with
``retention:view``, written with ``retention:manage``), and legal holds.

- ``GET /api/v1/retention/policy``: the version in force (version 0: the
  documented defaults) and the audit log's fixed period;
- ``PUT /api/v1/retention/policy``: ``{"policy": {...}, "reason": "..."}``
  writes the next version (docs/formats/retention-policy.md);
- ``GET /api/v1/retention/policy/versions``: every written version, newest first;
- ``GET /api/v1/retention/holds``: every hold, in force or lifted, newest first;
- ``POST /api/v1/retention/holds``: ``{"scope", "subject_id", "reason"}``;
- ``POST /api/v1/retention/holds/{hold_id}/lift``: ``{"reason"}``.

Bad input answers problem+json naming the field (``policy.classes.evidence.keep_days``).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from invigil.db.uow import UnitOfWork
from invigil.errors import Invalid
from invigil.retention import holds, policy
from invigil.security.permissions import Permission as P
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1/retention", tags=["retention"])


MAX_REASON = policy.MAX_REASON


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: dict[str, Any] = Field(description="the policy document (every class)")
    reason: str = Field(max_length=MAX_REASON, description="why it changes (required)")


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: str = Field(max_length=16, description="candidate, exam or tenant")
    subject_id: uuid.UUID | None = Field(
        default=None, description="the candidate's or exam's id (none for tenant)"
    )
    reason: str = Field(max_length=holds.MAX_REASON)


class LiftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=holds.MAX_REASON)


@router.get("/policy")
def get_policy(uow: UnitOfWork = requires(P.RETENTION_VIEW)) -> dict[str, Any]:
    """The version in force now (``is_default``: no version was written)."""
    return policy.current(uow).as_dict()


@router.put("/policy")
def put_policy(body: PolicyIn, uow: UnitOfWork = requires(P.RETENTION_MANAGE)) -> dict[str, Any]:
    """Write the next version, in force from now (attempts already started
    keep the version they froze)."""
    try:
        written = policy.set_policy(uow, body.policy, reason=body.reason)
    except Invalid as exc:
        field = str(exc.extensions.get("field") or "policy")
        if field not in ("reason", "policy"):
            exc.extensions["field"] = f"policy.{field}"
        raise
    return written.as_dict()


@router.get("/policy/versions")
def get_versions(uow: UnitOfWork = requires(P.RETENTION_VIEW)) -> dict[str, Any]:
    """Every written version, newest first, then the defaults (version 0)."""
    found = policy.versions(uow)
    return {"items": [v.as_dict() for v in [*found, policy.DEFAULT_VERSION]]}


@router.get("/holds")
def get_holds(uow: UnitOfWork = requires(P.RETENTION_VIEW)) -> dict[str, Any]:
    """Every hold, in force or lifted, newest first."""
    return {"items": [h.as_dict() for h in holds.history(uow)]}


@router.post("/holds", status_code=201)
def place_hold(body: HoldIn, uow: UnitOfWork = requires(P.RETENTION_MANAGE)) -> dict[str, Any]:
    """Place a hold on a candidate, an exam or the whole organisation."""
    return holds.place(uow, body.scope, body.subject_id, body.reason).as_dict()


@router.post("/holds/{hold_id}/lift")
def lift_hold(
    hold_id: uuid.UUID, body: LiftIn, uow: UnitOfWork = requires(P.RETENTION_MANAGE)
) -> dict[str, Any]:
    """Lift a hold in force, with a reason (409 when it was lifted already)."""
    return holds.lift(uow, hold_id, body.reason).as_dict()
