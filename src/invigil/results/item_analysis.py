"""Classical item analysis of one exam, computed in PostgreSQL.

The cohort is the latest result revision of every submitted attempt of the
exam whose result needs no more grading (an essay waiting for a grader
leaves its attempt out until it is marked, so no total is a partial one).
Each question of the latest revision is one row of ``result_cells``, written
with the revision (docs/adr/0036-result-cells.md); one statement aggregates
the cells per question, so 10,000 attempts of 50 questions are 500,000
narrow rows for the database, no document expanded, and none for Python.

Per question (docs/adr/0033-item-analysis.md, docs/analytics.md):

- ``n``: the graded attempts whose paper held the question (pool sections
  give each question its own ``n``).
- ``facility``: the mean score ratio ``awarded / max`` (for a right-or-wrong
  question, the proportion who got it right).
- ``discrimination``: the point-biserial correlation between the item's
  score ratio and the rest-score (the attempt's percentage without this
  item: ``(total - awarded) / (max total - max)``), so the item is not
  correlated with itself. NULL when either side does not vary.
- ``upper_lower``: the mean item score ratio in the upper 27 % of the whole
  cohort by total percentage minus that in the lower 27 % (ties broken by
  attempt id), among those groups' members who saw the item.
- mean and median time on the question, and for single and multiple
  choice the number of candidates choosing each option (canonical order).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import text

from invigil.db.uow import UnitOfWork
from invigil.delivery.voids import NOT_VOIDED

MIN_N = 20  # fewer responses than this: "not enough responses", never flagged
FACILITY_HIGH = 0.95
FACILITY_LOW = 0.20
GROUP = 0.27  # Kelley's upper and lower groups

# The latest revision of each submitted attempt's result: the cohort. Shared
# with the exam's summary (invigil.results.analytics). No document here: the
# questions are read from the revision's cells (``result_cells``).
LATEST = f"""
    SELECT DISTINCT ON (r.attempt_id)
           r.attempt_id, r.id, r.created_at, r.percent, r.passed, r.needs_grading,
           r.awarded, r.max_points
      FROM attempts a
      JOIN attempt_results r ON r.tenant_id = a.tenant_id AND r.attempt_id = a.id
     WHERE a.exam_id = :exam AND a.status = 'submitted' AND {NOT_VOIDED}
     ORDER BY r.attempt_id, r.revision DESC
"""

# One pass over the graded attempts' cells (``result_cells``: each question of
# the latest revision, one narrow row; no document is read), then three
# aggregations of the cells: per question, per option chosen, per category.
# Each answer row is (kind, key, figures as JSON). Totals come from the result
# row's columns.
_CELLS = text(f"""
WITH latest AS ({LATEST}),
ranked AS (
    SELECT id, attempt_id, awarded, max_points, count(*) OVER () AS cohort,
           row_number() OVER (ORDER BY percent DESC, attempt_id) AS rank_desc
      FROM latest WHERE NOT needs_grading
),
cells AS MATERIALIZED (
    SELECT g.attempt_id, q.question_id, q.category, q.time_ms, q.awarded, q.max,
           CASE WHEN q.max > 0 THEN q.awarded / q.max END AS ratio,
           CASE WHEN g.max_points::float8 - q.max > 0
                THEN (g.awarded::float8 - q.awarded) / (g.max_points::float8 - q.max) END
               AS rest,
           g.rank_desc <= round(g.cohort * {GROUP}) AS upper,
           g.cohort - g.rank_desc < round(g.cohort * {GROUP}) AS lower,
           q.choice_version, q.chosen
      FROM ranked g
      JOIN (
        SELECT c.result_id, c.question_id, c.category, c.time_ms,
               c.awarded::float8 AS awarded, c.max::float8 AS max,
               -- choice questions only: the version (choices differ between
               -- versions) and the options chosen; NULL for every other type
               CASE WHEN c.type IN ('single_choice', 'multiple_choice')
                    THEN c.version_id END AS choice_version,
               CASE WHEN c.type IN ('single_choice', 'multiple_choice')
                    THEN c.canonical_response END AS chosen
          FROM result_cells c
         WHERE c.exam_id = :exam
      ) AS q ON q.result_id = g.id
),
items AS (
    SELECT question_id,
           min(category) AS category,
           count(*) AS n,
           avg(ratio) AS facility,
           corr(ratio, rest) AS discrimination,
           avg(ratio) FILTER (WHERE upper) - avg(ratio) FILTER (WHERE lower) AS upper_lower,
           count(*) FILTER (WHERE upper) AS upper_n,
           count(*) FILTER (WHERE lower) AS lower_n,
           avg(time_ms)::float8 AS mean_time_ms,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY time_ms) AS median_time_ms
      FROM cells
     GROUP BY question_id
),
options AS (
    -- one row per distinct answer given (an option, a set of options, or
    -- none): few rows, expanded into option counts by the caller
    SELECT question_id, choice_version AS version_id, chosen, count(*) AS n
      FROM cells WHERE choice_version IS NOT NULL
     GROUP BY 1, 2, 3
),
per_category AS (
    SELECT category, attempt_id, sum(awarded) AS awarded, sum(max) AS max, count(*) AS questions
      FROM cells GROUP BY category, attempt_id
),
categories AS (
    SELECT category, count(*) AS attempts, max(questions) AS questions,
           avg(CASE WHEN max > 0 THEN awarded * 100 / max END) AS mean_percent
      FROM per_category GROUP BY category
)
SELECT 'item' AS kind, question_id::text AS key, to_jsonb(items) AS figures FROM items
UNION ALL
SELECT 'option', question_id::text, to_jsonb(options) FROM options
UNION ALL
SELECT 'category', category, to_jsonb(categories) FROM categories
""")

_TYPES = text("""
SELECT id::text, type FROM questions WHERE id = ANY(CAST(:ids AS uuid[]))
""")

_VERSIONS = text("""
SELECT qv.id::text AS version_id, qv.version, qv.body
  FROM question_versions qv
 WHERE qv.id = ANY(CAST(:ids AS uuid[]))
""")


@dataclass
class Option:
    index: int
    text: str
    keyed: bool
    chosen: int


@dataclass
class Distractors:
    version_id: str
    version: int | None
    seen: int  # graded attempts that had this version (the denominator)
    options: list[Option] = field(default_factory=list)


@dataclass
class Item:
    question_id: str
    type: str
    category: str
    n: int
    facility: float | None
    discrimination: float | None
    upper_lower: float | None
    upper_n: int
    lower_n: int
    mean_time_ms: float | None
    median_time_ms: float | None
    flags: list[str] = field(default_factory=list)
    enough: bool = True
    distractors: list[Distractors] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def flags_of(n: int, facility: float | None, discrimination: float | None) -> list[str]:
    """``negative`` and ``extreme``; none below :data:`MIN_N` responses."""
    if n < MIN_N:
        return []
    found = []
    if discrimination is not None and discrimination < 0:
        found.append("negative")
    if facility is not None and (facility > FACILITY_HIGH or facility < FACILITY_LOW):
        found.append("extreme")
    return found


@dataclass
class Cohort:
    """What one pass over the graded documents gives: the items, and the
    mean percentage per category (with the attempts that had it)."""

    items: list[Item]
    categories: list[dict[str, Any]]


def analyse(uow: UnitOfWork, exam_id: uuid.UUID) -> Cohort:
    """Every question's figures (by question id: the pages sort as asked)
    and the categories' means, in one statement."""
    # The cells of a large cohort are sorted per question; in memory, not on
    # disk (this transaction only).
    uow.session.execute(text("SELECT set_config('work_mem', '128MB', true)"))
    items: dict[str, Item] = {}
    options: dict[tuple[str, str], dict[int, int]] = {}
    categories = []
    for kind, key, f in uow.session.execute(_CELLS, {"exam": exam_id}):
        if kind == "item":
            n = int(f["n"])
            items[key] = Item(
                question_id=key,
                type="",
                category=f["category"] or "",
                n=n,
                facility=_f(f["facility"]),
                discrimination=_f(f["discrimination"]),
                upper_lower=_f(f["upper_lower"]),
                upper_n=int(f["upper_n"]),
                lower_n=int(f["lower_n"]),
                mean_time_ms=_f(f["mean_time_ms"]),
                median_time_ms=_f(f["median_time_ms"]),
                flags=flags_of(n, _f(f["facility"]), _f(f["discrimination"])),
                enough=n >= MIN_N,
            )
        elif kind == "option":
            counted = options.setdefault((key, f["version_id"]), {})
            n = int(f["n"])
            counted[-1] = counted.get(-1, 0) + n  # saw the question
            for option in _options(f["chosen"]):
                counted[option] = counted.get(option, 0) + n
        else:
            categories.append(
                {
                    "category": key,
                    "attempts": int(f["attempts"]),
                    "questions": int(f["questions"]),
                    "mean_percent": _f(f["mean_percent"]),
                }
            )
    if items:
        types = {k: t for k, t in uow.session.execute(_TYPES, {"ids": sorted(items)})}
        for key, item in items.items():
            item.type = types.get(key, "")
    _add_distractors(uow, items, options)
    return Cohort(
        items=[items[k] for k in sorted(items)],
        categories=sorted(categories, key=lambda c: str(c["category"])),
    )


def _add_distractors(
    uow: UnitOfWork, items: dict[str, Item], counts: dict[tuple[str, str], dict[int, int]]
) -> None:
    if not counts:
        return
    versions = {
        row.version_id: row
        for row in uow.session.execute(_VERSIONS, {"ids": sorted({v for _, v in counts})})
    }
    for (question_id, version_id), chosen in sorted(counts.items()):
        item = items.get(question_id)
        if item is None:
            continue
        row = versions.get(version_id)
        body = row.body if row is not None else {}
        choices = list(body.get("choices") or [])
        correct = body.get("correct")
        keyed = set(correct) if isinstance(correct, list) else {correct}
        top = max([len(choices) - 1, *chosen])
        item.distractors.append(
            Distractors(
                version_id=version_id,
                version=row.version if row is not None else None,
                seen=chosen.get(-1, 0),
                options=[
                    Option(
                        index=i,
                        text=str(choices[i]) if i < len(choices) else f"#{i + 1}",
                        keyed=i in keyed,
                        chosen=chosen.get(i, 0),
                    )
                    for i in range(top + 1)
                ],
            )
        )


def _options(chosen: Any) -> list[int]:
    """The options in one canonical response: an index, a list, or none."""
    if isinstance(chosen, bool):
        return []
    if isinstance(chosen, int):
        return [chosen]
    if isinstance(chosen, list):
        return sorted({c for c in chosen if isinstance(c, int) and not isinstance(c, bool)})
    return []


def _f(value: Any) -> float | None:
    return None if value is None else float(value)
