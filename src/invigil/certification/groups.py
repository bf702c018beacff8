"""The tenant's groups (teams, job roles, sites): who belongs, who manages,
which programs the members must hold. Every change writes its audit entry
in the same transaction (subject ``cert_group``).

Members are candidates (certificates are held by candidates); managers are
staff users (the recertification escalations go to them). Memberships come
one by one or from a CSV file (:mod:`invigil.certification.membership_csv`),
all or nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.selectable import ScalarSelect

from invigil import audit
from invigil.certification.models import (
    Group,
    GroupManager,
    GroupMember,
    GroupRequirement,
    Program,
)
from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Candidate
from invigil.errors import Conflict, Invalid, NotFound
from invigil.identity.models import User

KINDS = ("team", "role", "site")
MAX_NAME = 200
MAX_REQUIRED = 50  # programs one group may require


@dataclass(frozen=True)
class GroupView:
    """A group with its counts, as the list shows it."""

    group: Group
    members: int
    managers: int
    programs: int


def _name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise Invalid(f"a group needs a name of 1 to {MAX_NAME} characters", field="name")
    return name


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise Invalid("a group is a team, a role or a site", field="kind")
    return kind


def get(uow: UnitOfWork, group_id: uuid.UUID) -> Group:
    found = uow.session.get(Group, (uow.tenant, group_id))
    if found is None:
        raise NotFound("no such group")
    return found


def by_name(uow: UnitOfWork, name: str) -> Group | None:
    return uow.scalar(select(Group).where(Group.name == " ".join(name.split())))


def _unique(uow: UnitOfWork, name: str, other_than: uuid.UUID | None = None) -> None:
    found = by_name(uow, name)
    if found is not None and found.id != other_than:
        raise Conflict(f"a group named {name!r} exists already", field="name")


def create(uow: UnitOfWork, name: str, kind: str = "team") -> Group:
    name, kind = _name(name), _kind(kind)
    _unique(uow, name)
    group = Group(tenant_id=uow.tenant, id=uuid.uuid4(), name=name, kind=kind)
    uow.add(group)
    try:
        with uow.session.begin_nested():
            uow.flush()
    except IntegrityError:
        raise Conflict(f"a group named {name!r} exists already", field="name") from None
    audit.record(uow, "certification.group_created", ("cert_group", group.id),
                 {"name": name, "kind": kind})  # fmt: skip
    return group


def change(uow: UnitOfWork, group_id: uuid.UUID, name: str, kind: str) -> Group:
    """Rename a group or change its kind (audited only when something changed)."""
    group = get(uow, group_id)
    name, kind = _name(name), _kind(kind)
    if (group.name, group.kind) == (name, kind):
        return group
    _unique(uow, name, group.id)
    before = {"name": group.name, "kind": group.kind}
    group.name, group.kind = name, kind
    try:
        with uow.session.begin_nested():
            uow.flush()
    except IntegrityError:
        raise Conflict(f"a group named {name!r} exists already", field="name") from None
    audit.record(uow, "certification.group_changed", ("cert_group", group.id),
                 {"before": before, "after": {"name": name, "kind": kind}})  # fmt: skip
    return group


def remove(uow: UnitOfWork, group_id: uuid.UUID) -> None:
    """Delete a group with its memberships, managers and requirements (the
    people, users, programs and certificates stay)."""
    group = get(uow, group_id)
    members = uow.scalar(
        select(func.count()).select_from(GroupMember).where(GroupMember.group_id == group.id)
    )
    audit.record(uow, "certification.group_deleted", ("cert_group", group.id),
                 {"name": group.name, "kind": group.kind, "members": members})  # fmt: skip
    uow.session.delete(group)
    uow.flush()


def listing(uow: UnitOfWork, group_id: uuid.UUID | None = None) -> list[GroupView]:
    """Every group (or the one) by name with its counts (one statement)."""

    def count(group_column: InstrumentedAttribute[uuid.UUID]) -> ScalarSelect[int]:
        return (
            select(func.count()).where(group_column == Group.id).correlate(Group).scalar_subquery()
        )

    rows = uow.session.execute(
        select(
            Group,
            count(GroupMember.group_id),
            count(GroupManager.group_id),
            count(GroupRequirement.group_id),
        )
        .where(true() if group_id is None else Group.id == group_id)
        .order_by(Group.name)
    )
    return [GroupView(group, members, managers, programs)
            for group, members, managers, programs in rows]  # fmt: skip


def view(uow: UnitOfWork, group_id: uuid.UUID) -> GroupView:
    found = listing(uow, group_id)
    if not found:
        raise NotFound("no such group")
    return found[0]


# -- requirements ------------------------------------------------------------


def required(uow: UnitOfWork, group_id: uuid.UUID) -> list[Program]:
    return list(
        uow.scalars(
            select(Program)
            .join(GroupRequirement, GroupRequirement.program_id == Program.id)
            .where(GroupRequirement.group_id == group_id)
            .order_by(Program.name)
        )
    )


def set_required(uow: UnitOfWork, group_id: uuid.UUID, program_ids: list[uuid.UUID]) -> None:
    """The programs the group's members must hold, replacing the previous
    set (audited with what was added and removed)."""
    group = get(uow, group_id)
    wanted = list(dict.fromkeys(program_ids))
    if len(wanted) > MAX_REQUIRED:
        raise Invalid(f"a group requires at most {MAX_REQUIRED} programs", field="program_ids")
    known = set(uow.scalars(select(Program.id).where(Program.id.in_(wanted)))) if wanted else set()
    if missing := [p for p in wanted if p not in known]:
        raise Invalid(f"no such program: {missing[0]}", field="program_ids")
    before = set(
        uow.scalars(
            select(GroupRequirement.program_id).where(GroupRequirement.group_id == group.id)
        )
    )
    added, dropped = [p for p in wanted if p not in before], sorted(before - set(wanted), key=str)
    if not added and not dropped:
        return
    if dropped:
        uow.session.execute(
            delete(GroupRequirement).where(
                GroupRequirement.group_id == group.id, GroupRequirement.program_id.in_(dropped)
            )
        )
    if added:
        uow.session.execute(
            insert(GroupRequirement),
            [{"tenant_id": uow.tenant, "group_id": group.id, "program_id": p} for p in added],
        )
    audit.record(
        uow,
        "certification.group_requirements_changed",
        ("cert_group", group.id),
        {"added": [str(p) for p in added], "removed": [str(p) for p in dropped]},
    )


# -- members and managers ----------------------------------------------------


def members(uow: UnitOfWork, group_id: uuid.UUID) -> list[Candidate]:
    return list(
        uow.scalars(
            select(Candidate)
            .join(GroupMember, GroupMember.candidate_id == Candidate.id)
            .where(GroupMember.group_id == group_id)
            .order_by(Candidate.name, Candidate.email, Candidate.id)
        )
    )


def members_page(
    uow: UnitOfWork, group_id: uuid.UUID, *, offset: int, limit: int
) -> tuple[list[Candidate], int]:
    """One page of the group's members by name, and how many there are."""
    group = get(uow, group_id)
    total = uow.scalar(
        select(func.count()).select_from(GroupMember).where(GroupMember.group_id == group.id)
    )
    page = uow.scalars(
        select(Candidate)
        .join(GroupMember, GroupMember.candidate_id == Candidate.id)
        .where(GroupMember.group_id == group.id)
        .order_by(Candidate.name, Candidate.email, Candidate.id)
        .offset(offset)
        .limit(limit)
    )
    return list(page), total or 0


def managers(uow: UnitOfWork, group_id: uuid.UUID) -> list[User]:
    return list(
        uow.scalars(
            select(User)
            .join(GroupManager, GroupManager.user_id == User.id)
            .where(GroupManager.group_id == group_id)
            .order_by(User.email)
        )
    )


def add_member(uow: UnitOfWork, group_id: uuid.UUID, candidate_id: uuid.UUID) -> bool:
    """Add a person; False when they belonged already (nothing written)."""
    group = get(uow, group_id)
    if uow.session.get(Candidate, (uow.tenant, candidate_id)) is None:
        raise NotFound("no such person")
    added = uow.session.execute(
        pg_insert(GroupMember)
        .values(tenant_id=uow.tenant, group_id=group.id, candidate_id=candidate_id)
        .on_conflict_do_nothing()
        .returning(GroupMember.candidate_id)
    ).first()
    if added is None:
        return False
    audit.record(uow, "certification.group_member_added", ("cert_group", group.id),
                 {"candidate_id": str(candidate_id)})  # fmt: skip
    return True


def remove_member(uow: UnitOfWork, group_id: uuid.UUID, candidate_id: uuid.UUID) -> None:
    group = get(uow, group_id)
    gone = uow.session.execute(
        delete(GroupMember)
        .where(GroupMember.group_id == group.id, GroupMember.candidate_id == candidate_id)
        .returning(GroupMember.candidate_id)
    ).first()
    if gone is None:
        raise NotFound("this person is not a member of the group")
    audit.record(uow, "certification.group_member_removed", ("cert_group", group.id),
                 {"candidate_id": str(candidate_id)})  # fmt: skip


def add_manager(uow: UnitOfWork, group_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Make a staff user a manager of the group; False when they were already."""
    group = get(uow, group_id)
    user = uow.session.get(User, (uow.tenant, user_id))
    if user is None:
        raise NotFound("no such user")
    added = uow.session.execute(
        pg_insert(GroupManager)
        .values(tenant_id=uow.tenant, group_id=group.id, user_id=user.id)
        .on_conflict_do_nothing()
        .returning(GroupManager.user_id)
    ).first()
    if added is None:
        return False
    audit.record(uow, "certification.group_manager_added", ("cert_group", group.id),
                 {"user_id": str(user.id)})  # fmt: skip
    return True


def remove_manager(uow: UnitOfWork, group_id: uuid.UUID, user_id: uuid.UUID) -> None:
    group = get(uow, group_id)
    gone = uow.session.execute(
        delete(GroupManager)
        .where(GroupManager.group_id == group.id, GroupManager.user_id == user_id)
        .returning(GroupManager.user_id)
    ).first()
    if gone is None:
        raise NotFound("this user does not manage the group")
    audit.record(uow, "certification.group_manager_removed", ("cert_group", group.id),
                 {"user_id": str(user_id)})  # fmt: skip
