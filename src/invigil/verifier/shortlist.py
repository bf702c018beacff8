"""The checks that know a shortlist run's bundle (docs/formats/evidence-bundle.md,
"A shortlist run's bundle").

subject  every record is this run's: the rule set version is the one the
         run froze (same rules, same sha256, and the rules hash to it),
         each entry's facts hash to the sha256 the run anchored at its
         position, each stage change moves one of the run's ranked entries
         and follows the one before it (seq 1, 2, ... from stage to stage),
         each result is of an attempt the run considered, recorded before
         the run
ranking  each entry's numbers are the cited result's (percent, pass,
         categories, and whether it was final), and the frozen rules,
         applied again here to the entries' facts, give the recorded order,
         ranks, rules met and first rule failed, and the run's counts

This is an independent reading of the rules (docs/adr/0037-shortlists.md):
it imports nothing of Invigil, so the server's ranking cannot vouch for
itself. The order: the overall percentage, highest first; then each
tie-break as the rules name them ("category:<name>" highest first,
"shorter_time", "earlier_submission"; a missing value last); then the
attempt id. The rules, checked in this order, stop at the first failed:
final, pass_required, min_percent, min_category_percent (by name),
integrity_allowed, max_minutes; then top_n over those who met every other.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .bundle import Bundle, Failed

RULES = "records/rule_set_version.json"
RUN = "records/run.json"
ENTRIES = "records/entries/"
STAGES = "records/stage_changes/"
RESULTS = "records/results/"
INTEGRITY = ("clear", "flagged", "under_review", "cleared", "failed")
NOT_FINAL = ("not_submitted", "no_result", "awaiting_grading", "awaiting_review")


def _sha(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _obj(b: Bundle, path: str) -> dict[str, Any]:
    doc = b.json(path)
    if not isinstance(doc, dict):
        raise Failed(path, "is not a JSON object")
    return doc


def _paths(b: Bundle, prefix: str) -> list[str]:
    return sorted(m["path"] for m in b.members if m["path"].startswith(prefix))


def _dec(value: Any, path: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise Failed(path, f"{value!r} is not a number") from None


def number(value: Decimal | None) -> str | None:
    """Plain digits, no trailing zeros ("62.5", "60"), as the rules write them."""
    if value is None:
        return None
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def subject(b: Bundle) -> None:
    rid = b.manifest["subject"]["id"]
    run = _obj(b, RUN)
    if run.get("id") != rid or b.member(RUN)["record"]["id"] != rid:  # type: ignore[index]
        raise Failed(RUN, f"is not the record of run {rid}")
    version = _obj(b, RULES)
    if version.get("id") != run.get("rule_set_version_id"):
        raise Failed(RULES, "is not the rule set version the run froze")
    if version.get("rules") != run.get("rules") or _sha(run.get("rules")) != run.get(
        "rules_sha256"
    ):
        raise Failed(RULES, "its rules are not the run's frozen rules, or do not hash to them")
    if version.get("rules_sha256") != run.get("rules_sha256"):
        raise Failed(RULES, "its rules_sha256 is not the run's")
    anchored = run.get("entries")
    paths = _paths(b, ENTRIES)
    if not isinstance(anchored, list) or len(paths) != len(anchored):
        count = len(anchored) if isinstance(anchored, list) else None
        raise Failed(ENTRIES, f"holds {len(paths)} entries; the run anchored {count}")
    entries = []
    for n, (path, (position, attempt, digest)) in enumerate(zip(paths, anchored, strict=True), 1):
        doc = _obj(b, path)
        if path != f"{ENTRIES}{n:04d}.json" or position != n or doc.get("position") != n:
            raise Failed(path, f"is not entry {n} of the run")
        if doc.get("run_id") != rid:
            raise Failed(path, f"is an entry of run {doc.get('run_id')}, not of {rid}")
        if doc.get("attempt_id") != attempt or _sha(doc) != digest:
            raise Failed(path, f"does not hash to the sha256 the run anchored for entry {n}")
        entries.append((path, doc))
    b.facts["shortlist"] = entries
    _stages(b, rid, {d["attempt_id"] for _, d in entries if d.get("rank") is not None})
    run_seq = b.member(RUN)["record"]["seq"]  # type: ignore[index]
    considered = {d["attempt_id"] for _, d in entries}
    for path in _paths(b, RESULTS):
        seq = b.member(path)["record"]["seq"]  # type: ignore[index]
        payload = b.facts["entries"][seq].get("payload") or {}
        owner = payload.get("attempt_id")
        if owner not in considered or path != f"{RESULTS}{owner}.json":
            raise Failed(path, f"is the result of attempt {owner}, which the run did not consider")
        if seq > run_seq:
            raise Failed(path, f"was recorded after the run (entry {seq} > {run_seq})")
    b.facts["counts"] |= {"entries": len(entries)}


def _stages(b: Bundle, rid: str, ranked: set[str]) -> None:
    moves: dict[str, list[tuple[int, str, dict[str, Any]]]] = {}
    for path in _paths(b, STAGES):
        doc = _obj(b, path)
        if doc.get("run_id") != rid or doc.get("attempt_id") not in ranked:
            raise Failed(path, f"does not move a ranked entry of run {rid}")
        moves.setdefault(doc["attempt_id"], []).append((doc.get("seq"), path, doc))  # type: ignore[arg-type]
    for found in moves.values():
        found.sort(key=lambda m: (m[0] if isinstance(m[0], int) else 0, m[1]))
        before = None
        for n, (seq, path, doc) in enumerate(found, start=1):
            if seq != n:
                raise Failed(path, f"is stage change {seq}, but change {n} is missing before it")
            if before is not None and doc.get("from_stage") != before:
                raise Failed(path, f"moves from {doc.get('from_stage')}, not from {before}")
            before = doc.get("stage")


def _expected(b: Bundle, path: str, entry: dict[str, Any]) -> dict[str, Any]:
    """What the entry's numbers must be, read from its result (or its absence)."""
    result_path = f"{RESULTS}{entry['attempt_id']}.json"
    if b.member(result_path) is None:
        return {"percent": None, "passed": None, "categories": {}, "has_result": False}
    doc = _obj(b, result_path)
    pending = doc.get("needs_grading")
    categories = {}
    if pending is False:
        for name, c in (doc.get("categories") or {}).items():
            try:
                categories[str(name)] = Decimal(str(c.get("percent")))
            except (InvalidOperation, AttributeError):
                continue
    return {
        "percent": _dec(doc.get("percent"), result_path),
        "passed": None if pending else doc.get("passed"),
        "categories": categories,
        "pending": bool(pending),
        "has_result": True,
        "path": result_path,
    }


def _not_final(path: str, entry: dict[str, Any]) -> str | None:
    """Whether the result was final, as the entry records it: the rule
    ``final`` comes first, so an entry that failed another rule met it."""
    failed = entry.get("failed")
    if isinstance(failed, dict) and failed.get("rule") not in (None, "final"):
        return None
    reasons = [*(entry.get("met") or []), failed or {}]
    final = next((r for r in reasons if isinstance(r, dict) and r.get("rule") == "final"), None)
    if final is None or final.get("actual") not in ("final", *NOT_FINAL):
        raise Failed(path, "records no finality (the rule final)")
    return None if final["actual"] == "final" else str(final["actual"])


def _facts(b: Bundle, path: str, entry: dict[str, Any]) -> dict[str, Any]:
    want = _expected(b, path, entry)
    percent = _dec(entry.get("percent"), path)
    cats = {k: _dec(v, path) for k, v in (entry.get("categories") or {}).items()}
    if percent != want["percent"]:
        where = want.get("path", "no result")
        raise Failed(
            path, f"percent {entry.get('percent')} is not the result's ({where}: {want['percent']})"
        )
    if entry.get("passed") != want["passed"] or cats != want["categories"]:
        raise Failed(path, "its pass or category percentages are not the cited result's")
    not_final = _not_final(path, entry)
    integrity = entry.get("integrity")
    if not_final != "not_submitted":
        if not want["has_result"]:
            derived = "no_result"
        elif want["pending"]:
            derived = "awaiting_grading"
        elif integrity in ("flagged", "under_review"):
            derived = "awaiting_review"
        else:
            derived = None
        if derived != not_final:
            recorded, read = not_final or "final", derived or "final"
            raise Failed(path, f"is recorded as {recorded}; its result says {read}")
    submitted = entry.get("submitted_at")
    return {
        "attempt_id": entry["attempt_id"],
        "not_final": not_final,
        "percent": percent,
        "passed": entry.get("passed"),
        "integrity": integrity,
        "seconds": entry.get("seconds"),
        "submitted_at": None if submitted is None else datetime.fromisoformat(submitted),
        "categories": cats,
    }


def _checks(rules: dict[str, Any], f: dict[str, Any]) -> list[tuple[bool, dict[str, Any]]]:
    out = [(f["not_final"] is None, {"rule": "final", "actual": f["not_final"] or "final"})]
    if rules["pass_required"]:
        out.append((f["passed"] is True, {"rule": "pass_required", "actual": f["passed"]}))
    if rules["min_percent"] is not None:
        ok = f["percent"] is not None and f["percent"] >= Decimal(rules["min_percent"])
        out.append((ok, {"rule": "min_percent", "required": rules["min_percent"],
                         "actual": number(f["percent"])}))  # fmt: skip
    for name, least in rules["min_category_percent"].items():
        got = f["categories"].get(name)
        ok = got is not None and got >= Decimal(least)
        out.append((ok, {"rule": "min_category_percent", "category": name, "required": least,
                         "actual": number(got)}))  # fmt: skip
    allowed = rules["integrity_allowed"]
    if len(allowed) < len(INTEGRITY):
        out.append((f["integrity"] in allowed, {"rule": "integrity_allowed", "required": allowed,
                                                "actual": f["integrity"]}))  # fmt: skip
    if rules["max_minutes"] is not None:
        ok = f["seconds"] is not None and f["seconds"] <= rules["max_minutes"] * 60
        out.append((ok, {"rule": "max_minutes", "required": rules["max_minutes"],
                         "actual_seconds": f["seconds"]}))  # fmt: skip
    return out


def _key(rules: dict[str, Any], f: dict[str, Any]) -> tuple[Any, ...]:
    def last(value: Any) -> tuple[int, Any]:
        return (1, 0) if value is None else (0, value)

    key: list[Any] = [last(None if f["percent"] is None else -f["percent"])]
    for tie in rules["tie_breaks"]:
        if tie.startswith("category:"):
            got = f["categories"].get(tie[len("category:") :])
            key.append(last(None if got is None else -got))
        elif tie == "shorter_time":
            key.append(last(f["seconds"]))
        else:
            key.append(last(f["submitted_at"]))
    return (*key, f["attempt_id"])


def rank(rules: dict[str, Any], cohort: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every candidate as {attempt_id, rank, met, failed}: the ranked first,
    then the excluded, each part in ranking order."""
    ranked, excluded, qualified = [], [], 0
    for f in sorted(cohort, key=lambda f: _key(rules, f)):
        found = _checks(rules, f)
        failed = next((why for ok, why in found if not ok), None)
        aid = f["attempt_id"]
        if failed is not None:
            excluded.append({"attempt_id": aid, "rank": None, "met": [], "failed": failed})
            continue
        met = [why for _, why in found]
        qualified += 1
        top = rules["top_n"]
        place = {"rule": "top_n", "required": top, "actual": qualified}
        if top is not None and qualified > top:
            excluded.append({"attempt_id": aid, "rank": None, "met": met, "failed": place})
            continue
        met = [*met, place] if top is not None else met
        ranked.append({"attempt_id": aid, "rank": qualified, "met": met, "failed": None})
    return ranked + excluded


def ranking(b: Bundle) -> None:
    run = _obj(b, RUN)
    entries: list[tuple[str, dict[str, Any]]] = b.facts["shortlist"]
    rules = run.get("rules")
    try:
        cohort = [_facts(b, path, doc) for path, doc in entries]
        expected = rank(rules, cohort)  # type: ignore[arg-type]
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise Failed(RUN, f"its rules or an entry's facts cannot be read ({exc!r})") from None
    for (path, doc), want in zip(entries, expected, strict=True):
        got = {k: doc.get(k) for k in ("attempt_id", "rank", "met", "failed")}
        if got["attempt_id"] != want["attempt_id"]:
            raise Failed(
                path, f"the rules place attempt {want['attempt_id']} here, not {got['attempt_id']}"
            )
        for k in ("rank", "failed", "met"):
            if got[k] != want[k]:
                raise Failed(path, f"its {k} is {got[k]!r}; the frozen rules give {want[k]!r}")
    shortlisted = sum(1 for w in expected if w["rank"] is not None)
    if (run.get("considered"), run.get("shortlisted")) != (len(expected), shortlisted):
        counts = f"{len(expected)} considered, {shortlisted} shortlisted"
        raise Failed(RUN, f"its counts are not {counts}")
    b.facts["counts"] |= {"shortlisted": shortlisted}
