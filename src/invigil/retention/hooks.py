"""What retention provides to the layers below it (docs/adr/0019-layers.md),
installed when the package is imported (its ``__init__``; the shell imports
every domain at start-up): the policy version in force and its periods (for
the consent text), an attempt's contest window (from the version it froze,
``attempts.retention_version``; NULL, for attempts started before versions
were frozen: the version in force now), its jobs, the records its purges
removed (for ``invigil audit verify``) and the evidence objects they deleted
(opening one answers 410, not a missing object; docs/adr/0058-purging.md)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from invigil.audit.anchored import register_purged, stream
from invigil.content.consent import Kept, Period
from invigil.db.uow import UnitOfWork
from invigil.delivery import keeping
from invigil.delivery.models import Attempt
from invigil.proctoring import contests
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


def contest_window_days(uow: UnitOfWork, attempt: Attempt) -> int:
    """The days the attempt's candidate has to contest, after submission."""
    found = None
    if attempt.retention_version is not None:
        found = policy.by_version(uow, attempt.retention_version)
    version = found if found is not None else policy.current(uow)
    return version.document.contest_window_days


def contest_window_ends(uow: UnitOfWork, attempt: Attempt) -> datetime | None:
    if attempt.submitted_at is None:
        return None
    days = contest_window_days(uow, attempt)
    return attempt.submitted_at + timedelta(days=days) if days > 0 else None


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
    contests.register_window(contest_window_ends)
    register_purged(purged)
    evidence.register_deleted(deleted)
    queue.register(jobs.add_tasks)
