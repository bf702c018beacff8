"""Retention objects for tests (and the FACTORIES of the generated
authorization tests)."""

from __future__ import annotations

import copy
from typing import Any

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.retention import holds, policy
from invigil.tenants.models import Tenant


def hold_factory(db: Database, tenant: Tenant) -> str:
    """A legal hold in force on the whole of ``tenant``."""
    with db.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        return str(holds.place(uow, "tenant", None, "test hold").id)


def document(**changes: Any) -> dict[str, Any]:
    """The defaults as JSON with ``classes__evidence__keep_days=60``-style changes."""
    doc = copy.deepcopy(policy.DEFAULT.as_json())
    for path, value in changes.items():
        node = doc
        *parents, last = path.split("__")
        for p in parents:
            node = node[p]
        node[last] = value
    return doc
