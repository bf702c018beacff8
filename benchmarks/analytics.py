"""Item analysis over 10,000 attempts of 50 questions (target: < 2 s cold).

One published exam of 50 single-choice questions in five categories; 10,000
candidates, invitations, submitted attempts and results, made by
``generate_series`` in a handful of statements (and the results' cells by
the statement the write path uses) (each candidate has an
ability, each question a difficulty, and the chance of a right answer
follows a logistic curve, so the figures are those of a plausible cohort).
Then :func:`invigil.results.analytics.exam_analytics` once with no cache
(cold: the statement over 500,000 cells, then the cache row written) and
once more with the cache in place (a result count and the newest result's
time compared, the stored figures read).

Run alone: ``python -m benchmarks.analytics`` (fresh database).
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from sqlalchemy import text

from invigil.content import banks, exams, questions
from invigil.content.schemas import ExamIn, QuestionIn
from invigil.db.engine import Database
from invigil.db.urls import DatabaseUrls
from invigil.delivery import results
from invigil.settings import Settings

ATTEMPTS = 10_000
QUESTIONS = 50
CATEGORIES = ("Algebra", "Geometry", "Logic", "Reading", "Statistics")

LABELS = {
    "analytics_seed_s": (
        f"Seeding {ATTEMPTS:,} submitted attempts x {QUESTIONS} questions (generate_series)",
        "s",
    ),
    "analytics_cold_ms": (
        f"Exam analytics and item analysis, {ATTEMPTS:,} attempts x {QUESTIONS} questions, "
        "no cache (target < 2,000)",
        "ms",
    ),
    "analytics_cold_db_cpu_ms": (
        "The same cold run: CPU time of its database backend (0: an outside server)",
        "ms",
    ),
    "analytics_cached_ms": ("The same, cached (no result recorded since)", "ms"),
    "analytics_load_1min": ("Machine load average (1 min) when the cold run ended", ""),
}


def make_exam(db: Database, tenant_id: uuid.UUID) -> uuid.UUID:
    with db.unit_of_work(tenant_id) as uow:
        bank = banks.create_bank(uow, name="Analytics bench").id
        ids = []
        for i in range(QUESTIONS):
            made = questions.create_question(
                uow,
                bank,
                QuestionIn.model_validate(
                    {
                        "category": CATEGORIES[i % len(CATEGORIES)],
                        "points": 1,
                        "body": {
                            "type": "single_choice",
                            "prompt": f"Question {i + 1}",
                            "choices": ["A", "B", "C", "D"],
                            "correct": i % 4,
                        },
                    }
                ),
            )
            ids.append(str(made.question.id))
        exam = exams.create_exam(
            uow,
            ExamIn.model_validate(
                {
                    "slug": "analytics-bench",
                    "title": "Analytics bench",
                    "sections": [{"kind": "fixed", "question_ids": ids}],
                    "settings": {"pass_mark_percent": 60},
                }
            ),
        )
        exams.publish_exam(uow, exam.id)
        return exam.id


SEED = """
WITH slots AS (
    SELECT (s.slot->>'question_id') AS question_id, (s.slot->>'version_id') AS version_id,
           s.n - 1 AS index, qv.category, (qv.body->>'correct')::int AS correct,
           ((s.n * 37) % 100) / 25.0 - 2 AS difficulty
      FROM (SELECT slot, n FROM jsonb_array_elements(CAST(:paper AS jsonb))
                                WITH ORDINALITY AS t(slot, n)) s
      JOIN question_versions qv ON qv.id = (s.slot->>'version_id')::uuid
),
people AS (
    SELECT i, gen_random_uuid() AS candidate, gen_random_uuid() AS invitation,
           gen_random_uuid() AS attempt, (random() * 6 - 3) AS ability,
           now() - interval '2 days' + i * interval '1 second' AS started
      FROM generate_series(1, :attempts) AS i
),
answers AS (
    SELECT p.i, s.index, s.question_id, s.version_id, s.category, s.correct,
           CASE WHEN random() < 1 / (1 + exp(s.difficulty - p.ability)) THEN s.correct
                ELSE (s.correct + 1 + floor(random() * 3)::int) % 4 END AS chosen,
           (5000 + floor(random() * 60000))::bigint AS time_ms
      FROM people p CROSS JOIN slots s
),
docs AS (
    SELECT a.i,
           jsonb_agg(jsonb_build_object(
               'index', a.index, 'question_id', a.question_id, 'version_id', a.version_id,
               'type', 'single_choice', 'category', a.category, 'answered', true,
               'response', a.chosen, 'canonical_response', a.chosen,
               'awarded', CASE WHEN a.chosen = a.correct THEN '1.00' ELSE '0.00' END,
               'max', '1.00', 'question_points', '1.00', 'needs_grading', false,
               'time_ms', a.time_ms, 'flagged', false, 'late', false, 'seq', a.index + 1)
               ORDER BY a.index) AS questions,
           count(*) FILTER (WHERE a.chosen = a.correct) AS right_answers,
           sum(a.time_ms) AS spent
      FROM answers a GROUP BY a.i
)
SELECT p.*, d.questions, d.right_answers, d.spent FROM people p JOIN docs d ON d.i = p.i
"""


def seed(db: Database, tenant_id: uuid.UUID, exam_id: uuid.UUID, attempts: int) -> None:
    """``attempts`` candidates, each invited, started, submitted and scored."""
    with db.unit_of_work(tenant_id) as uow:
        version = uow.session.execute(
            text("SELECT published_version FROM exams WHERE id = :e"), {"e": exam_id}
        ).scalar_one()
        paper = uow.session.execute(
            text("""SELECT jsonb_agg(jsonb_build_object('section', 0,
                        'question_id', q->>'question_id', 'version_id', q->>'version_id',
                        'type', 'single_choice', 'option_order', '[0,1,2,3]'::jsonb))
                      FROM exam_versions ev,
                           jsonb_array_elements(ev.sections->0->'questions') q
                     WHERE ev.exam_id = :e AND ev.version = :v"""),
            {"e": exam_id, "v": version},
        ).scalar_one()
        s = uow.session
        s.execute(
            text(f"CREATE TEMP TABLE seeded ON COMMIT DROP AS {SEED}"), _params(paper, attempts)
        )
        s.execute(
            text("""
            INSERT INTO candidates (tenant_id, id, name, email)
            SELECT :t, candidate, 'Candidate ' || i, 'c' || i || '@bench.test' FROM seeded"""),
            {"t": tenant_id},
        )
        s.execute(
            text("""
            INSERT INTO invitations (tenant_id, id, candidate_id, exam_id, exam_version,
                                     opens_at, closes_at, created_by)
            SELECT :t, invitation, candidate, :e, :v, started - interval '1 day',
                   started + interval '30 days', 'bench' FROM seeded"""),
            {"t": tenant_id, "e": exam_id, "v": version},
        )
        s.execute(
            text("""
            INSERT INTO attempts (tenant_id, id, invitation_id, candidate_id, exam_id,
                                  exam_version, number, seed, paper, status, grace_seconds,
                                  started_at, submitted_at, submit_reason)
            SELECT :t, attempt, invitation, candidate, :e, :v, 1, i, CAST(:paper AS jsonb),
                   'submitted', 30, started, started + spent * interval '1 millisecond',
                   'candidate' FROM seeded"""),
            {"t": tenant_id, "e": exam_id, "v": version, "paper": _json(paper)},
        )
        s.execute(
            text("""
            INSERT INTO attempt_results (tenant_id, id, attempt_id, revision, awarded,
                                         max_points, percent, passed, needs_grading,
                                         document, document_sha256)
            SELECT :t, gen_random_uuid(), attempt, 1, right_answers, :q,
                   round(right_answers * 100.0 / :q, 2), right_answers * 100.0 / :q >= 60,
                   false, doc, encode(sha256(convert_to(doc::text, 'UTF8')), 'hex')
              FROM (SELECT *, jsonb_build_object(
                        'revision', 1, 'scored_by', 'automatic',
                        'attempt_id', attempt, 'exam_id', CAST(:e AS text),
                        'awarded', to_char(right_answers, 'FM9990.00'),
                        'max', to_char(:q, 'FM9990.00'),
                        'percent', to_char(round(right_answers * 100.0 / :q, 2), 'FM990.00'),
                        'pass_mark_percent', '60', 'passed', right_answers * 100.0 / :q >= 60,
                        'needs_grading', false, 'pending_questions', 0,
                        'duration_ms', spent, 'time_on_questions_ms', spent,
                        'categories', '{}'::jsonb, 'questions', questions) AS doc
                      FROM seeded) d"""),
            {"t": tenant_id, "e": exam_id, "q": QUESTIONS},
        )
        # Each latest result's cells, by the write path's own statement.
        # (a bulk load: longer than a request may take)
        uow.session.execute(text("SELECT set_config('statement_timeout', '0', true)"))
        results.refill_cells(uow)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a local database backend (0 if not local):
    unlike wall time, it does not grow when other work shares the cores."""
    from benchmarks.delivery import _cpu_s as cpu_of

    return cpu_of([pid])


def analyze(urls: DatabaseUrls) -> None:
    """Fresh statistics, as autovacuum would gather after a bulk load (the
    owner's job: the app role owns no table)."""
    import psycopg

    from invigil.db.urls import libpq

    with psycopg.connect(libpq(urls.owner), autocommit=True) as conn:
        conn.execute("ANALYZE attempts")
        conn.execute("ANALYZE attempt_results")
        conn.execute("ANALYZE result_cells")
        conn.execute("ANALYZE invitations")
        conn.execute("ANALYZE consents")


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def _params(paper: Any, attempts: int) -> dict[str, Any]:
    return {"paper": _json(paper), "attempts": attempts}


def figures(
    db: Database, urls: DatabaseUrls, settings: Settings, tenant_id: uuid.UUID
) -> dict[str, float]:
    from invigil.results import analytics

    exam_id = make_exam(db, tenant_id)
    began = time.perf_counter()
    seed(db, tenant_id, exam_id, ATTEMPTS)
    analyze(urls)
    seeded = time.perf_counter() - began
    with db.unit_of_work(tenant_id) as uow:
        backend = uow.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        cpu, began = _cpu_s(backend), time.perf_counter()
        cold = analytics.exam_analytics(uow, exam_id)
        cold_ms = (time.perf_counter() - began) * 1000
        cold_cpu_ms = (_cpu_s(backend) - cpu) * 1000
    load = os.getloadavg()[0]
    assert cold.summary["graded"] == ATTEMPTS and len(cold.items) == QUESTIONS
    with db.unit_of_work(tenant_id) as uow:
        began = time.perf_counter()
        warm = analytics.exam_analytics(uow, exam_id)
        cached_ms = (time.perf_counter() - began) * 1000
    assert warm.cached
    return {
        "analytics_seed_s": seeded,
        "analytics_cold_ms": cold_ms,
        "analytics_cold_db_cpu_ms": cold_cpu_ms,
        "analytics_cached_ms": cached_ms,
        "analytics_load_1min": load,
    }


def section(figures: dict[str, float]) -> list[str]:
    cold = figures.get("analytics_cold_ms")
    if cold is None:
        return []
    lines = [
        "",
        "## Analytics",
        "",
        f"One exam, {ATTEMPTS:,} submitted and scored attempts of {QUESTIONS} single-choice",
        "questions (documents built by `generate_series`, their cells by the write path's",
        "statement, benchmarks/analytics.py). Cold: the",
        "summary, histogram, funnel, categories and item analysis (facility, point-biserial,",
        "upper-lower 27 %, times, distractors) with no cache, then the cache row written.",
        "Cached: no result recorded since, the stored figures are read. Wall time grows",
        "with whatever else shares the cores (the load average is in the table); the",
        "database backend's CPU time is what the computation itself costs.",
        "",
        "| scenario | figure | target |",
        "|---|---:|---:|",
    ]
    for key, target in (
        ("analytics_seed_s", ""),
        ("analytics_cold_ms", "< 2,000 ms"),
        ("analytics_cold_db_cpu_ms", ""),
        ("analytics_cached_ms", ""),
        ("analytics_load_1min", ""),
    ):
        label, unit = LABELS[key]
        lines.append(f"| {label} | {figures[key]:,.1f} {unit} | {target} |".replace("  |", " |"))
    return lines


def main() -> None:
    from benchmarks import standalone

    standalone.run("bench-analytics", "Bench analytics", figures, section)


if __name__ == "__main__":
    main()
