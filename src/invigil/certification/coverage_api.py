"""The groups and coverage API under ``/api/v1/certification``: groups
(list, create, one, change, delete), their required programs, members and
managers, the membership CSV import (checked, then applied: all or
nothing), and coverage (the summary per group x program, the matrix of
people x required programs, both paged and filtered, and their export).
Reading needs ``certificate:view``, changing ``certification:manage``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from invigil.certification import coverage, coverage_exports, groups, membership_csv
from invigil.certification.coverage import Filters
from invigil.certification.coverage_schemas import (
    CellOut,
    CountsOut,
    GroupDetailOut,
    GroupIn,
    GroupOut,
    GroupsOut,
    ImportOut,
    LineOut,
    ManagerOut,
    MatrixOut,
    MembersOut,
    PersonOut,
    ProgramRef,
    RequirementsIn,
    RowOut,
    Status,
    SummaryOut,
)
from invigil.db.uow import UnitOfWork
from invigil.errors import Invalid
from invigil.results.exports import XLSX_TYPE
from invigil.security.permissions import Permission as P
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1/certification", tags=["certification"])

Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Limit = Annotated[int, Query(ge=1, le=coverage.MAX_PAGE)]


async def _raw_body(request: Request) -> bytes:
    # Read at most one byte past the limit: a larger file is refused whole.
    body = b""
    async for piece in request.stream():
        body += piece
        if len(body) > membership_csv.MAX_BYTES:
            break
    return body


RawBody = Annotated[bytes, Depends(_raw_body)]


def _group_out(view: groups.GroupView) -> GroupOut:
    g = view.group
    return GroupOut(id=g.id, name=g.name, kind=g.kind, members=view.members,
                    managers=view.managers, programs=view.programs)  # fmt: skip


def _detail(uow: UnitOfWork, group_id: uuid.UUID) -> GroupDetailOut:
    view = groups.view(uow, group_id)
    return GroupDetailOut(
        **_group_out(view).model_dump(),
        required=[ProgramRef(id=p.id, name=p.name) for p in groups.required(uow, group_id)],
        managers_list=[
            ManagerOut(id=u.id, email=u.email, display_name=u.display_name)
            for u in groups.managers(uow, group_id)
        ],
    )


@router.get("/groups", response_model=GroupsOut)
def list_groups(
    offset: Offset = 0, limit: Limit = 50, uow: UnitOfWork = requires(P.CERTIFICATE_VIEW)
) -> GroupsOut:
    found = groups.listing(uow)
    return GroupsOut(items=[_group_out(v) for v in found[offset : offset + limit]],
                     total=len(found), offset=offset, limit=limit)  # fmt: skip


@router.post("/groups", response_model=GroupDetailOut, status_code=201)
def create_group(
    body: GroupIn, uow: UnitOfWork = requires(P.CERTIFICATION_MANAGE)
) -> GroupDetailOut:
    made = groups.create(uow, body.name, body.kind)
    return _detail(uow, made.id)


@router.get("/groups/{group_id}", response_model=GroupDetailOut)
def get_group(
    group_id: uuid.UUID, uow: UnitOfWork = requires(P.CERTIFICATE_VIEW)
) -> GroupDetailOut:
    return _detail(uow, group_id)


@router.put("/groups/{group_id}", response_model=GroupDetailOut)
def change_group(
    group_id: uuid.UUID, body: GroupIn, uow: UnitOfWork = requires(P.CERTIFICATION_MANAGE)
) -> GroupDetailOut:
    groups.change(uow, group_id, body.name, body.kind)
    return _detail(uow, group_id)


@router.delete("/groups/{group_id}", status_code=204)
def delete_group(
    group_id: uuid.UUID, uow: UnitOfWork = requires(P.CERTIFICATION_MANAGE)
) -> Response:
    groups.remove(uow, group_id)
    return Response(status_code=204)


@router.put("/groups/{group_id}/requirements", response_model=GroupDetailOut)
def put_requirements(
    group_id: uuid.UUID, body: RequirementsIn, uow: UnitOfWork = requires(P.CERTIFICATION_MANAGE)
) -> GroupDetailOut:
    groups.set_required(uow, group_id, body.program_ids)
    return _detail(uow, group_id)


@router.get("/groups/{group_id}/members", response_model=MembersOut)
def list_members(
    group_id: uuid.UUID,
    offset: Offset = 0,
    limit: Limit = 50,
    uow: UnitOfWork = requires(P.CERTIFICATE_VIEW),
) -> MembersOut:
    people, total = groups.members_page(uow, group_id, offset=offset, limit=limit)
    return MembersOut(
        items=[PersonOut(id=c.id, name=c.name, email=c.email, external_ref=c.external_ref)
               for c in people],
        total=total, offset=offset, limit=limit,
    )  # fmt: skip


@router.put("/groups/{group_id}/members/{candidate_id}", status_code=204)
def add_member(
    group_id: uuid.UUID, candidate_id: uuid.UUID,
    uow: UnitOfWork = requires(P.CERTIFICATION_MANAGE),
) -> Response:  # fmt: skip
    groups.add_member(uow, group_id, candidate_id)
    return Response(status_code=204)


@router.delete("/groups/{group_id}/members/{candidate_id}", status_code=204)
def remove_member(
    group_id: uuid.UUID, candidate_id: uuid.UUID,
    uow: UnitOfWork = requires(P.CERTIFICATION_MANAGE),
) -> Response:  # fmt: skip
    groups.remove_member(uow, group_id, candidate_id)
    return Response(status_code=204)


@router.put("/groups/{group_id}/managers/{user_id}", status_code=204)
def add_manager(
    group_id: uuid.UUID, user_id: uuid.UUID, uow: UnitOfWork = requires(P.CERTIFICATION_MANAGE)
) -> Response:
    groups.add_manager(uow, group_id, user_id)
    return Response(status_code=204)


@router.delete("/groups/{group_id}/managers/{user_id}", status_code=204)
def remove_manager(
    group_id: uuid.UUID, user_id: uuid.UUID, uow: UnitOfWork = requires(P.CERTIFICATION_MANAGE)
) -> Response:
    groups.remove_manager(uow, group_id, user_id)
    return Response(status_code=204)


@router.post("/groups/import", response_model=ImportOut)
def import_memberships(
    apply: bool = False,
    uow: UnitOfWork = requires(P.CERTIFICATION_MANAGE),
    *,
    content: RawBody,  # after the permission: no body is read for a stranger
) -> ImportOut:
    """Memberships from a CSV file (the raw body;
    docs/formats/group-membership-csv.md): checked, and written when
    ``apply=true``. A file with any problem changes nothing and answers 422
    with ``problems`` (each with ``line``, ``column`` and ``message``)."""
    report = membership_csv.run(uow, content, apply=apply)
    if report.problems:
        n = len(report.problems)
        raise Invalid(
            f"the file was refused ({n} problem{'s' if n != 1 else ''}); nothing was changed",
            problems=[{"line": p.line, "column": p.column, "message": p.message}
                      for p in report.problems],
        )  # fmt: skip
    return ImportOut(
        applied=report.applied, sha256=report.sha256, rows=report.rows,
        people_matched=report.people_matched, people_created=report.people_created,
        memberships_added=report.memberships_added,
        memberships_existing=report.memberships_existing, groups=report.groups,
    )  # fmt: skip


def _filters(group_id: uuid.UUID | None, program_id: uuid.UUID | None,
             status: Status | None) -> Filters:  # fmt: skip
    return Filters(group_id=group_id, program_id=program_id, status=status)


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("/coverage", response_model=SummaryOut)
def summary(
    group_id: uuid.UUID | None = None,
    program_id: uuid.UUID | None = None,
    status: Status | None = None,
    offset: Offset = 0,
    limit: Limit = 50,
    uow: UnitOfWork = requires(P.CERTIFICATE_VIEW),
) -> SummaryOut:
    """Every group x required program with its members' count per status
    (ADR 0045), the totals over all of them, one page of the lines."""
    now = _now()
    found = coverage.summary(uow, _filters(group_id, program_id, status), now=now)
    return SummaryOut(
        now=now,
        items=[LineOut(group_id=x.group_id, group=x.group_name, kind=x.kind,
                       program_id=x.program_id, program=x.program_name, members=x.members,
                       counts=CountsOut(**x.counts))
               for x in found.lines[offset : offset + limit]],
        total=len(found.lines), offset=offset, limit=limit, totals=CountsOut(**found.totals),
    )  # fmt: skip


@router.get("/coverage/matrix", response_model=MatrixOut)
def matrix(
    group_id: uuid.UUID | None = None,
    program_id: uuid.UUID | None = None,
    status: Status | None = None,
    offset: Offset = 0,
    limit: Limit = 50,
    uow: UnitOfWork = requires(P.CERTIFICATE_VIEW),
) -> MatrixOut:
    """One page of people (by name) x the required programs in view."""
    now = _now()
    found = coverage.matrix(uow, _filters(group_id, program_id, status), now=now,
                            offset=offset, limit=limit)  # fmt: skip
    return MatrixOut(
        now=now,
        programs=[ProgramRef(id=i, name=n) for i, n in found.programs],
        items=[RowOut(person=PersonOut(id=p.candidate_id, name=p.name, email=p.email,
                                       external_ref=p.external_ref),
                      cells={k: CellOut(**v) for k, v in p.cells.items()})
               for p in found.people],
        total=found.total, offset=offset, limit=limit,
    )  # fmt: skip


@router.get(
    "/coverage/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, XLSX_TYPE: {}}}},
)
def export(
    view: Literal["summary", "matrix"] = "summary",
    format: Literal["csv", "xlsx"] = "csv",
    group_id: uuid.UUID | None = None,
    program_id: uuid.UUID | None = None,
    status: Status | None = None,
    uow: UnitOfWork = requires(P.CERTIFICATE_VIEW),
) -> StreamingResponse:
    """The summary or the whole matrix (every page) with the same filters,
    as CSV or XLSX (docs/formats/coverage-export.md)."""
    return export_response(uow, view, format, _filters(group_id, program_id, status), _now())


def export_response(
    uow: UnitOfWork, view: str, fmt: str, filters: Filters, now: datetime
) -> StreamingResponse:
    """Shared by the API and the pages: the rows are read now, in the
    request's transaction, then written out as the response streams."""
    if view == "summary":
        found = coverage.summary(uow, filters, now=now)
        rows = list(coverage_exports.summary_rows(found))
        head = coverage_exports.SUMMARY_HEADER
    else:
        programs = coverage.columns(uow, filters)
        people = coverage.everyone(uow, filters, now=now)
        head = coverage_exports.matrix_header(programs)
        rows = list(coverage_exports.matrix_rows(programs, people))
    return coverage_exports.response(view, fmt, head, iter(rows), now)
