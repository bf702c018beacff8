"""Groups (audited changes) and the membership CSV import: all or nothing,
every problem by line and column, people matched by email case-folded,
the documented example file read as the document says."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from invigil.audit.models import AuditEvent
from invigil.certification import groups, membership_csv
from invigil.certification.models import GroupMember
from invigil.db.engine import Database
from invigil.delivery.models import Candidate
from invigil.errors import Conflict, Invalid, NotFound
from invigil.settings import Settings
from tests.certification.factories import holder, program
from tests.conftest import make_tenant

EXAMPLE = Path(__file__).resolve().parents[2] / "docs/formats/examples/group-membership.csv"


def _actions(db: Database, tenant: uuid.UUID) -> list[str]:
    with db.unit_of_work(tenant) as uow:
        return list(uow.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_groups_change_and_every_change_is_audited(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    prog, _ = program(db, tenant)
    who = holder(db, tenant)
    with db.unit_of_work(tenant) as uow:
        made = groups.create(uow, "  Support   team ", "team")
        assert made.name == "Support team"
        with pytest.raises(Conflict):
            groups.create(uow, "Support team", "site")
        with pytest.raises(Invalid):
            groups.create(uow, "x", "department")
        with pytest.raises(Invalid):
            groups.create(uow, " ", "team")
        groups.change(uow, made.id, "Support", "role")
        groups.change(uow, made.id, "Support", "role")  # no change: no entry
        groups.set_required(uow, made.id, [prog])
        groups.set_required(uow, made.id, [prog])  # the same: no entry
        with pytest.raises(Invalid):
            groups.set_required(uow, made.id, [uuid.uuid4()])
        assert groups.add_member(uow, made.id, who) is True
        assert groups.add_member(uow, made.id, who) is False
        with pytest.raises(NotFound):
            groups.add_member(uow, made.id, uuid.uuid4())
        view = groups.view(uow, made.id)
        assert (view.members, view.programs, view.group.kind) == (1, 1, "role")
        groups.remove_member(uow, made.id, who)
        with pytest.raises(NotFound):
            groups.remove_member(uow, made.id, who)
        groups.remove(uow, made.id)
        with pytest.raises(NotFound):
            groups.get(uow, made.id)
    actions = [a for a in _actions(db, tenant) if a.startswith("certification.group")]
    assert actions == [
        "certification.group_created",
        "certification.group_changed",
        "certification.group_requirements_changed",
        "certification.group_member_added",
        "certification.group_member_removed",
        "certification.group_deleted",
    ]


def _members(db: Database, tenant: uuid.UUID) -> int:
    with db.unit_of_work(tenant) as uow:
        return uow.scalar(select(func.count()).select_from(GroupMember)) or 0


def test_import_adds_memberships_and_matches_people_case_folded(
    db: Database, settings: Settings
) -> None:
    tenant = make_tenant(db, settings).id
    with db.unit_of_work(tenant) as uow:
        team = groups.create(uow, "Support team")
        groups.create(uow, "Berlin", "site")
        known = Candidate(tenant_id=tenant, name="Known Person", email="Known@Example.com")
        uow.add(known)
        uow.flush()
        groups.add_member(uow, team.id, known.id)
    body = (
        "\ufeffEmail,Name,Group\r\n"
        "known@example.COM,Ignored Name,support TEAM\r\n"  # matched; already a member
        "known@example.com,,Berlin\r\n"  # matched: no name needed
        "new@example.com,New Person,Berlin\r\n"
        "\r\n"
    ).encode()
    with db.unit_of_work(tenant) as uow:
        checked = membership_csv.run(uow, body, apply=False)
    assert checked.ok and not checked.applied
    assert (checked.rows, checked.people_matched, checked.people_created) == (3, 1, 1)
    assert (checked.memberships_added, checked.memberships_existing) == (2, 1)
    assert _members(db, tenant) == 1  # a check writes nothing
    with db.unit_of_work(tenant) as uow:
        done = membership_csv.run(uow, body, apply=True)
    assert done.applied and done.memberships_added == 2
    assert _members(db, tenant) == 3
    with db.unit_of_work(tenant) as uow:
        names = set(uow.scalars(select(Candidate.name)))
        again = membership_csv.run(uow, body, apply=True)
    assert names == {"Known Person", "New Person"}  # an existing person keeps their name
    assert (again.memberships_added, again.memberships_existing, again.people_created) == (0, 3, 0)
    assert "certification.group_members_imported" in _actions(db, tenant)


def test_a_file_with_any_problem_changes_nothing_and_names_each(
    db: Database, settings: Settings
) -> None:
    tenant = make_tenant(db, settings).id
    with db.unit_of_work(tenant) as uow:
        groups.create(uow, "Support team")
    body = (
        b"email,name,group\n"
        b"good@example.com,Good Person,Support team\n"  # fine on its own
        b"not-an-email,Someone,Support team\n"
        b"x@example.com,Someone,\n"
        b"good@example.com,Good Person,Support team\n"  # the same line again
        b"a,b,c,d\n"
    )
    with db.unit_of_work(tenant) as uow:
        report = membership_csv.run(uow, body, apply=True)
    assert not report.applied
    found = [(p.line, p.column) for p in report.problems]
    assert found == [(3, "email"), (4, "group"), (5, "email"), (6, "")]
    # Rows fine in themselves but wrong for this tenant: all named too.
    body = (
        b"email,name,group\n"
        b"good@example.com,Good Person,Support team\n"
        b"new@example.com,,Support team\n"
        b"other@example.com,Other,No such group\n"
    )
    with db.unit_of_work(tenant) as uow:
        report = membership_csv.run(uow, body, apply=True)
    assert [(p.line, p.column) for p in report.problems] == [(3, "name"), (4, "group")]
    assert _members(db, tenant) == 0
    with db.unit_of_work(tenant) as uow:
        assert uow.scalar(select(func.count()).select_from(Candidate)) == 0


@pytest.mark.parametrize(
    ("body", "column"),
    [
        (b"email,name\nx@example.com,X\n", "group"),
        (b"email,name,group,team\n", "team"),
        (b"email,name,group\n", ""),
        (b"\xff\xfe", ""),
        (b"email,name,group\n" + b"x" * membership_csv.MAX_BYTES, ""),
    ],
)
def test_bad_files_are_refused_whole(body: bytes, column: str) -> None:
    rows, problems = membership_csv.parse(body)
    assert rows == [] and problems and problems[0].column == column


def test_too_many_rows_are_refused() -> None:
    lines = [f"p{i}@example.com,P {i},G" for i in range(membership_csv.MAX_ROWS + 1)]
    _, problems = membership_csv.parse(("email,name,group\n" + "\n".join(lines)).encode())
    assert problems[-1].message.startswith(f"at most {membership_csv.MAX_ROWS} rows")


def test_the_documented_example_imports_as_documented(db: Database, settings: Settings) -> None:
    """docs/formats/group-membership-csv.md describes this file: five rows,
    four people (the formula guard's quote removed), five memberships."""
    tenant = make_tenant(db, settings).id
    with db.unit_of_work(tenant) as uow:
        for name, kind in (("Support team", "team"), ("Field engineers", "role"),
                           ("Berlin", "site")):  # fmt: skip
            groups.create(uow, name, kind)
    with db.unit_of_work(tenant) as uow:
        report = membership_csv.run(uow, EXAMPLE.read_bytes(), apply=True)
        emails = set(uow.scalars(select(Candidate.email)))
        names = set(uow.scalars(select(Candidate.name)))
    assert report.ok, report.problems
    assert (report.rows, report.people_created, report.memberships_added) == (5, 4, 5)
    assert "=cmd@example.com" in emails  # the guard quote read back off
    assert "=Not a formula" in names
    doc = (EXAMPLE.parent.parent / "group-membership-csv.md").read_text()
    assert EXAMPLE.read_text().strip() in doc
