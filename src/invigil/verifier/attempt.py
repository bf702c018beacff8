"""The checks that know an attempt bundle's members: that every record is
this attempt's, that the proctoring events chain as the browser sent them,
and that the latest result follows from the frozen exam, the answers and
the marks (the recomputation is :mod:`invigil.verifier.scoring`'s)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .bundle import Bundle, Failed
from .paper import check_paper
from .scoring import check_revisions

ATTEMPT = "records/attempt.json"
EXAM = "records/exam_version.json"
QUESTIONS = "records/question_versions.json"
ANSWERS = "records/answers.jsonl"
EVENTS = "records/events.jsonl"
# Document records that name their attempt in ``attempt_id``.
_OF_ATTEMPT = ("consent", "result", "mark", "release", "review_decision")


def _items(b: Bundle, path: str) -> list[dict[str, Any]]:
    try:
        items = [json.loads(line) for line in b.lines(path)]
    except ValueError:
        raise Failed(path, "holds a line that is not JSON") from None
    if not all(isinstance(i, dict) for i in items):
        raise Failed(path, "holds a line that is not a JSON object")
    return items


def results(b: Bundle) -> list[tuple[str, dict[str, Any]]]:
    """The result revisions, oldest first, as (path, document)."""
    paths = sorted(m["path"] for m in b.members if m["path"].startswith("records/results/"))
    return [(p, b.json(p)) for p in paths]


def subject(b: Bundle) -> None:
    aid = b.manifest["subject"]["id"]
    attempt = b.json(ATTEMPT)
    if not isinstance(attempt, dict) or attempt.get("id") != aid:
        raise Failed(ATTEMPT, f"is not the row of attempt {aid}")
    entries = b.facts["entries"]
    for m in b.members:
        r = m.get("record")
        if r is None:
            continue
        if r["kind"] in ("answers", "events") and r["id"] != aid:
            raise Failed(m["path"], f"is the {r['kind']} of attempt {r['id']}, not of {aid}")
        if r["kind"] in _OF_ATTEMPT and _doc(b, m["path"]).get("attempt_id") != aid:
            raise Failed(m["path"], f"is a {r['kind']} of another attempt than {aid}")
        if r["kind"] == "evidence":
            _of_attempt(entries[r["seq"]], m["path"], aid)
        if r["kind"] == "exam_version":
            _exam(b, m, entries[r["seq"]], attempt)
    for w in b.manifest["withheld"]:
        _of_attempt(entries[w["seq"]], "manifest.json", aid)
    revisions = results(b)
    if not revisions:
        raise Failed("records/results/", "no result revision is in the bundle")
    for n, (path, doc) in enumerate(revisions, start=1):
        if not isinstance(doc, dict) or doc.get("revision") != n:
            raise Failed(path, f"is not revision {n} of the result")
    versions = b.json(QUESTIONS)
    paper = attempt.get("paper") or []
    missing = [s.get("version_id") for s in paper if s.get("version_id") not in versions]
    if missing:
        raise Failed(QUESTIONS, f"lacks question version {missing[0]} of the paper")


def _doc(b: Bundle, path: str) -> dict[str, Any]:
    doc = b.json(path)
    if not isinstance(doc, dict):
        raise Failed(path, "is not a JSON object")
    return doc


def _of_attempt(entry: dict[str, Any], path: str, aid: str) -> None:
    owner = (entry.get("payload") or {}).get("subject")
    if owner != {"type": "attempt", "id": aid}:
        raise Failed(path, f"is evidence of {owner}, not of attempt {aid}")


def _exam(
    b: Bundle, member: dict[str, Any], entry: dict[str, Any], attempt: dict[str, Any]
) -> None:
    path = member["path"]
    if member["record"]["id"] != attempt.get("exam_id"):
        raise Failed(path, "is a version of another exam than the attempt's")
    if (entry.get("payload") or {}).get("version") != attempt.get("exam_version"):
        raise Failed(path, f"is not version {attempt.get('exam_version')}, which the attempt sat")
    for result_path, doc in results(b):
        if doc.get("content_hash") != member["sha256"]:
            raise Failed(result_path, "was scored against another exam version than the bundle's")


def event_chain(b: Bundle) -> None:
    """Each browser event (seq >= 1): hash = sha256(prev + body), and one
    marked ``linked`` has as prev the genesis (seq 1) or the hash before it."""
    aid = b.manifest["subject"]["id"]
    genesis = hashlib.sha256(f"invigil:{aid}".encode()).hexdigest()
    hashes: dict[int, str] = {}
    for event in _items(b, EVENTS):
        seq, body, prev, digest = (event.get(k) for k in ("seq", "body", "prev", "hash"))
        if not isinstance(seq, int) or seq < 1 or not isinstance(body, str):
            continue  # the server's own observations carry no browser chain
        if hashlib.sha256(f"{prev}{body}".encode()).hexdigest() != digest:
            raise Failed(EVENTS, f"event {seq}: its hash is not sha256(prev + body)")
        expected = genesis if seq == 1 else hashes.get(seq - 1)
        # An event that came before the one it follows is honestly unlinked;
        # one that claims the link must have it.
        if event.get("linked") is True and prev != expected:
            raise Failed(EVENTS, f"event {seq}: claims to follow event {seq - 1}, but does not")
        hashes[seq] = str(digest)
    b.facts["counts"] |= {"events": len(hashes)}


def inputs(b: Bundle) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """The three documents of docs/formats/result-recomputation.md, from the members."""
    attempt = b.json(ATTEMPT)
    exam = {
        "exam_id": attempt["exam_id"],
        "version": attempt["exam_version"],
        "content_hash": b.member(EXAM)["sha256"],  # type: ignore[index]
        "frozen": b.json(EXAM),
        "question_versions": b.json(QUESTIONS),
    }
    sheet = {
        "attempt_id": attempt["id"],
        "exam_id": attempt["exam_id"],
        "exam_version": attempt["exam_version"],
        "attempt_number": attempt["number"],
        "seed": str(attempt["seed"]),
        "language": attempt["language"],
        "status": attempt["status"],
        "submitted_at": attempt["submitted_at"],
        "paper": attempt["paper"],
        "answers": [
            {
                k: a.get(k)
                for k in ("slot", "response", "seq", "time_ms", "flagged", "late", "saved_at")
            }
            for a in _items(b, ANSWERS)
        ],
    }
    paths = sorted(m["path"] for m in b.members if m["path"].startswith("records/marks/"))
    marks = sorted((b.json(p) for p in paths), key=lambda m: (m["created_at"], m["id"]))
    return exam, sheet, marks


def result(b: Bundle) -> str | None:
    """The paper is the one the attempt's seed draws from the frozen exam, and
    every result revision recomputes from the frozen exam, the answers and
    the marks it rests on, and the latest also from all the marks
    (:func:`invigil.verifier.scoring.check_revisions`)."""
    exam, sheet, marks = inputs(b)
    drawn = check_paper(exam, sheet)
    if drawn is not None:  # the answers were given to another paper than the seed draws
        raise Failed(ATTEMPT, drawn)
    revisions = results(b)
    problem = check_revisions(exam, sheet, marks, [doc for _, doc in revisions])
    if problem is None:
        return None
    named = problem.split(":", 1)[0].split()  # "revision N" or "revision N (all marks)"
    paths = {doc.get("revision"): path for path, doc in revisions}
    number = int(named[1]) if len(named) > 1 and named[1].isdigit() else None
    raise Failed(paths.get(number, revisions[-1][0] if revisions else ATTEMPT), problem)
