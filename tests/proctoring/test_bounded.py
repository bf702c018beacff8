"""The pipeline decides over part of the stream (the kinds a batch touched,
back as far as their rules look, and the open episodes of kinds with a
minimum duration). At every step of random streams (late and dangling ends,
ends of another kind, heartbeats, silences) it must take exactly the actions
that deciding over the whole stream, built as the pipeline built it before,
would take, in order."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from invigil.delivery.models import Attempt
from invigil.proctoring import pipeline
from invigil.proctoring.models import ProctoringAction, ProctoringEvent
from invigil.proctoring.policy import PRESETS, Episode, Policy, decide
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, make_tenant
from tests.delivery.factories import attempt_factory

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
DURABLE = ("tab.hidden", "face.none")
INSTANT = ("clipboard.copy",)
DETECTORS = {
    "face": True,
    "audio": False,
    "focus": True,
    "fullscreen": False,
    "devtools": False,
    "clipboard": True,
    "screen": False,
}


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from([PRESETS["standard"], PRESETS["practice"]]))
    rules = []
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from((*DURABLE, *INSTANT, "client.silent")))
        count = draw(st.integers(1, 3))
        rules.append(
            {
                "id": f"r{i}",
                "kind": kind,
                "severity": "medium",
                "action": draw(st.sampled_from(["log", "warn", "flag"])),
                "message": f"rule {i}",
                "min_duration_seconds": 0
                if kind in INSTANT
                else draw(st.sampled_from([0, 0, 2, 10, 30])),
                "count": count,
                "window_seconds": draw(st.sampled_from([None, 5, 20, 60])) if count > 1 else None,
            }
        )
    return Policy.model_validate({"name": "custom", "detectors": DETECTORS, "rules": rules})


# A step: ("batch", [message spec, ...]), ("beat",), ("silence",) or ("touch", decides).
# Message specs: ("start", kind, offset), ("instant", kind, offset),
# ("end", which start, same kind?, offset), ("stray", offset): an end naming no start.
offsets = st.one_of(st.integers(-3, 3), st.integers(-40, 3))
message_specs = st.one_of(
    st.tuples(st.just("start"), st.sampled_from(DURABLE), offsets),
    st.tuples(st.just("start"), st.sampled_from(DURABLE), offsets),
    st.tuples(st.just("instant"), st.sampled_from(INSTANT), offsets),
    st.tuples(st.just("end"), st.integers(0, 30), st.booleans(), offsets),
    st.tuples(st.just("end"), st.integers(0, 30), st.just(True), offsets),
    st.tuples(st.just("stray"), offsets),
)
steps = st.lists(
    st.tuples(
        st.integers(0, 25),  # seconds since the previous step
        st.one_of(
            st.tuples(st.just("batch"), st.lists(message_specs, min_size=2, max_size=8)),
            st.tuples(st.just("batch"), st.lists(message_specs, min_size=2, max_size=8)),
            st.tuples(st.just("beat")),
            st.tuples(st.just("silence")),
            st.tuples(st.just("touch"), st.booleans()),
        ),
    ),
    min_size=4,
    max_size=16,
)


class Browser:
    def __init__(self, attempt_id: uuid.UUID) -> None:
        self.prev = pipeline.genesis(attempt_id)
        self.seq = 0
        self.starts: list[tuple[int, str]] = []

    def message(self, spec: tuple[Any, ...], now: datetime) -> pipeline.Message | None:
        at = now + timedelta(seconds=spec[-1])
        kind: str
        ends = None
        if spec[0] in ("start", "instant"):
            kind, phase = spec[1], spec[0]
        elif spec[0] == "stray":
            kind, phase, ends = "tab.hidden", "end", self.seq + 50
        elif not self.starts:
            return None
        else:
            ends, started = self.starts[spec[1] % len(self.starts)]
            kind = started if spec[2] else "focus.lost"
            phase = "end"
        self.seq += 1
        if phase == "start":
            self.starts.append((self.seq, kind))
        body = json.dumps(
            {"kind": kind, "phase": phase, "at": at.isoformat(), "ends": ends, "details": {}}
        )
        digest = hashlib.sha256((self.prev + body).encode()).hexdigest()
        out = pipeline.Message(self.seq, body, self.prev, digest)
        self.prev = digest
        return out

    def messages(self, specs: list[tuple[Any, ...]], now: datetime) -> list[pipeline.Message]:
        out = [self.message(spec, now) for spec in specs]
        assert all(out)
        return [m for m in out if m is not None]


def every_episode(uow: Any, attempt_id: uuid.UUID) -> list[Episode]:
    """The whole stream as episodes, built from the rows as the pipeline
    built them before it read only part of it: a start takes the end with
    the highest seq naming it, if that end is of its kind."""
    rows = uow.scalars(
        select(ProctoringEvent)
        .where(ProctoringEvent.attempt_id == attempt_id)
        .order_by(ProctoringEvent.seq)
    )
    ends = {r.ends: r for r in rows if r.phase == "end" and r.ends is not None}
    out = []
    for r in rows:
        if r.phase == "instant":
            out.append(Episode(r.seq, r.kind, r.at, r.at, instant=True))
        elif r.phase == "start":
            end = ends.get(r.seq)
            ended = max(end.at, r.at) if end is not None and end.kind == r.kind else None
            out.append(Episode(r.seq, r.kind, r.at, ended))
    return out


def fired(uow: Any, attempt_id: uuid.UUID) -> set[tuple[str, int]]:
    rows = uow.session.execute(
        select(ProctoringAction.rule_id, ProctoringAction.episode_seq).where(
            ProctoringAction.attempt_id == attempt_id
        )
    )
    return {(rule, seq) for rule, seq in rows}


@pytest.fixture(scope="module")
def tenant(database: Any, settings: Settings) -> Tenant:
    return make_tenant(database, settings)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(policies(), steps)
def test_each_step_takes_the_actions_a_full_read_would(
    db: BoundDatabase,
    tenant: Tenant,
    policy: Policy,
    plan: list[tuple[int, tuple[Any, ...]]],
) -> None:
    attempt_id = uuid.UUID(attempt_factory(db, tenant))
    browser = Browser(attempt_id)
    now = T0
    with db.unit_of_work(tenant.id) as uow:
        attempt = uow.get(Attempt, attempt_id)
        attempt.policy = policy.model_dump(mode="json")
        attempt.started_at = T0  # the clock these steps run on (events must lie after it)
        attempt.last_seen_at = now
        for gap, (what, *args) in plan:
            now += timedelta(seconds=gap)
            before = fired(uow, attempt_id)
            decides = True
            if what == "batch":
                messages = [m for spec in args[0] if (m := browser.message(spec, now))]
                if not messages:
                    continue
                taken = pipeline.ingest(uow, attempt, messages, now).actions
            elif what == "beat":
                taken = pipeline.evaluate(uow, attempt, now)
            elif what == "silence":
                if attempt.silent_seq is not None:
                    continue
                attempt.silent_seq = pipeline.server_event(
                    uow, attempt, "client.silent", "start", now - timedelta(seconds=20), details={}
                )
                taken = pipeline.evaluate(uow, attempt, now)
            else:  # a touch on a heartbeat that may not decide (no client message yet)
                pipeline.touch(uow, attempt, now)
                decides = args[0]
                taken = pipeline.evaluate(uow, attempt, now) if decides else []
            full = every_episode(uow, attempt_id)
            assert sorted(pipeline.episodes(uow, attempt_id), key=lambda e: e.seq) == full
            expected = decide(policy, full, now, before) if decides else []
            assert [(a.rule_id, a.episode_seq, tuple(a.related)) for a in taken] == [
                (d.rule_id, d.episode_seq, d.related) for d in expected
            ]
            assert fired(uow, attempt_id) == before | {(a.rule_id, a.episode_seq) for a in taken}


def test_a_batch_reads_only_the_kinds_it_touched_back_to_their_window(
    db: BoundDatabase, tenant: Tenant
) -> None:
    """Strict: an old tab.hidden is outside the 10-minute window, an old
    clipboard.copy outside every rule's reach; both stay unread."""
    attempt_id = uuid.UUID(attempt_factory(db, tenant))
    browser = Browser(attempt_id)
    policy = PRESETS["strict"]
    with db.unit_of_work(tenant.id) as uow:
        attempt = uow.get(Attempt, attempt_id)
        attempt.policy = policy.model_dump(mode="json")
        attempt.started_at = T0  # the clock these steps run on (events must lie after it)
        old = [("start", "tab.hidden", 0), ("end", 0, True, 1), ("instant", "clipboard.copy", 2)]
        pipeline.ingest(uow, attempt, browser.messages(old, T0), T0)
        later = T0 + timedelta(minutes=15)
        fresh = [("start", "tab.hidden", 0), ("instant", "clipboard.copy", 0)]
        pipeline.ingest(uow, attempt, browser.messages(fresh, later), later)
        stored = [{"seq": 4, "kind": "tab.hidden", "phase": "start", "ends": None}]
        read, _ = pipeline.needed_episodes(uow, attempt_id, policy, [4], [])
        assert [(e.seq, e.kind) for e in read] == [(4, "tab.hidden")]
        assert pipeline.evaluate(uow, attempt, later, stored=stored) == []  # fired already
        everything = pipeline.episodes(uow, attempt_id)
        assert sorted(e.seq for e in everything) == [1, 3, 4, 5]


def test_an_end_of_another_kind_leaves_the_episode_open_for_later_decisions(
    db: BoundDatabase, tenant: Tenant
) -> None:
    """The latest end naming a start decides: a matching end then one of
    another kind leave the episode open, and a heartbeat once it has lasted
    long enough fires, as reading the whole stream would."""
    policy = Policy.model_validate(
        {
            "name": "custom",
            "detectors": DETECTORS,
            "rules": [
                {
                    "id": "away",
                    "kind": "face.none",
                    "severity": "medium",
                    "action": "flag",
                    "message": "away",
                    "min_duration_seconds": 10,
                }
            ],
        }
    )
    attempt_id = uuid.UUID(attempt_factory(db, tenant))
    browser = Browser(attempt_id)
    with db.unit_of_work(tenant.id) as uow:
        attempt = uow.get(Attempt, attempt_id)
        attempt.policy = policy.model_dump(mode="json")
        attempt.started_at = T0  # the clock these steps run on (events must lie after it)
        for second, spec in enumerate(
            [("start", "face.none", 0), ("end", 0, True, 0), ("end", 0, False, 0)], start=1
        ):
            now = T0 + timedelta(seconds=second)
            assert pipeline.ingest(uow, attempt, browser.messages([spec], now), now).actions == []
        assert pipeline.evaluate(uow, attempt, T0 + timedelta(seconds=5)) == []
        later = T0 + timedelta(seconds=30)
        [flag] = pipeline.evaluate(uow, attempt, later)
        assert (flag.rule_id, flag.episode_seq) == ("away", 1)
        assert decide(policy, every_episode(uow, attempt_id), later, set())[0].rule_id == "away"


def test_a_policy_is_validated_once_and_never_served_stale() -> None:
    attempt = Attempt(id=uuid.uuid4(), tenant_id=uuid.uuid4())
    attempt.policy = PRESETS["strict"].model_dump(mode="json")
    first = pipeline.policy_of(attempt)
    assert pipeline.policy_of(attempt) is first  # validated once
    attempt.policy["name"] = "changed in place"
    assert pipeline.policy_of(attempt).name == "changed in place"
    attempt.policy = PRESETS["practice"].model_dump(mode="json")
    assert pipeline.policy_of(attempt).name == "practice"
    attempt.policy = None
    assert pipeline.policy_of(attempt).name == "standard"


def test_frozen_policies_are_shared_per_exam_version_only_while_equal() -> None:
    """Attempts of one exam version share a validated policy, but an attempt
    whose stored policy differs (frozen before a preset changed) gets its own."""

    def running(preset: str) -> pipeline.Running:
        return pipeline.Running(
            tenant_id=tenant,
            id=uuid.uuid4(),
            exam_id=exam,
            exam_version=1,
            policy=PRESETS[preset].model_dump_json(),  # as the database prints it
            deadline=None,
            last_seq=0,
            events_last_seq=0,
            events_head=None,
            integrity="clear",
        )

    tenant, exam = uuid.uuid4(), uuid.uuid4()
    strict, practice, again = running("strict"), running("practice"), running("strict")
    assert pipeline.policy_of(strict).name == "strict"
    assert pipeline.policy_of(again) is pipeline.policy_of(strict)  # validated once
    assert pipeline.policy_of(practice).name == "practice"
    assert pipeline.policy_of(strict).name == "strict"
    renamed = running("strict")
    renamed.policy = (renamed.policy or "").replace('"name":"strict"', '"name":"renamed"', 1)
    assert pipeline.policy_of(renamed).name == "renamed"  # its text differs: validated anew
    row = Attempt(id=uuid.uuid4(), tenant_id=tenant, exam_id=exam, exam_version=1)
    row.policy = PRESETS["practice"].model_dump(mode="json")
    assert pipeline.policy_of(row).name == "practice"  # a row's dict is not matched to text
    assert pipeline.policy_of(strict).name == "strict"


def test_a_policys_read_plan_is_its_own_even_when_an_id_is_reused() -> None:
    """The read's kinds, reaches and timed kinds are worked out once per
    policy object, keyed by its id; an entry left by another policy under
    that id (a freed object's id reused) is never served."""
    from invigil.proctoring import decisions

    strict, practice = PRESETS["strict"], PRESETS["practice"]
    plan = decisions._plan(strict)
    assert decisions._plan(strict) is plan
    assert plan.kinds == sorted({r.kind for r in strict.rules})
    decisions._PLANS[id(practice)] = (strict, plan)  # as if practice took strict's old id
    assert decisions._plan(practice).kinds == sorted({r.kind for r in practice.rules})
    assert decisions._plan(practice).kinds != plan.kinds
