"""Recompute an attempt's result from its frozen exam, its answers and its marks, offline.

An auditor holds three JSON documents of one attempt (their shapes are in
docs/formats/result-recomputation.md; Invigil writes them in
``invigil.results.sheet``): the exam version as frozen at publish with the
question versions on the paper, the answer sheet, and the grading marks.
:func:`recompute` derives from them alone, with the standard library, every
field of the result document that follows from them: points per question,
per category and in total, percentages, pass or fail, what still waits for a
grader and which marks the result rests on. :func:`compare` names the first
field a recorded result document says otherwise; :func:`check_revisions`
does it for every revision of a result. Agreement means two independent
readings of the rules give the same figures; the equivalence tests keep
the two in step.

Amounts are ``decimal.Decimal`` in cents throughout, never floats; the
rounding of each step is the one the format document names.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any

# Relative: the package also runs copied out of Invigil, under any name.
from .marking import final_marks
from .question_rules import CENT, canonical, fits, score, with_language_answers


def recompute(
    exam_version: dict[str, Any], answer_sheet: dict[str, Any], marks: list[dict[str, Any]]
) -> dict[str, Any]:
    """The score fields of the attempt's latest result document.

    ``marks``: the attempt's grading marks. While any answer that needs a
    person lacks a final mark, the result is the automatic one (nothing
    folded in); once every one has, their final marks are folded in. To
    check an earlier revision, pass only the marks it rests on
    (:func:`marks_of_revision`)."""
    with localcontext(Context(prec=28)):
        return _recompute(exam_version, answer_sheet, marks)


def _recompute(
    exam: dict[str, Any], sheet: dict[str, Any], marks: list[dict[str, Any]]
) -> dict[str, Any]:
    frozen = exam["frozen"]
    settings, sections = frozen["settings"], frozen["sections"]
    versions = exam["question_versions"]
    paper, language = sheet["paper"], sheet.get("language")
    given = {int(a["slot"]): a for a in sheet["answers"]}
    entries = _entries(sections)
    worth = _slot_points(sections, paper, versions)
    questions: list[dict[str, Any]] = []
    bodies: dict[int, dict[str, Any]] = {}
    for index, slot in enumerate(paper):
        qv = versions[slot["version_id"]]
        answer = given.get(index)
        response = answer["response"] if answer else None
        stored = canonical(slot, response) if fits(slot, response) else None
        words = _words(entries.get(slot["version_id"]), language)
        bodies[index] = with_language_answers(qv["body"], words)
        awarded, waits = score(bodies[index], worth[index], stored)
        questions.append(
            {
                "index": index,
                "question_id": slot["question_id"],
                "version_id": slot["version_id"],
                "type": slot["type"],
                "category": qv["category"],
                "language": language if words is not None else qv["language"],
                "answered": answer is not None and response is not None,
                "response": response,
                "canonical_response": stored,
                "awarded": None if waits else str(awarded),
                "max": str(worth[index]),
                "question_points": str(Decimal(str(qv["points"])).quantize(CENT)),
                "needs_grading": waits,
                "time_ms": answer["time_ms"] if answer else 0,
                "flagged": bool(answer["flagged"]) if answer else False,
                "late": bool(answer["late"]) if answer else False,
                "seq": answer["seq"] if answer else None,
            }
        )
    waiting = {q["index"]: Decimal(q["max"]) for q in questions if q["needs_grading"]}
    finals = final_marks(settings, waiting, bodies, marks)
    if finals is not None:
        for slot, (points, _) in finals.items():
            q = questions[slot]
            q["awarded"] = str(min(points, Decimal(q["max"])).quantize(CENT))
            q["needs_grading"] = False
    out = {
        "attempt_id": sheet["attempt_id"],
        "exam_id": exam["exam_id"],
        "exam_version": exam["version"],
        "content_hash": exam["content_hash"],
        "language": language,
        **_totals(settings, questions),
        "scored_by": "automatic" if finals is None else "human",
    }
    if finals is not None:
        out["mark_ids"] = sorted(i for _, ids in finals.values() for i in ids)
    return out


def _entries(sections: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The frozen exam's question entries (fixed and pool) by version id."""
    out: dict[str, dict[str, Any]] = {}
    for s in sections:
        for e in s.get("questions") or s.get("pool") or []:
            out[str(e["version_id"])] = e
    return out


def _words(entry: dict[str, Any] | None, language: str | None) -> dict[str, Any] | None:
    if entry is None or language is None:
        return None
    found = (entry.get("translations") or {}).get(language)
    return found if isinstance(found, dict) else None


def _slot_points(
    sections: list[dict[str, Any]], paper: list[dict[str, Any]], versions: dict[str, Any]
) -> list[Decimal]:
    """Each slot's worth: its question's points, or in a section scaled to N
    points, N split in cents over the section's slots in paper order (the
    left-over cents one each to the first)."""
    out = [Decimal(str(versions[s["version_id"]]["points"])).quantize(CENT) for s in paper]
    for index, section in enumerate(sections):
        scale = section.get("scale_to_points")
        if section.get("kind") != "pool" or scale is None:
            continue
        mine = [k for k, s in enumerate(paper) if int(s["section"]) == index]
        if not mine:
            continue
        cents = int((Decimal(str(scale)) / CENT).to_integral_value())
        base, left_over = divmod(cents, len(mine))
        for n, k in enumerate(mine):
            out[k] = (base + (1 if n < left_over else 0)) * CENT
    return out


def _percent(awarded: Decimal, top: Decimal) -> Decimal:
    if top <= 0:
        return Decimal("0.00")
    return (awarded * 100 / top).quantize(CENT, rounding=ROUND_HALF_UP)


def _mark(value: Any) -> Decimal:
    """A pass mark as frozen (a double) as a decimal: its shortest digits."""
    return Decimal(repr(float(value)))


def _totals(settings: dict[str, Any], questions: list[dict[str, Any]]) -> dict[str, Any]:
    cats: dict[str, dict[str, Any]] = {}
    total = top = Decimal(0)
    pending = 0
    for q in questions:
        c = cats.setdefault(
            q["category"], {"awarded": Decimal(0), "max": Decimal(0), "questions": 0, "pending": 0}
        )
        c["max"] += Decimal(q["max"])
        c["questions"] += 1
        top += Decimal(q["max"])
        if q["needs_grading"]:
            pending += 1
            c["pending"] += 1
        else:
            c["awarded"] += Decimal(q["awarded"])
            total += Decimal(q["awarded"])
    pass_mark = settings.get("pass_mark_percent")
    percent = _percent(total, top)
    passed = None if pass_mark is None or pending else percent >= _mark(pass_mark)
    category_marks = settings.get("category_pass_marks") or {}
    categories = {}
    for name in sorted(cats):
        c = cats[name]
        cp = _percent(c["awarded"], c["max"])
        mark = category_marks.get(name)
        categories[name] = {
            "awarded": str(c["awarded"].quantize(CENT)),
            "max": str(c["max"].quantize(CENT)),
            "percent": str(cp),
            "questions": c["questions"],
            "pending_grading": c["pending"],
            "passed": None if mark is None or c["pending"] else cp >= _mark(mark),
        }
        if categories[name]["passed"] is False and passed:
            passed = False
    return {
        "awarded": str(total.quantize(CENT)),
        "max": str(top.quantize(CENT)),
        "percent": str(percent),
        "pass_mark_percent": None if pass_mark is None else repr(float(pass_mark)),
        "passed": passed,
        "needs_grading": pending > 0,
        "pending_questions": pending,
        "answered": sum(1 for q in questions if q["answered"]),
        "late_answers": sum(1 for q in questions if q["late"]),
        "time_on_questions_ms": sum(q["time_ms"] for q in questions),
        "categories": categories,
        "questions": questions,
    }


def marks_of_revision(
    recorded: dict[str, Any], marks: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The marks a recorded revision rests on (none for the automatic one)."""
    wanted = set(recorded.get("mark_ids") or ())
    return [m for m in marks if m["id"] in wanted]


def compare(recomputed: dict[str, Any], recorded: dict[str, Any]) -> str | None:
    """The first field of ``recomputed`` that ``recorded`` says otherwise,
    as ``path (recorded X, recomputed Y)``; None when they agree. The
    recorded document may hold more top-level fields (times, ids of the
    invitation); below the top every field must match both ways."""
    for key, value in recomputed.items():
        found = _differs(key, value, recorded.get(key, _MISSING))
        if found is not None:
            return found
    return None


_MISSING = object()


def _differs(path: str, mine: Any, theirs: Any) -> str | None:
    if isinstance(mine, dict) and isinstance(theirs, dict):
        for key in [*mine, *(k for k in theirs if k not in mine)]:
            found = _differs(f"{path}.{key}", mine.get(key, _MISSING), theirs.get(key, _MISSING))
            if found is not None:
                return found
        return None
    if isinstance(mine, list) and isinstance(theirs, list):
        for n in range(max(len(mine), len(theirs))):
            a = mine[n] if n < len(mine) else _MISSING
            b = theirs[n] if n < len(theirs) else _MISSING
            found = _differs(f"{path}[{n}]", a, b)
            if found is not None:
                return found
        return None
    if _same(mine, theirs):
        return None
    return f"{path} (recorded {_show(theirs)}, recomputed {_show(mine)})"


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values: a number is never a boolean; 2 and 2.0 are one number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _show(value: Any) -> str:
    return "nothing" if value is _MISSING else repr(value)


def check_revisions(
    exam_version: dict[str, Any],
    answer_sheet: dict[str, Any],
    marks: list[dict[str, Any]],
    documents: list[dict[str, Any]],
) -> str | None:
    """Every recorded revision recomputed from the marks it rests on, and the
    latest also from all the marks (so a mark no revision took in is
    noticed): None, or the first revision and field that differ."""
    ordered = sorted(documents, key=lambda d: d["revision"])
    if not ordered:
        return "no result document was recorded"
    for document in ordered:
        mine = recompute(exam_version, answer_sheet, marks_of_revision(document, marks))
        found = compare(mine, document)
        if found is not None:
            return f"revision {document['revision']}: {found}"
    latest = ordered[-1]
    found = compare(recompute(exam_version, answer_sheet, marks), latest)
    return None if found is None else f"revision {latest['revision']} (all marks): {found}"
