"""The worked example of docs/formats/result-recomputation.md, computed by
hand there, recomputed here from the same three documents."""

from __future__ import annotations

from typing import Any

from invigil.verifier.scoring import recompute

RUBRIC = [
    {"name": "Argument", "levels": [{"label": "weak", "points": 0}, {"label": "fair", "points": 3},
                                    {"label": "strong", "points": 6}]},
    {"name": "Language", "levels": [{"label": "poor", "points": 0}, {"label": "good", "points": 2},
                                    {"label": "precise", "points": 4}]},
]  # fmt: skip
EXAM: dict[str, Any] = {
    "exam_id": "e", "version": 1, "content_hash": "h",
    "frozen": {
        "settings": {"pass_mark_percent": 75.0, "category_pass_marks": {"Writing": 80.0},
                     "double_marking": True, "marking_tolerance_percent": 10.0},
        "sections": [
            {"kind": "fixed", "questions": [{"version_id": "q0"}, {"version_id": "q1"}]},
            {"kind": "pool", "count": 2, "scale_to_points": "7.01",
             "pool": [{"version_id": "q2"}, {"version_id": "q3"}, {"version_id": "q4"}]},
        ],
    },
    "question_versions": {
        "q0": {"question_id": "Q0", "version": 1, "category": "Geography", "points": "1.00",
               "language": "en", "body": {"type": "single_choice", "choices": ["a", "b", "c", "d"],
                                          "correct": 1}},
        "q1": {"question_id": "Q1", "version": 1, "category": "Science", "points": "2.50",
               "language": "en", "body": {"type": "multiple_choice", "choices": ["a", "b", "c", "d", "e"],
                                          "correct": [0, 2, 4], "scoring": "proportional"}},
        "q2": {"question_id": "Q2", "version": 1, "category": "Writing", "points": "10.00",
               "language": "en", "body": {"type": "essay", "rubric": RUBRIC}},
        "q3": {"question_id": "Q3", "version": 1, "category": "Maths", "points": "2.00",
               "language": "en", "body": {"type": "numeric", "value": 3.14, "tolerance": 0}},
    },
}  # fmt: skip
SHEET: dict[str, Any] = {
    "attempt_id": "a", "language": None,
    "paper": [
        {"section": 0, "question_id": "Q0", "version_id": "q0", "type": "single_choice",
         "option_order": [2, 0, 1, 3]},
        {"section": 0, "question_id": "Q1", "version_id": "q1", "type": "multiple_choice",
         "option_order": [4, 3, 2, 1, 0]},
        {"section": 1, "question_id": "Q2", "version_id": "q2", "type": "essay", "option_order": []},
        {"section": 1, "question_id": "Q3", "version_id": "q3", "type": "numeric", "option_order": []},
    ],
    "answers": [
        {"slot": 0, "response": 2, "seq": 1, "time_ms": 1000, "flagged": False, "late": False},
        {"slot": 1, "response": [0, 2, 3], "seq": 2, "time_ms": 1000, "flagged": False, "late": False},
        {"slot": 2, "response": "Essay.", "seq": 3, "time_ms": 1000, "flagged": False, "late": False},
        {"slot": 3, "response": "3,14", "seq": 4, "time_ms": 1000, "flagged": False, "late": False},
    ],
}  # fmt: skip


def mark(n: int, kind: str, argument: str, language: str) -> dict[str, Any]:
    return {"id": f"m{n}", "slot": 2, "kind": kind, "total": "0.00",
            "created_at": f"2026-01-0{n}T00:00:00.000000Z",
            "marks": [{"criterion": "Argument", "level": argument},
                      {"criterion": "Language", "level": language}]}  # fmt: skip


def test_before_the_essay_is_marked() -> None:
    out = recompute(EXAM, SHEET, [])
    assert [q["awarded"] for q in out["questions"]] == ["1.00", "0.83", None, "3.50"]
    assert [q["max"] for q in out["questions"]] == ["1.00", "2.50", "3.51", "3.50"]
    assert (out["awarded"], out["max"], out["percent"], out["passed"]) == (
        "5.33",
        "10.51",
        "50.71",
        None,
    )
    assert out["categories"]["Writing"] == {"awarded": "0.00", "max": "3.51", "percent": "0.00",
                                            "questions": 1, "pending_grading": 1, "passed": None}  # fmt: skip
    assert out["scored_by"] == "automatic" and "mark_ids" not in out


def test_two_marks_within_tolerance_settle_at_their_mean() -> None:
    out = recompute(
        EXAM, SHEET, [mark(1, "first", "strong", "good"), mark(2, "second", "fair", "precise")]
    )
    assert out["questions"][2]["awarded"] == "2.64"  # 2.81 and 2.46: (2.81 + 2.46) / 2 = 2.635
    assert (out["awarded"], out["percent"]) == ("7.97", "75.83")
    assert out["categories"]["Writing"]["percent"] == "75.21"
    assert out["categories"]["Writing"]["passed"] is False
    assert out["passed"] is False  # 75.83 >= 75.0, but Writing missed its 80.0
    assert out["pass_mark_percent"] == "75.0"
    assert out["scored_by"] == "human" and out["mark_ids"] == ["m1", "m2"]


def test_two_marks_too_far_apart_wait_for_a_moderator() -> None:
    apart = [mark(1, "first", "strong", "good"), mark(2, "second", "weak", "precise")]
    assert recompute(EXAM, SHEET, apart)["scored_by"] == "automatic"
    moderated = {"id": "m3", "slot": 2, "kind": "moderation", "total": "2.50", "marks": [],
                 "created_at": "2026-01-03T00:00:00.000000Z"}  # fmt: skip
    out = recompute(EXAM, SHEET, [*apart, moderated])
    assert out["questions"][2]["awarded"] == "2.50" and out["mark_ids"] == ["m3"]
