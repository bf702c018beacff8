"""Review that respects the reviewer's time (issue 19): firings of one rule
whose windows overlap or touch are one flag per episode, however the
batches were cut; one decision covers it; several flags are decided at once
with one reason (all or nothing, each audited as a single decision); the
integrity summary names its sources and says when they disagree; the page
speaks in words, not internals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from invigil.audit import checkpoints
from invigil.audit import service as audit_service
from invigil.audit.models import AuditEvent
from invigil.db.uow import Actor
from invigil.delivery.models import Attempt
from invigil.delivery.records import SOURCES as DELIVERY
from invigil.errors import Conflict, Invalid
from invigil.evidence import service as evidence_service
from invigil.identity.models import User
from invigil.proctoring import engine, review_queue, reviews, summary
from invigil.proctoring.models import ProctoringAction, ReviewDecision, Snapshot
from invigil.proctoring.records import SOURCES as PROCTORING
from invigil.security.keys import Keys
from invigil.settings import Settings
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.evidence.factories import jpeg
from tests.proctoring.test_pipeline import custom, rule
from tests.proctoring.test_review_pages import words
from tests.proctoring.test_reviews import Sat, as_user, entries, new_exam, sit
from tests.test_pages_matrix import web_client

# The case: leaving 3 times within 30 seconds is a high flag.
RUN = custom(
    rule("tab-3", "tab.hidden", "flag", severity="high", count=3, window_seconds=30),
    rule("copy-flag", "clipboard.copy", "flag", severity="medium"),
)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _d(seq: int, related: tuple[int, ...], since: int, until: int, rule_id: str = "r") -> Any:
    return engine.Decision(
        rule_id, "tab.hidden", "high", "flag", seq, related, "m",
        since=T0 + timedelta(seconds=since), until=T0 + timedelta(seconds=until),
    )  # fmt: skip


def test_runs_merge_firings_whose_windows_overlap_or_touch_per_rule() -> None:
    a = _d(8, (1, 5, 8), 0, 40)
    b = _d(12, (5, 8, 12), 20, 60)
    c = _d(14, (8, 12, 14), 40, 70)
    touching = _d(20, (16, 18, 20), 70, 90)
    apart = _d(30, (26, 28, 30), 200, 240)
    other = _d(12, (12,), 20, 20, rule_id="other")
    got = engine.runs([apart, touching, c, other, b, a])
    assert [[d.episode_seq for d in run] for run in got] == [[8, 12, 14, 20], [12], [30]]
    assert engine.runs([]) == []


def _exits(s: Sat, starts: list[int]) -> list[dict[str, Any]]:
    out = []
    for t in starts:
        at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=t)
        start = s.chain.message("tab.hidden", "start", at)
        out += [start, s.chain.message("tab.hidden", "end", at + timedelta(seconds=1),
                                       ends=start["seq"])]  # fmt: skip
    return out


@pytest.mark.parametrize("cut", ["one batch", "one exit a batch", "two batches"])
def test_one_run_of_exits_is_one_flag_whose_count_grows_however_the_batches_are_cut(
    app: FastAPI, db: BoundDatabase, settings: Settings, cut: str
) -> None:
    tenant = make_tenant(db, settings)
    s = sit(app, db, settings, tenant.id, new_exam(db, tenant.id, RUN))
    # Six exits 10 s apart (a run: firings at the 3rd, 4th, 5th, 6th), then a
    # second run of three, nearly two minutes later. (Events are dated within
    # two minutes of the attempt's start and of now.)
    messages = _exits(s, [-100, -90, -80, -70, -60, -50])
    later = _exits(s, [60, 70, 80])
    if cut == "one batch":
        s.send(*messages, *later)
    elif cut == "one exit a batch":
        for n in range(0, len(messages + later), 2):
            s.send(*(messages + later)[n : n + 2])
    else:
        s.send(*messages[:7])
        s.send(*messages[7:], *later)
    with db.unit_of_work(s.tenant_id) as uow:
        actions = uow.scalars(select(ProctoringAction).order_by(ProctoringAction.episode_seq))
        assert len(actions) == 5  # every firing is still kept (and audited)
        review = reviews.load(uow, uow.get(Attempt, s.attempt_id))
    starts = [m["seq"] for m in messages[::2]]
    assert [len(f.actions) for f in review.flags] == [4, 1]
    first, second = review.flags
    assert first.events == starts and len(first.events) == 6
    assert second.events == [m["seq"] for m in later[::2]]
    assert {a.flag_id for a in first.actions} == {first.id}
    audited = entries(db, s.tenant_id, "proctoring.action")
    assert [e.payload["flag"] for e in audited] == [str(first.id)] * 4 + [str(second.id)]

    with db.unit_of_work(s.tenant_id) as uow:
        rows, _ = review_queue.queue(uow, exam_id=None, limit=5, cursor=None)
        assert [(r.flags, r.undecided, r.by_severity) for r in rows] == [(2, 2, {"high": 2})]
    reviewer = make_user(db, s.tenant_id, ["proctor_reviewer"])
    with as_user(db, s.tenant_id, reviewer) as uow:
        reviews.decide(uow, s.attempt_id, reviews.Decide("flag", "confirmed", "left", first.id))
    with db.unit_of_work(s.tenant_id) as uow:
        rows, _ = review_queue.queue(uow, exam_id=None, limit=5, cursor=None)
        assert [r.undecided for r in rows] == [1]  # one decision covered the four firings
    [entry] = entries(db, s.tenant_id, "review.decided")
    assert entry.payload["events"] == starts
    assert entry.payload["actions"] == [str(a.id) for a in first.actions]


def test_a_firing_of_a_new_run_starts_a_new_flag_and_other_rules_never_merge(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    s = sit(app, db, settings, tenant.id, new_exam(db, tenant.id, RUN))
    now = datetime.now(UTC)
    s.send(*_exits(s, [0, 10, 20]))
    s.send(*[s.chain.message("clipboard.copy", "instant", now + timedelta(seconds=k))
             for k in (11, 12)])  # fmt: skip
    with db.unit_of_work(s.tenant_id) as uow:
        review = reviews.load(uow, uow.get(Attempt, s.attempt_id))
    # Copies count one each (their windows are single moments): two flags.
    assert sorted((f.action.rule_id, len(f.events)) for f in review.flags) == [
        ("copy-flag", 1), ("copy-flag", 1), ("tab-3", 3)
    ]  # fmt: skip


# --- bulk decisions ---------------------------------------------------------------


def _two_flags(app: FastAPI, db: BoundDatabase, settings: Settings) -> tuple[Sat, list[Any]]:
    tenant = make_tenant(db, settings)
    s = sit(app, db, settings, tenant.id, new_exam(db, tenant.id, RUN))
    s.send(*_exits(s, [-100, -90, -80]), *_exits(s, [60, 70, 80]))
    s.submit()
    with db.unit_of_work(s.tenant_id) as uow:
        review = reviews.load(uow, uow.get(Attempt, s.attempt_id))
    assert len(review.flags) == 2
    return s, review.flags


def test_a_bulk_decision_records_and_audits_each_flag_as_a_single_one_would(
    app: FastAPI, db: BoundDatabase, settings: Settings, tmp_path: Path
) -> None:
    s, flags = _two_flags(app, db, settings)
    reviewer = make_user(db, s.tenant_id, ["proctor_reviewer"])
    with as_user(db, s.tenant_id, reviewer) as uow:
        rows = reviews.decide_many(
            uow, s.attempt_id, [reviews.Seen(f.id) for f in flags], "dismissed", " allowed "
        )
    assert [(r.action_id, r.decision, r.reason, r.scope) for r in rows] == [
        (f.id, "dismissed", "allowed", "flag") for f in flags
    ]
    decided = entries(db, s.tenant_id, "review.decided")
    assert [(e.subject_id, e.payload["decision"], e.payload["bulk"]) for e in decided] == [
        (str(r.id), "dismissed", 2) for r in rows
    ]
    assert all(e.actor_id == str(reviewer.id) and "anchor" in e.payload for e in decided)
    # Changing them together names what each replaced.
    with as_user(db, s.tenant_id, reviewer) as uow:
        again = reviews.decide_many(
            uow,
            s.attempt_id,
            [reviews.Seen(f.id, r.id) for f, r in zip(flags, rows, strict=True)],
            "confirmed",
            "on a second look",
        )
    assert [r.supersedes for r in again] == [r.id for r in rows]
    # The anchored records still verify: each decision is its row, as the log says.
    keys = Keys(tmp_path)
    with db.unit_of_work(s.tenant_id, Actor.system()) as uow:
        checkpoints.seal(uow, keys.audit)
    with db.unit_of_work(s.tenant_id, Actor.operator()) as uow:
        report = audit_service.verify_tenant(uow, keys.audit, (*DELIVERY, *PROCTORING))
    assert report.ok, (report.problems, report.records)
    assert report.records is not None and report.records.anchored >= 4


def test_a_bulk_decision_refuses_as_a_whole_and_records_nothing(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    s, flags = _two_flags(app, db, settings)
    _other, other_flags = _two_flags(app, db, settings)  # another tenant's attempt
    reviewer = make_user(db, s.tenant_id, ["proctor_reviewer"])
    good = [reviews.Seen(f.id) for f in flags]

    def refused(chosen: list[reviews.Seen], decision: str = "confirmed", reason: str = "r") -> str:
        with (
            pytest.raises((Invalid, Conflict)) as caught,
            as_user(db, s.tenant_id, reviewer) as uow,
        ):
            reviews.decide_many(uow, s.attempt_id, chosen, decision, reason)
        return str(caught.value.detail)

    assert "choose at least one flag" in refused([])
    assert "not a flag of this attempt" in refused([*good, reviews.Seen(other_flags[0].id)])
    assert "not a flag of this attempt" in refused([reviews.Seen(uuid.uuid4())])
    assert "named once" in refused([good[0], good[0]])
    assert "confirmed or dismissed" in refused(good, "cleared")
    assert "give a reason" in refused(good, reason="  ")
    stale = [good[0], reviews.Seen(flags[1].id, uuid.uuid4())]
    assert "no decision yet" in refused(stale)
    with db.unit_of_work(s.tenant_id) as uow:
        assert uow.scalars(select(ReviewDecision)) == []
        assert uow.scalars(select(AuditEvent).where(AuditEvent.action == "review.decided")) == []


def test_the_bulk_api_and_page(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings
) -> None:
    s, flags = _two_flags(app, db, settings)
    reviewer = make_user(db, s.tenant_id, ["proctor_reviewer"])
    headers = bearer(app, db, reviewer)
    url = f"/api/v1/reviews/{s.attempt_id}/decisions/bulk"
    body = {"decision": "confirmed", "reason": "left the exam"}
    empty = client.post(url, json=body | {"flags": []}, headers=headers)
    assert empty.status_code == 422 and empty.json()["field"] == "flags"
    assert empty.headers["content-type"].startswith("application/problem+json")
    stranger = client.post(
        url, json=body | {"flags": [{"action_id": str(uuid.uuid4())}]}, headers=headers
    )
    assert stranger.status_code == 422 and "not a flag of this attempt" in stranger.json()["detail"]
    elsewhere = client.post(
        f"/api/v1/reviews/{uuid.uuid4()}/decisions/bulk",
        json=body | {"flags": [{"action_id": str(flags[0].id)}]},
        headers=headers,
    )
    assert elsewhere.status_code == 404
    viewer = bearer(app, db, make_user(db, s.tenant_id, ["results_viewer"]))
    chosen = {"flags": [{"action_id": str(f.id)} for f in flags]}
    assert client.post(url, json=body | chosen, headers=viewer).status_code == 403
    done = client.post(url, json=body | chosen, headers=headers)
    assert done.status_code == 201, done.text
    assert [i["action_id"] for i in done.json()["items"]] == [str(f.id) for f in flags]
    detail = client.get(f"/api/v1/reviews/{s.attempt_id}", headers=headers).json()
    assert [(f["count"], len(f["firings"])) for f in detail["flags"]] == [(3, 1), (3, 1)]

    # The page: a ticked flag and one reason; a refused one keeps what was typed.
    staff, csrf = web_client(app, db, s.tenant_id, ["proctor_reviewer"])
    page = staff.get(f"/proctoring/reviews/{s.attempt_id}")
    assert "Decide several flags at once" in page.text and "Choose all 2 flags" in page.text
    form = {"csrf": csrf, "decision": "dismissed", "reason": "typed once"}
    seen = [f"{f.id}:" for f in flags]  # stale: both were decided above
    bad = staff.post(
        f"/proctoring/reviews/{s.attempt_id}/decisions/bulk",
        data=form | {"flag": [str(flags[0].id)], "seen": seen},
    )
    assert bad.status_code == 409 and "typed once" in bad.text
    with db.unit_of_work(s.tenant_id) as uow:
        current = {d.action_id: d.id for d in uow.scalars(select(ReviewDecision))}
    ok = staff.post(
        f"/proctoring/reviews/{s.attempt_id}/decisions/bulk",
        data=form | {"flag": [str(f.id) for f in flags], "seen": [f"{f.id}:{current[f.id]}" for f in flags]},
    )  # fmt: skip
    assert ok.status_code == 303 and ok.headers["location"].endswith("#flags-h")
    shown = staff.get(ok.headers["location"].split("#")[0])
    assert "Decisions on the chosen flags recorded." in shown.text
    nothing = staff.post(
        f"/proctoring/reviews/{s.attempt_id}/decisions/bulk", data=form | {"seen": seen}
    )
    assert nothing.status_code == 422 and "Choose at least one flag" in nothing.text


# --- figures that agree, and words --------------------------------------------------


def _snapshots(app: FastAPI, uow: Any, s: Sat, faces: list[tuple[int, int]]) -> None:
    for browser, server in faces:
        obj = evidence_service.store(
            uow, app.state.services.evidence, subject_type="attempt",
            subject_id=str(s.attempt_id), kind_name="snapshot", data=[jpeg(2000)],
        )  # fmt: skip
        uow.add(
            Snapshot(
                tenant_id=s.tenant_id, attempt_id=s.attempt_id, object_id=obj.id,
                taken_at=datetime.now(UTC), reason="periodic", client_faces=browser,
                server_faces=server, server_status="agrees" if browser == server else "mismatch",
            )
        )  # fmt: skip
    uow.flush()


def test_the_summary_says_which_detector_each_figure_comes_from_and_when_they_disagree(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    s = sit(app, db, settings, tenant.id, new_exam(db, tenant.id, RUN))
    t0 = datetime.now(UTC).replace(microsecond=0)
    start = s.chain.message("face.none", "start", t0 + timedelta(seconds=10))
    s.send(
        start, s.chain.message("face.none", "end", t0 + timedelta(seconds=91), ends=start["seq"])
    )
    s.submit()
    with db.unit_of_work(s.tenant_id) as uow:
        attempt = uow.get(Attempt, s.attempt_id)
        attempt.started_at, attempt.submitted_at = t0, t0 + timedelta(seconds=100)
        _snapshots(app, uow, s, [(0, 0)] * 11)  # the browser agrees on each snapshot...
        got = summary.summarize(uow, attempt)
    # ... yet says one face 19 % of the time, while the server saw one in none.
    assert got.one_face_share == pytest.approx(0.19) and got.server_one_face_share == 0
    assert got.recheck_disagreements == 0 and got.face_figures_disagree is True

    staff, _ = web_client(app, db, s.tenant_id, ["proctor_reviewer"])
    text = words(staff.get(f"/proctoring/reviews/{s.attempt_id}").text)
    assert "the browser's face detector" in text and "the server's re-check" in text
    assert "The browser and the server disagree about the face." in text
    assert "exactly one face 19.0% of the time; the server's re-check found exactly one face " \
        "in 0 of 11 snapshots (0.0%)" in text  # fmt: skip


def test_figures_that_agree_are_said_to_agree(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    s = sit(app, db, settings, tenant.id, new_exam(db, tenant.id, RUN))
    s.submit()
    with db.unit_of_work(s.tenant_id) as uow:
        _snapshots(app, uow, s, [(1, 1)] * 4)
        got = summary.summarize(uow, uow.get(Attempt, s.attempt_id))
    assert got.face_figures_disagree is False
    staff, _ = web_client(app, db, s.tenant_id, ["proctor_reviewer"])
    text = words(staff.get(f"/proctoring/reviews/{s.attempt_id}").text)
    assert "agree" in text and "disagree about the face" not in text


def test_the_review_page_speaks_in_words_not_internals(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    policy = RUN | {"rules": [*RUN["rules"], rule("none-log", "face.none", "log")]}
    s = sit(app, db, settings, tenant.id, new_exam(db, tenant.id, policy))
    t = datetime.now(UTC)
    start = s.chain.message(
        "face.none", "start", t, faces=0, score=0.12, backend="webgl", input_size=416
    )
    s.send(start, s.chain.message("face.none", "end", t + timedelta(seconds=4), ends=start["seq"]))
    saved = s.client.post(
        f"/take/{s.token}/api/answers", json={"items": [{"index": 0, "response": 1, "seq": 151}]}
    )  # a save the browser numbered 151
    assert saved.json()["results"][0]["status"] == "saved"
    reviewer = make_user(db, s.tenant_id, ["proctor_reviewer"])
    with db.unit_of_work(s.tenant_id) as uow:
        uow.get(User, reviewer.id).display_name = "Rita Reviewer"
    s.send(*_exits(s, [5, 6, 7]))
    with db.unit_of_work(s.tenant_id) as uow:
        review = reviews.load(uow, uow.get(Attempt, s.attempt_id))
    with as_user(db, s.tenant_id, reviewer) as uow:
        reviews.decide(
            uow, s.attempt_id, reviews.Decide("flag", "confirmed", "seen", review.flags[0].id)
        )
    staff, _ = web_client(app, db, s.tenant_id, ["proctor_reviewer"])
    page = staff.get(f"/proctoring/reviews/{s.attempt_id}").text
    text = words(page)
    for internal in ("backend", "webgl", "input size", "416", "score", "Change 151", "tab.hidden",
                     "face.none", "event 1", 'Rule "', str(reviewer.id)):  # fmt: skip
        assert internal not in text, internal
    assert "0 faces in view" in text and "The exam tab was hidden 3 times, between" in text
    assert f"by Rita Reviewer ({reviewer.email})" in text


@given(
    st.lists(
        st.tuples(st.integers(0, 500), st.integers(0, 60), st.sampled_from(["a", "b"])),
        max_size=25,
        unique_by=lambda t: (t[0], t[2]),
    ),
    st.randoms(use_true_random=False),
)
def test_runs_do_not_depend_on_the_order_firings_arrive_in(
    windows: list[tuple[int, int, str]], rnd: Any
) -> None:
    decisions = [
        _d(start, (start,), start, start + length, rule) for start, length, rule in windows
    ]
    shuffled = list(decisions)
    rnd.shuffle(shuffled)
    key = [[(d.rule_id, d.episode_seq) for d in run] for run in engine.runs(decisions)]
    assert key == [[(d.rule_id, d.episode_seq) for d in run] for run in engine.runs(shuffled)]
    # Runs of one rule never overlap or touch; within a run each window
    # overlaps or touches the ones before it.
    for rule_id in ("a", "b"):
        spans = []
        for run in engine.runs(decisions):
            if run[0].rule_id != rule_id:
                continue
            reach = run[0].until
            for d in run[1:]:
                assert d.since <= reach
                reach = max(reach, d.until)
            spans.append((run[0].since, reach))
        spans.sort()
        assert all(b[0] > a[1] for a, b in pairwise(spans))
