"""The results of one exam as staff read them: one row per attempt that
began (in progress or submitted; an attempt never started has nothing to
show), with its latest result revision, its integrity outcome and its
grading state. Reads only.

The latest revision is read from ``attempt_results`` by its unique key
(``tenant_id, attempt_id, revision``: "the highest revision of this
attempt" is one index probe), so a row never shows a superseded
score. Sorting, filters, search and keyset paging are :mod:`invigil.web.table`:
every column sorts both ways with the attempt's id as tiebreak, so pages
never skip or repeat a row, whatever the sort (ADR 0032).

Who sees whom: a viewer holding ``candidate:view`` sees the candidate's name
and email and may search them; anyone else sees :func:`pseudonym` (a stable
code derived from the attempt id) in their place, cannot search, and the
email column does not exist for them.

The integrity outcome (:func:`integrity_outcome`) joins what the policy's
actions set (``attempts.integrity``) with what reviewers decided
(``review_outcome``, ``review_final``, see :mod:`invigil.proctoring.reviews`):

================  ============================================================
``clear``         nothing marked the attempt, no reviewer decided an outcome
``flagged``       the policy flagged it (or failed it provisionally); no
                  reviewer has decided anything on it yet
``under_review``  a reviewer has decided a flag but no outcome yet, or a
                  violation awaits the second reviewer its policy requires
``cleared``       the outcome is ``cleared`` (final with one reviewer)
``failed``        the outcome is a violation (fail or invalidate), final
================  ============================================================
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    null,
    select,
    true,
)

from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Attempt, AttemptResult, Candidate
from invigil.delivery.voids import not_voided
from invigil.errors import Invalid
from invigil.i18n import N_
from invigil.proctoring.models import ReviewDecision
from invigil.proctoring.reviews import VIOLATIONS
from invigil.results.models import ResultRelease
from invigil.web import table

SHOWN_STATUSES = ("in_progress", "submitted")
STATUS_LABELS = {"in_progress": N_("in progress"), "submitted": N_("submitted")}
INTEGRITY = ("clear", "flagged", "under_review", "cleared", "failed")
INTEGRITY_LABELS = {
    "clear": N_("clear"),
    "flagged": N_("flagged"),
    "under_review": N_("under review"),
    "cleared": N_("cleared"),
    "failed": N_("failed"),
}
GRADING_LABELS = {
    "needs_grading": N_("needs grading"),
    "graded": N_("graded"),
    "released": N_("released"),
}
PASS_FILTER = (("passed", N_("Passed")), ("failed", N_("Failed")), ("pending", N_("Not decided")))
MAX_DAYS = 366 * 100  # a date range this wide is everything


def _decimal(value: Any) -> Decimal:
    """A cursor's number back (a refused one is a 422, never a 500)."""
    try:
        found = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(value) from None
    if not found.is_finite():
        raise ValueError(value)
    return found


def _pseudonym_sql() -> ColumnElement[str]:
    """:func:`invigil.results.pseudonyms.code_of` in SQL: the first six hex
    digits of the attempt id (its text starts with eight), upper case."""
    return func.upper(func.left(cast(Attempt.id, String), 6))


def integrity_outcome(decided: ColumnElement[bool]) -> ColumnElement[str]:
    """The integrity outcome (module docstring), ``decided``: a reviewer
    has decided at least one flag of the attempt."""
    marked = Attempt.integrity != "clear"
    return case(
        (Attempt.review_outcome == "cleared", "cleared"),
        (and_(Attempt.review_outcome.in_(VIOLATIONS), Attempt.review_final), "failed"),
        (Attempt.review_outcome.is_not(None), "under_review"),
        (and_(marked, decided), "under_review"),
        (marked, "flagged"),
        else_="clear",
    )


def flag_decided() -> ColumnElement[bool]:
    """A reviewer has decided at least one flag of the attempt (the
    ``decided`` of :func:`integrity_outcome`)."""
    return exists().where(
        ReviewDecision.tenant_id == Attempt.tenant_id,
        ReviewDecision.attempt_id == Attempt.id,
        ReviewDecision.scope == "flag",
    )


def grading_state(needs_grading: Any, released: Any) -> ColumnElement[Any]:
    """The grading state of the latest result: ``needs_grading`` while a
    response waits for a person, ``graded`` once none does, ``released``
    once that revision is released to the candidate, NULL without a result
    (the attempt is still running). The one place this state is computed."""
    return case(
        (needs_grading.is_(None), null()),
        (needs_grading, "needs_grading"),
        (released, "released"),
        else_="graded",
    )


@dataclass(frozen=True)
class Row:
    attempt_id: uuid.UUID
    number: int
    status: str
    name: str | None
    email: str | None
    pseudonym: str
    awarded: Decimal | None
    max_points: Decimal | None
    percent: Decimal | None
    passed: bool | None
    integrity: str
    seconds: Decimal | None
    started_at: datetime | None
    submitted_at: datetime | None
    grading: str | None
    voided: bool = False  # staff voided the attempt: its result counts nowhere

    @property
    def seconds_taken(self) -> int | None:
        return None if self.seconds is None else int(self.seconds)


@dataclass(frozen=True)
class Query:
    """The statement and the expressions the table sorts and filters by."""

    stmt: Select[*tuple[Any, ...]]
    name: ColumnElement[Any]
    email: ColumnElement[Any]
    awarded: ColumnElement[Any]
    percent: ColumnElement[Any]
    passed: ColumnElement[Any]
    passed_rank: ColumnElement[Any]
    integrity: ColumnElement[Any]
    integrity_rank: ColumnElement[Any]
    seconds: ColumnElement[Any]
    grading: ColumnElement[Any]


def query(exam_id: uuid.UUID, *, identities: bool, by_candidate: bool = False) -> Query:
    """Every begun attempt of the exam, one row each (see :class:`Row`).

    The latest result and the candidate are lateral joins (one probe of a
    unique key a row, every value at once, read as plain columns by the
    order, the filters and the keyset bound); the pseudonym and "a flag was
    decided" are computed for the page's rows alone (ADR 0032)."""
    pending = AttemptResult.needs_grading
    # One probe of the unique key (tenant_id, attempt_id, revision) a row,
    # every value of the latest revision at once, each computed value
    # computed here (pass or fail is not known while a response waits for
    # a person), so that sorting, filtering and the keyset bound read it
    # as a plain column.
    latest = (
        select(
            AttemptResult.awarded.label("awarded"),
            AttemptResult.max_points.label("max_points"),
            AttemptResult.percent.label("percent"),
            case((pending, null()), else_=AttemptResult.passed).label("passed"),
            case(
                (pending, null()),
                (AttemptResult.passed.is_(True), 1),
                (AttemptResult.passed.is_(False), 0),
            ).label("passed_rank"),
            grading_state(
                pending,
                exists().where(
                    ResultRelease.tenant_id == AttemptResult.tenant_id,
                    ResultRelease.attempt_id == AttemptResult.attempt_id,
                    ResultRelease.revision == AttemptResult.revision,
                ),
            ).label("grading"),
        )
        .where(
            AttemptResult.tenant_id == Attempt.tenant_id,
            AttemptResult.attempt_id == Attempt.id,
        )
        .order_by(AttemptResult.revision.desc())
        .limit(1)
        .lateral("latest")
    )
    decided = flag_decided()
    # The candidate: when the order or the search reads the name or email,
    # a lateral probe of the candidate's key a row (LIMIT 1 keeps it one:
    # joined plainly, PostgreSQL hashes every candidate of the tenant), read
    # once a row; otherwise subqueries in the select list, which PostgreSQL
    # computes after the sort and the limit, for the page's rows alone.
    mine = and_(Candidate.tenant_id == Attempt.tenant_id, Candidate.id == Attempt.candidate_id)
    who = (
        select(Candidate.name.label("name"), Candidate.email.label("email"))
        .where(mine)
        .limit(1)
        .lateral("who")
    )
    code = _pseudonym_sql()
    if by_candidate:
        name: ColumnElement[Any] = who.c.name
        email: ColumnElement[Any] = who.c.email
    else:
        name = select(Candidate.name).where(mine).scalar_subquery()
        email = select(Candidate.email).where(mine).scalar_subquery()
    if not identities:
        name = code
    outcome = integrity_outcome(decided)
    rank = case({k: i for i, k in enumerate(INTEGRITY)}, value=outcome)
    seconds = func.extract("epoch", Attempt.submitted_at - Attempt.started_at)
    stmt = (
        select(
            Attempt.id,
            Attempt.number,
            Attempt.status,
            name if identities else null(),
            email if identities else null(),
            code,
            latest.c.awarded,
            latest.c.max_points,
            latest.c.percent,
            latest.c.passed,
            outcome,
            seconds,
            Attempt.started_at,
            Attempt.submitted_at,
            latest.c.grading,
            (~not_voided()).label("voided"),
        )
        .select_from(Attempt)
        .outerjoin(latest, true())
        .where(Attempt.exam_id == exam_id, Attempt.status.in_(SHOWN_STATUSES))
    )
    if identities and by_candidate:
        stmt = stmt.outerjoin(who, true())
    return Query(
        stmt,
        name,
        email,
        latest.c.awarded,
        latest.c.percent,
        latest.c.passed,
        latest.c.passed_rank,
        outcome,
        rank,
        seconds,
        latest.c.grading,
    )


def row(values: Any) -> Row:
    return Row(*values)


# --- filters: each value checked at the edge (table.read), applied in SQL -------


def percent_bound(value: str) -> Decimal:
    try:
        found = Decimal(value)
    except InvalidOperation:
        raise Invalid("write a percentage between 0 and 100, e.g. 62.5") from None
    if not found.is_finite() or not Decimal(0) <= found <= Decimal(100):
        raise Invalid("write a percentage between 0 and 100, e.g. 62.5")
    return found


def day(value: str) -> date:
    try:
        found = date.fromisoformat(value)
    except ValueError:
        raise Invalid("write a date as YYYY-MM-DD") from None
    if abs((found - date(2000, 1, 1)).days) > MAX_DAYS:
        raise Invalid("write a date as YYYY-MM-DD")
    return found


def _start_of(value: str) -> datetime:
    return datetime.combine(day(value), time(0), tzinfo=UTC)


def _passed(q: Query) -> Any:
    def apply(stmt: Any, value: str) -> Any:
        if value == "pending":
            return stmt.where(q.passed.is_(None))
        return stmt.where(q.passed.is_(value == "passed"))

    return apply


def results_table(exam_id: uuid.UUID, q: Query, *, identities: bool) -> table.Table:
    """The results list of one exam; columns sort both ways, NULLs last."""
    when = datetime.fromisoformat
    columns = [
        table.Column("candidate", N_("Candidate"), q.name),
        *([table.Column("email", N_("Email"), q.email)] if identities else []),
        table.Column("attempt", N_("Attempt"), Attempt.number, int, numeric=True),
        table.Column("status", N_("Status"), Attempt.status),
        table.Column("score", N_("Score"), q.awarded, _decimal, True, numeric=True),
        table.Column("percent", N_("Percentage"), q.percent, _decimal, True, numeric=True),
        # Sorted as 0/1: SQL orders booleans, SQLAlchemy refuses < on them.
        table.Column("passed", N_("Pass"), q.passed_rank, int, True),
        table.Column("integrity", N_("Integrity"), q.integrity_rank, int),
        table.Column("time", N_("Time taken"), q.seconds, _decimal, True, numeric=True),
        table.Column("submitted", N_("Submitted"), Attempt.submitted_at, when, True),
        table.Column("grading", N_("Grading"), q.grading, str, True),
    ]
    return table.Table(
        name="results",
        path=f"/exams/{exam_id}/results",
        caption=N_("Results"),
        columns=columns,
        id=Attempt.id,
        default_sort="-submitted",
        search=(q.name, q.email) if identities else (),
        search_label=N_("Candidate name or email"),
        filters=(
            table.Filter(
                "status",
                N_("Status"),
                list(STATUS_LABELS.items()),
                lambda stmt, v: stmt.where(Attempt.status == v),
                all_label=N_("Any status"),
            ),
            table.Filter("pass", N_("Pass"), PASS_FILTER, _passed(q), all_label=N_("Any")),
            table.Filter(
                "integrity",
                N_("Integrity"),
                list(INTEGRITY_LABELS.items()),
                lambda stmt, v: stmt.where(q.integrity == v),
                all_label=N_("Any"),
            ),
            table.Filter(
                "min",
                N_("Percentage from"),
                None,
                lambda stmt, v: stmt.where(q.percent >= percent_bound(v)),
                check=percent_bound,
                hint=N_("0-100"),
            ),
            table.Filter(
                "max",
                N_("Percentage to"),
                None,
                lambda stmt, v: stmt.where(q.percent <= percent_bound(v)),
                check=percent_bound,
                hint=N_("0-100"),
            ),
            table.Filter(
                "from",
                N_("Submitted from"),
                None,
                lambda stmt, v: stmt.where(Attempt.submitted_at >= _start_of(v)),
                check=day,
                hint=N_("YYYY-MM-DD"),
            ),
            table.Filter(
                "to",
                N_("Submitted until"),
                None,
                lambda stmt, v: stmt.where(Attempt.submitted_at < _start_of(v) + timedelta(days=1)),
                check=day,
                hint=N_("YYYY-MM-DD"),
            ),
        ),
        empty=N_("No candidate has started this exam yet."),
        empty_filtered=N_("No attempt matches this search or these filters."),
        export=False,  # exports are this module's own (CSV and XLSX, streamed)
    )


@dataclass(frozen=True)
class Results:
    """One exam's results view: what was asked (validated), the statement."""

    view: table.View
    stmt: Select[*tuple[Any, ...]]
    identities: bool


def results_view(
    exam_id: uuid.UUID, params: Any, *, identities: bool, size: int | None = None
) -> Results:
    """The view ``params`` asks for (:class:`table.BadParameter` naming the
    parameter when one is out of bounds); ``size`` overrides the page size
    (the API's ``limit``)."""
    sort = str(params.get("sort", "")).removeprefix("-")
    by_candidate = sort in ("candidate", "email") or bool(str(params.get("q", "")).strip())
    q = query(exam_id, identities=identities, by_candidate=by_candidate)
    spec = results_table(exam_id, q, identities=identities)
    view = table.read(spec, params)
    if size is not None:
        view = replace(view, size=size)
    return Results(view, q.stmt, identities)


def page(uow: UnitOfWork, found: Results) -> table.Paged:
    """One page of the view, its rows as :class:`Row`."""
    paged = table.page(uow, found.view, found.stmt)
    return replace(paged, rows=[row(values) for values in paged.rows])


def ordered(found: Results) -> Select[*tuple[Any, ...]]:
    """Every row of the view in its order, for an export."""
    return table.ordered(found.view, found.stmt)
