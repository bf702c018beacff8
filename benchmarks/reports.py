"""Printed reports over a large cohort: one exam version with 10,000
submitted attempts.

One attempt is sat through the services (the demo bank's 32 questions,
submitted, scored, audited); the rest of the cohort are copies of its rows
made by the database (candidate, invitation, attempt, result, and the
result's cells by the statement the write path uses), each with
its own score, pass or fail, duration and time on every question, so the
aggregates have real work to do. The figures are the server-side cost of
what the routes do: building the exam's cohort figures
(:mod:`invigil.results.exam_report`, aggregated in SQL), building one
attempt's result with the cohort's medians
(:mod:`invigil.results.attempt_result`), and rendering each PDF.

Run alone: ``python -m benchmarks.reports`` (fresh database).
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import text

from benchmarks import standalone
from benchmarks.analytics import analyze
from invigil.content import exams, questions
from invigil.content.demo import seed_content
from invigil.content.schemas import ExamIn
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.db.urls import DatabaseUrls
from invigil.delivery import attempts, invitations, results
from invigil.delivery.invitations import InviteRequest, Kit
from invigil.delivery.landing import consent_text
from invigil.delivery.models import Attempt
from invigil.results import attempt_result, exam_report, reports
from invigil.settings import Settings

COHORT = 10_000
RUNS = 5
LABELS = {
    "reports_cohort_setup_s": ("Making the cohort (copies made by the database)", "s"),
    "reports_exam_figures_ms": ("Exam report: the cohort's figures (SQL aggregates)", "ms"),
    "reports_exam_pdf_ms": ("Exam report: figures and PDF (WeasyPrint, SVG charts)", "ms"),
    "reports_attempt_build_ms": (
        "Attempt's result: everything the page shows, cohort medians included",
        "ms",
    ),
    "reports_attempt_pdf_ms": ("Attempt's report: the result and its PDF", "ms"),
    "reports_load_1min": ("Machine load average (1 min) when the runs ended", ""),
}

# What a copy changes in the source rows (the other columns are copied).
COPIES = {
    "candidates": {
        "id": "b.cand",
        "name": "'Bench candidate ' || b.g",
        "email": "'b' || b.g || '@bench.test'",
    },
    "invitations": {"id": "b.inv", "candidate_id": "b.cand"},
    "attempts": {
        "id": "b.att",
        "invitation_id": "b.inv",
        "candidate_id": "b.cand",
        "submitted_at": "s.submitted_at + b.g * interval '1 second'",
    },
    "attempt_results": {
        "id": "b.res",
        "attempt_id": "b.att",
        "percent": "b.pct",
        "passed": "b.pct >= 50",
        "document": """s.document || jsonb_build_object(
            'attempt_id', b.att::text, 'percent', b.pct::text, 'passed', b.pct >= 50,
            'duration_ms', 600000 + (b.g * 7919) % 3000000,
            'questions', (SELECT jsonb_agg(q || jsonb_build_object(
                              'time_ms', 1000 + ((b.g * 31 + o * 997) % 120000)) ORDER BY o)
                          FROM jsonb_array_elements(s.document->'questions')
                               WITH ORDINALITY AS e(q, o)))""",
    },
}
SOURCE = {"candidates": "candidate_id", "invitations": "invitation_id", "attempts": "id"}


def _columns(uow: UnitOfWork, table: str) -> list[str]:
    rows = uow.session.execute(
        text(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = :t AND table_schema = current_schema() ORDER BY ordinal_position"
        ),
        {"t": table},
    )
    return [str(r[0]) for r in rows]


def _copy(uow: UnitOfWork, table: str, where: str, params: dict[str, object]) -> None:
    cols = _columns(uow, table)
    exprs = [COPIES[table].get(c, f"s.{c}") for c in cols]
    uow.session.execute(
        text(
            f"INSERT INTO {table} ({', '.join(cols)}) "  # names from the catalog
            f"SELECT {', '.join(exprs)} FROM {table} s, bench_cohort b WHERE {where}"
        ),
        params,
    )


def sit_one(db: Database, settings: Settings, tenant_id: uuid.UUID) -> uuid.UUID:
    """An exam of the demo bank's 32 questions (every type) and one begun attempt."""
    kit = Kit.from_settings(settings)
    bank = seed_content(db, tenant_id).bank_id
    with db.unit_of_work(tenant_id, Actor.operator("bench")) as uow:
        rows, _ = questions.search(uow, questions.Search(bank_id=bank), limit=500)
        spec = {
            "slug": "bench-reports",
            "title": "Benchmark: a large cohort",
            "settings": {"pass_mark_percent": 50, "proctoring_preset": "practice"},
            "sections": [{"kind": "fixed", "question_ids": [str(r.question.id) for r in rows]}],
        }
        exams.publish_exam(uow, exams.create_exam(uow, ExamIn.model_validate(spec)).id)
        req = InviteRequest("Candidate 0", "c0@bench.test", "bench-reports", send_mail=False)
        inv = invitations.invite(uow, kit, req).invitation
        version = attempts.version_of(uow, inv.exam_id, inv.exam_version)
        consent = consent_text(version)
        started = attempts.start(
            uow,
            kit.key,
            inv,
            version,
            consent_text=consent,
            consent_language="en",
            shown_sha256=attempts.text_sha256(consent),
            shown_language="en",
            browser=attempts.Browser(address="127.0.0.1", user_agent="invigil-bench"),
        )
        started.attempt.face_seen_at = datetime.now(UTC)
        attempts.begin(uow, started.attempt, version, inv)
        return started.attempt.id


def cohort(db: Database, settings: Settings, tenant_id: uuid.UUID) -> Attempt:
    """The sat attempt; its exam version ends up with ``COHORT`` submitted attempts."""
    attempt_id = sit_one(db, settings, tenant_id)
    with db.unit_of_work(tenant_id, Actor.operator("bench")) as uow:
        attempt = uow.get(Attempt, attempt_id)
        attempts.submit(uow, attempt, "candidate", now=datetime.now(UTC))
        uow.session.execute(
            text(
                "CREATE TEMP TABLE bench_cohort ON COMMIT DROP AS "
                "SELECT g, gen_random_uuid() AS cand, gen_random_uuid() AS inv, "
                "gen_random_uuid() AS att, gen_random_uuid() AS res, "
                "(g * 37 % 101)::numeric(5, 2) AS pct FROM generate_series(1, :n) AS g"
            ),
            {"n": COHORT - 1},
        )
        ids = {"a": attempt.id, "c": attempt.candidate_id, "i": attempt.invitation_id}
        _copy(uow, "candidates", "s.id = :c", ids)
        _copy(uow, "invitations", "s.id = :i", ids)
        _copy(uow, "attempts", "s.id = :a", ids)
        _copy(uow, "attempt_results", "s.attempt_id = :a", ids)
        # The copies' cells, by the write path's own statement.
        # (a bulk load: longer than a request may take)
        uow.session.execute(text("SELECT set_config('statement_timeout', '0', true)"))
        results.refill_cells(uow)
        uow.session.expunge(attempt)
        return attempt


def _median_ms(db: Database, tenant_id: uuid.UUID, work: Callable[[UnitOfWork], object]) -> float:
    times = []
    for _ in range(RUNS):
        with db.unit_of_work(tenant_id) as uow:
            started = time.perf_counter()
            work(uow)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def figures(
    db: Database, urls: DatabaseUrls, settings: Settings, tenant_id: uuid.UUID
) -> dict[str, float]:
    started = time.perf_counter()
    sat = cohort(db, settings, tenant_id)
    analyze(urls)  # fresh statistics as autovacuum would gather (the owner's job)
    made = time.perf_counter() - started
    now = datetime.now(UTC)

    def figures_only(uow: UnitOfWork) -> object:
        found = exam_report.build(uow, sat.exam_id)
        assert found.scored == COHORT, found.scored
        return found

    def attempt_only(uow: UnitOfWork) -> object:
        view = attempt_result.build(uow, sat.id, with_identity=True)
        assert view.cohort == COHORT, view.cohort
        return view

    return {
        "reports_cohort_setup_s": made,
        "reports_exam_figures_ms": _median_ms(db, tenant_id, figures_only),
        "reports_exam_pdf_ms": _median_ms(
            db, tenant_id, lambda uow: reports.exam_pdf(uow, figures_only(uow), "en", now=now)
        ),
        "reports_attempt_build_ms": _median_ms(db, tenant_id, attempt_only),
        "reports_attempt_pdf_ms": _median_ms(
            db,
            tenant_id,
            lambda uow: reports.attempt_pdf(uow, attempt_only(uow), "en", now=now),  # type: ignore[arg-type]
        ),
        "reports_load_1min": os.getloadavg()[0],
    }


def section(figures: dict[str, float]) -> list[str]:
    """The "Printed reports" part of docs/performance.md."""
    if "reports_exam_figures_ms" not in figures:
        return []
    lines = [
        "",
        "## Printed reports",
        "",
        f"One exam version with {COHORT:,} submitted attempts of 32 questions "
        "(benchmarks/reports.py); median of",
        f"{RUNS} runs, each in its own transaction, in the benchmark's process (no HTTP).",
        "",
        "| scenario | figure |",
        "|---|---:|",
    ]
    for key, (label, unit) in LABELS.items():
        if key not in figures:
            continue
        value = figures[key]
        shown = f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"
        lines.append(f"| {label} | {shown} {unit} |")
    return lines


def main() -> None:
    standalone.run("bench", "Bench", figures, section)


if __name__ == "__main__":
    main()
