"""What retention provides to the layers below it (docs/adr/0019-layers.md),
installed when the package is imported (its ``__init__``; the shell imports
every domain at start-up): the policy version in force and its periods (for
the consent text), its jobs, the records its purges removed (for ``invigil
audit verify``) and the evidence objects they deleted (opening one answers
410, not a missing object; docs/adr/0058-purging.md)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from invigil.audit.anchored import register_purged, stream
from invigil.content.consent import Kept, Period
from invigil.db.uow import UnitOfWork
from invigil.delivery import keeping
from invigil.retention import policy


def _period(rule: policy.Rule, days: int | None) -> Period:
    return Period(days, rule.start, rule.then)


class Keeper:
    """Delivery's :class:`invigil.delivery.keeping.Keeper`: the tenant's policy."""

    def version_in_force(self, uow: UnitOfWork) -> int:
        return policy.current(uow).version

    def kept(self, uow: UnitOfWork, version: int, preset: str) -> Kept:
        # A version that cannot be found (never, in one tenant) tells the defaults.
        found = policy.by_version(uow, version) or policy.DEFAULT_VERSION
        doc = found.document
        evidence = doc.rule("evidence")
        return Kept(
            found.version,
            _period(evidence, evidence.days_for(preset)),
            _period(doc.rule("answers"), doc.rule("answers").keep_days),
            _period(doc.rule("results"), doc.rule("results").keep_days),
            _period(doc.rule("candidate_identity"), doc.rule("candidate_identity").keep_days),
        )


_PURGED = """
    SELECT p.kind, p.record_id, r.trigger, r.policy_version, r.id
    FROM retention_purged_records p
    JOIN retention_receipts r ON r.tenant_id = p.tenant_id AND r.id = p.receipt_id
"""


def purged(uow: UnitOfWork) -> Mapping[tuple[str, str], str]:
    """(kind, id) -> "policy version P, receipt R" for every record a purge
    deleted or altered (an erasure: "an erasure request, policy version P, ...")."""
    out = {}
    for kind, record_id, trigger, version, receipt in stream(uow, _PURGED, {}):
        why = "an erasure request, policy version" if trigger == "erasure" else "policy version"
        out[(kind, record_id)] = f"{why} {version}, receipt {receipt}"
    return out


def deleted(uow: UnitOfWork, object_id: uuid.UUID) -> datetime | None:
    """When a purge put the object on its deletion list (None: it did not)."""
    from sqlalchemy import select

    from invigil.retention.models import ObjectDeletion

    return uow.scalar(
        select(ObjectDeletion.created_at).where(ObjectDeletion.object_id == object_id)
    )


def install() -> None:
    from invigil.evidence import service as evidence
    from invigil.jobs import queue
    from invigil.retention import jobs

    keeping.register(Keeper())
    register_purged(purged)
    evidence.register_deleted(deleted)
    queue.register(jobs.add_tasks)
