"""Group memberships from one CSV file, all or nothing
(docs/formats/group-membership-csv.md).

Columns ``email,name,group[,external_ref]`` (header required, any order).
A person is matched to the tenant's candidate by email, case-folded; a new
email makes a new candidate (``name`` is then required; an existing
candidate keeps their name). The group must exist already: an unknown group
name is an error on that line, never a new group (a typo would otherwise
make a group nobody requires anything of, and its people would silently
drop out of coverage). Memberships are added, never removed: a person
missing from the file stays in their groups.

Every row is checked, and every group and email resolved, before anything
is written; one problem anywhere refuses the whole file and the report
names every problem by line and column. Cells are read back through
:func:`invigil.security.safe_csv.restore` (so a file Invigil exported, with
its formula guard quotes, reads as the text that was exported).
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from invigil import audit
from invigil.certification.models import Group, GroupMember
from invigil.db.uow import UnitOfWork
from invigil.delivery import candidates
from invigil.delivery.models import Candidate
from invigil.errors import Invalid
from invigil.identity.service import normalise_email
from invigil.security import safe_csv

MAX_BYTES = 512 * 1024
MAX_ROWS = 5000
REQUIRED = ("email", "name", "group")
OPTIONAL = ("external_ref",)


@dataclass(frozen=True)
class Problem:
    line: int
    column: str  # "" when the problem is the whole row or file
    message: str


@dataclass(frozen=True)
class Row:
    line: int
    email: str
    name: str
    group: str
    external_ref: str


@dataclass
class Report:
    """What an import read and did (or would do: ``applied`` False)."""

    rows: int = 0
    people_matched: int = 0
    people_created: int = 0
    memberships_added: int = 0
    memberships_existing: int = 0
    groups: int = 0
    problems: list[Problem] = field(default_factory=list)
    applied: bool = False
    sha256: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def parse(content: bytes) -> tuple[list[Row], list[Problem]]:
    """The file's rows, or the problems found in it (before any lookup)."""
    problems: list[Problem] = []
    if len(content) > MAX_BYTES:
        return [], [Problem(1, "", f"the file is larger than {MAX_BYTES // 1024} KiB")]
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [Problem(1, "", "the file is not UTF-8 text")]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [safe_csv.restore(h.strip()).lower() for h in reader.fieldnames or []]
    except csv.Error as exc:
        return [], [Problem(1, "", f"not a CSV file: {exc}")]
    reader.fieldnames = header
    for column in REQUIRED:
        if column not in header:
            problems.append(Problem(1, column, f"the column {column!r} is missing"))
    for column in header:
        if column not in REQUIRED + OPTIONAL:
            problems.append(Problem(1, column, f"unknown column {column[:40]!r}"))
    if len(set(header)) != len(header):
        problems.append(Problem(1, "", "a column is named twice"))
    if problems:
        return [], problems
    rows: list[Row] = []
    seen: dict[tuple[str, str], int] = {}
    try:
        for record in reader:
            line = reader.line_num
            if len(rows) >= MAX_ROWS:
                problems.append(Problem(line, "", f"at most {MAX_ROWS} rows per file"))
                break
            if None in record:
                problems.append(Problem(line, "", "this row has more cells than the header"))
                continue
            cells = {k: safe_csv.restore((v or "").strip()) for k, v in record.items()}
            if not any(cells.values()):
                continue  # a blank line
            found = _row(line, cells, problems)
            if found is None:
                continue
            key = (found.email.lower(), found.group.lower())
            if key in seen:
                problems.append(Problem(line, "email", f"{found.email} is already in "
                                        f"{found.group!r} on line {seen[key]}"))  # fmt: skip
                continue
            seen[key] = line
            rows.append(found)
    except csv.Error as exc:
        problems.append(Problem(reader.line_num, "", f"not a CSV file: {exc}"))
    if not rows and not problems:
        problems.append(Problem(1, "", "the file holds no memberships"))
    return rows, problems


def _row(line: int, cells: dict[str, str], problems: list[Problem]) -> Row | None:
    before = len(problems)
    email = cells.get("email", "")
    try:
        email = normalise_email(email)
    except Invalid:
        problems.append(Problem(line, "email", f"{email[:80]!r} is not an email address"))
    name = " ".join(cells.get("name", "").split())
    if len(name) > 200:
        problems.append(Problem(line, "name", "at most 200 characters"))
    group = " ".join(cells.get("group", "").split())
    if not group:
        problems.append(Problem(line, "group", "name the group"))
    elif len(group) > 200:
        problems.append(Problem(line, "group", "at most 200 characters"))
    external_ref = cells.get("external_ref", "")
    if len(external_ref) > 200:
        problems.append(Problem(line, "external_ref", "at most 200 characters"))
    if len(problems) > before:
        return None
    return Row(line, email, name, group, external_ref)


def run(uow: UnitOfWork, content: bytes, *, apply: bool) -> Report:
    """Check the file against the tenant (groups exist, new people have a
    name) and, when ``apply`` and nothing is wrong, write it: people
    created, memberships added, one audit entry for the file. A report with
    problems has written nothing."""
    report = Report(sha256=hashlib.sha256(content).hexdigest())
    rows, report.problems = parse(content)
    report.rows = len(rows)
    if report.problems:
        return report
    names = {r.group.lower() for r in rows}
    groups = {
        g.name.lower(): g
        for g in uow.scalars(select(Group).where(func.lower(Group.name).in_(names)))
    }
    emails = {r.email.lower() for r in rows}
    people = {
        c.email.lower(): c
        for c in uow.scalars(select(Candidate).where(func.lower(Candidate.email).in_(emails)))
    }
    for r in rows:
        if r.group.lower() not in groups:
            report.problems.append(
                Problem(r.line, "group", f"there is no group named {r.group[:80]!r}")
            )
        if r.email.lower() not in people and not r.name:
            report.problems.append(Problem(r.line, "name", f"{r.email} is new: give their name"))
    if report.problems:
        return report
    existing: set[tuple[uuid.UUID, uuid.UUID]] = set()
    if people:
        found = uow.session.execute(
            select(GroupMember.group_id, GroupMember.candidate_id).where(
                GroupMember.group_id.in_([g.id for g in groups.values()]),
                GroupMember.candidate_id.in_([c.id for c in people.values()]),
            )
        )
        existing = {(g, c) for g, c in found}
    report.groups = len(groups)
    report.people_matched = len(people)
    report.people_created = len(emails - set(people))
    pairs: list[tuple[Group, str]] = []
    for r in rows:
        person = people.get(r.email.lower())
        if person is not None and (groups[r.group.lower()].id, person.id) in existing:
            report.memberships_existing += 1
        else:
            pairs.append((groups[r.group.lower()], r.email.lower()))
    report.memberships_added = len(pairs)
    if not apply:
        return report
    for r in rows:  # new people: one candidate each (audited as candidates are)
        if r.email.lower() not in people:
            people[r.email.lower()] = candidates.find_or_create(
                uow, name=r.name, email=r.email, external_ref=r.external_ref
            )
    if pairs:
        uow.session.execute(
            pg_insert(GroupMember)
            .values(
                [
                    {"tenant_id": uow.tenant, "group_id": g.id, "candidate_id": people[email].id}
                    for g, email in pairs
                ]
            )
            .on_conflict_do_nothing()
        )
    audit.record(
        uow,
        "certification.group_members_imported",
        ("cert_group_import", report.sha256[:32]),
        {
            "sha256": report.sha256,
            "rows": report.rows,
            "people_created": report.people_created,
            "people_matched": report.people_matched,
            "memberships_added": report.memberships_added,
            "memberships_existing": report.memberships_existing,
            "groups": sorted(str(g.id) for g in groups.values()),
        },
    )
    report.applied = True
    return report
