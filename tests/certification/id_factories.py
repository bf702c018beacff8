"""One real object of a tenant per kind of id the issuance routes take
(program, certificate, approval request), for the generated another-tenant
tests (tests/identity/test_authorization.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from invigil.certification import issuance
from invigil.db.engine import Database
from tests.certification.factories import holder, program
from tests.certification.sittings import sit_as
from tests.results.cohort import make_exam4


def program_factory(db: Database, tenant: Any) -> str:
    return str(program(db, tenant.id)[0])


def approval_factory(db: Database, tenant: Any) -> str:
    exam = make_exam4(db, tenant.id).id
    program(db, tenant.id, exam_ids=[exam], approval=True)
    who = holder(db, tenant.id)
    sit_as(db, tenant.id, exam, who)
    with db.unit_of_work(tenant.id) as uow:
        (done,) = issuance.evaluate(uow, who, now=datetime.now(UTC))
        assert done.pending is not None
        return str(done.pending.id)
