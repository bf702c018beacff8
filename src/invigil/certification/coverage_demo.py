"""Demo groups and coverage (``invigil demo``): in every demo tenant, two
certification programs over the demo exam ``standard-demo`` ("Customer
data handling", "Working at height"; 12 months' validity, 30 days' grace),
three groups (the team "Support team", the job role "Field engineers", the
site "Berlin") with their required programs, members and a manager
(``certification_manager@<slug>.test``), and certificates issued through
:func:`invigil.certification.lifecycle.issue` at back-dated times, so that
on the day the demo is seeded the dashboard shows every status: covered,
expiring within 30, 60 and 90 days, in grace, lapsed and never certified.

The certificates rest on no result (an empty basis): they stand for people
certified before the tenant used Invigil. Idempotent: a tenant that has
the group "Support team" is left alone.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from invigil.certification import groups, lifecycle, programs
from invigil.certification.definition import parse
from invigil.certification.models import Program
from invigil.content import exams
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery import candidates
from invigil.identity import service as identity

EXAM = "standard-demo"
DATA = "Customer data handling"
HEIGHT = "Working at height"
GROUPS = (("Support team", "team", (DATA,)), ("Field engineers", "role", (DATA, HEIGHT)),
          ("Berlin", "site", (DATA,)))  # fmt: skip
# name, groups, {program: days from today to the certificate's expiry}
# (absent: never certified; negative: expired that many days ago).
PEOPLE: tuple[tuple[str, tuple[str, ...], dict[str, int]], ...] = (
    ("Ada Lovelace", ("Support team", "Berlin"), {DATA: 200}),
    ("Ben Okafor", ("Support team",), {DATA: 20}),
    ("Chloé Martin", ("Support team",), {DATA: 50}),
    ("Dev Patel", ("Support team",), {DATA: 80}),
    ("Emil Novak", ("Support team",), {DATA: -10}),
    ("Fay Schmidt", ("Support team", "Berlin"), {DATA: -120}),
    ("Gus Ortega", ("Support team",), {}),
    ("Hana Sato", ("Field engineers", "Berlin"), {DATA: 300, HEIGHT: 150}),
    ("Ivo Horvat", ("Field engineers",), {DATA: 25}),
    ("Jun Park", ("Field engineers",), {DATA: 140, HEIGHT: -5}),
    ("Kim Larsen", ("Field engineers",), {}),
    ("Lea Weber", ("Berlin",), {DATA: 100}),
)
VALIDITY = 12


def _email(name: str, slug: str) -> str:
    local = name.split()[0].lower().replace("é", "e")
    return f"{local}@staff.{slug}.test"


def _program(uow: UnitOfWork, name: str, exam_id: uuid.UUID) -> uuid.UUID:
    found = uow.scalar(select(Program.id).where(Program.name == name))
    if found is not None:
        return found
    made, _ = programs.create(uow, name, parse({
        "exam_ids": [str(exam_id)], "validity_months": VALIDITY, "grace_days": 30,
        "description": f"{name}: the yearly certification of the demo.",
    }))  # fmt: skip
    return made.id


def seed_coverage(
    db: Database, tenant_id: uuid.UUID, slug: str, *, now: datetime | None = None
) -> bool:
    """The programs, groups, people and certificates; False when already
    there (or in a tenant without the demo exam)."""
    now = now or datetime.now(UTC)
    with db.unit_of_work(tenant_id, Actor.operator("demo")) as uow:
        if groups.by_name(uow, GROUPS[0][0]) is not None:
            return False
        exam = exams.find_by_slug(uow, EXAM)
        if exam is None:
            return False
        program_ids = {name: _program(uow, name, exam.id) for name in (DATA, HEIGHT)}
        made = {}
        for name, kind, required in GROUPS:
            made[name] = groups.create(uow, name, kind).id
            groups.set_required(uow, made[name], [program_ids[p] for p in required])
        manager = identity.find_by_email(uow, f"certification_manager@{slug}.test")
        if manager is not None:
            for name in made:
                groups.add_manager(uow, made[name], manager.id)
        for name, member_of, held in PEOPLE:
            person = candidates.find_or_create(uow, name=name, email=_email(name, slug))
            for group in member_of:
                groups.add_member(uow, made[group], person.id)
            for program, days_left in held.items():
                expires = now + timedelta(days=days_left)
                issued = lifecycle.add_months(expires, -VALIDITY)
                version = programs.current_version(uow, program_ids[program])
                lifecycle.issue(uow, lifecycle.Issue(version=version, holder_id=person.id,
                                                     basis=[]), now=issued)  # fmt: skip
    return True
