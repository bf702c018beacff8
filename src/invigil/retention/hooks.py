"""What retention provides to the layers below it (docs/adr/0019-layers.md).

Installed when the retention package is imported (its ``__init__``); the
shell imports every domain at start-up.
"""

from __future__ import annotations

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


def install() -> None:
    keeping.register(Keeper())
