"""decide / replay / explain: the semantics of docs/proctoring.md ("The
policy"), case by case, then as properties over random policies and
timelines (against a brute-force reading of the definition)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invigil.proctoring.engine import needed, reach, timed
from invigil.proctoring.policy import (
    PRESETS,
    Decision,
    Episode,
    Policy,
    decide,
    explain,
    replay,
)

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
NOBODY = {"face": False, "audio": False, "focus": True, "fullscreen": False}
DETECTORS = {**NOBODY, "devtools": False, "clipboard": True, "screen": False}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def closed(seq: int, kind: str, start: float, end: float) -> Episode:
    return Episode(seq, kind, at(start), at(end))


def opened(seq: int, kind: str, start: float) -> Episode:
    return Episode(seq, kind, at(start), None)


def instant(seq: int, kind: str, start: float) -> Episode:
    return Episode(seq, kind, at(start), at(start), instant=True)


def policy(*rules: dict[str, Any]) -> Policy:
    return Policy.model_validate(
        {
            "name": "test",
            "detectors": DETECTORS,
            "rules": [
                {"id": f"r{i}", "severity": "medium", "action": "flag", "message": "m", **r}
                for i, r in enumerate(rules)
            ],
        }
    )


def fires(p: Policy, episodes: list[Episode], now: float, fired: Any = frozenset()) -> list[Any]:
    return [(d.rule_id, d.episode_seq) for d in decide(p, episodes, at(now), fired)]


# --- duration -----------------------------------------------------------------


def test_min_duration_is_judged_at_the_end() -> None:
    p = policy({"kind": "tab.hidden", "min_duration_seconds": 30})
    assert fires(p, [closed(1, "tab.hidden", 0, 29.999)], now=500) == []
    assert fires(p, [closed(1, "tab.hidden", 0, 30)], now=500) == [("r0", 1)]


def test_an_open_episode_qualifies_once_it_has_lasted_long_enough() -> None:
    p = policy({"kind": "tab.hidden", "min_duration_seconds": 30})
    episodes = [opened(1, "tab.hidden", 10)]
    assert fires(p, episodes, now=39.5) == []
    assert fires(p, episodes, now=40) == [("r0", 1)]
    assert fires(p, episodes, now=90, fired={("r0", 1)}) == []


def test_no_min_duration_fires_at_the_start_and_on_instants() -> None:
    p = policy({"kind": "tab.hidden"}, {"kind": "clipboard.copy"})
    assert fires(p, [opened(1, "tab.hidden", 5), instant(2, "clipboard.copy", 6)], now=5) == [
        ("r0", 1),
        ("r1", 2),
    ]


def test_clocks_that_disagree_never_make_a_negative_duration() -> None:
    p = policy({"kind": "tab.hidden"})
    # The browser's start is ahead of the server's clock; an end before its start.
    assert fires(p, [opened(1, "tab.hidden", 10), closed(2, "tab.hidden", 5, 4)], now=9) == [
        ("r0", 2),
        ("r0", 1),
    ]


# --- counting -----------------------------------------------------------------


def test_count_without_window_fires_from_the_count_th_episode_on() -> None:
    p = policy({"kind": "tab.hidden", "count": 3})
    episodes = [closed(s, "tab.hidden", s * 100, s * 100 + 1) for s in range(1, 6)]
    decisions = decide(p, episodes, at(10_000), frozenset())
    assert [d.episode_seq for d in decisions] == [3, 4, 5]
    assert [d.related for d in decisions] == [(1, 2, 3), (2, 3, 4), (3, 4, 5)]


def test_only_episodes_long_enough_are_counted() -> None:
    p = policy({"kind": "tab.hidden", "count": 2, "min_duration_seconds": 10})
    episodes = [
        closed(1, "tab.hidden", 0, 20),
        closed(2, "tab.hidden", 30, 35),  # too short: neither fires nor counts
        closed(3, "tab.hidden", 40, 55),
    ]
    assert fires(p, episodes, now=100) == [("r0", 3)]
    assert decide(p, episodes, at(100), frozenset())[0].related == (1, 3)


def test_count_within_a_sliding_window() -> None:
    p = policy({"kind": "tab.hidden", "count": 3, "window_seconds": 600})
    starts = {1: 0, 2: 200, 3: 500, 4: 650, 5: 1300, 6: 1800, 7: 1900}
    episodes = [instant_like(s, t) for s, t in starts.items()]
    # 3: [0, 200, 500]; 4: [200, 500, 650]; 5 alone in [700, 1300]; 7: [1300, 1800, 1900]
    decisions = decide(p, episodes, at(5000), frozenset())
    assert [(d.episode_seq, d.related) for d in decisions] == [
        (3, (1, 2, 3)),
        (4, (2, 3, 4)),
        (7, (5, 6, 7)),
    ]


def test_the_window_includes_its_edge() -> None:
    p = policy({"kind": "tab.hidden", "count": 2, "window_seconds": 60})
    assert fires(p, [instant_like(1, 0), instant_like(2, 60)], now=100) == [("r0", 2)]
    assert fires(p, [instant_like(1, 0), instant_like(2, 60.001)], now=100) == []


def test_episodes_that_start_together_are_counted_in_seq_order() -> None:
    p = policy({"kind": "tab.hidden", "count": 2, "window_seconds": 10})
    assert fires(p, [instant_like(8, 5), instant_like(7, 5)], now=100) == [("r0", 8)]


def instant_like(seq: int, start: float) -> Episode:
    return closed(seq, "tab.hidden", start, start + 1)


# --- at most once, order ------------------------------------------------------


def test_each_rule_fires_at_most_once_per_episode_but_fired_ones_still_count() -> None:
    p = policy({"kind": "tab.hidden", "count": 2})
    episodes = [instant_like(1, 0), instant_like(2, 10), instant_like(3, 20)]
    assert fires(p, episodes, now=100, fired={("r0", 2)}) == [("r0", 3)]
    assert fires(p, episodes, now=100, fired={("r0", 2), ("r0", 3)}) == []
    assert fires(p, episodes, now=100, fired={("other", 2)}) == [("r0", 2), ("r0", 3)]


def test_decisions_come_by_episode_start_then_seq_then_rule_order() -> None:
    p = policy(
        {"kind": "tab.hidden", "action": "warn"}, {"kind": "focus.lost"}, {"kind": "tab.hidden"}
    )
    episodes = [instant_like(5, 10), closed(4, "focus.lost", 10, 11), instant_like(9, 1)]
    random.Random(4).shuffle(episodes)
    assert fires(p, episodes, now=100) == [
        ("r0", 9),
        ("r2", 9),
        ("r1", 4),
        ("r0", 5),
        ("r2", 5),
    ]


def test_kinds_without_a_rule_decide_nothing() -> None:
    p = policy({"kind": "tab.hidden"})
    assert fires(p, [instant(1, "clipboard.copy", 0), opened(2, "devtools.open", 0)], 99) == []


def test_bad_input_is_refused() -> None:
    p = policy({"kind": "tab.hidden"})
    with pytest.raises(ValueError, match="seq 1 appears twice"):
        decide(p, [instant_like(1, 0), instant_like(1, 5)], at(10), frozenset())
    with pytest.raises(ValueError, match="timezone"):
        decide(p, [], datetime(2026, 1, 1), frozenset())


def test_decision_carries_the_rule() -> None:
    p = policy({"kind": "tab.hidden", "severity": "high", "action": "warn", "message": "Stay."})
    [d] = decide(p, [instant_like(3, 0)], at(1), frozenset())
    assert d == Decision("r0", "tab.hidden", "high", "warn", 3, (3,), "Stay.")


# --- replay -------------------------------------------------------------------


def test_replay_takes_decisions_as_the_server_did() -> None:
    strict = PRESETS["strict"]
    face = opened(1, "face.none", 0)
    messages = [
        (at(0.2), face),
        (at(5), instant(2, "clipboard.copy", 4.9)),
        (at(40), Episode(1, "face.none", at(0), at(39))),
    ]
    taken = replay(strict, messages, ticks=[at(10), at(31)])
    assert [(d.rule_id, d.episode_seq) for d in taken] == [
        ("face-none-warn", 1),  # at 0.2, the start
        ("clipboard-copy-log", 2),
        ("face-none-flag", 1),  # at the tick at 31 s, while the face is still missing
    ]


def test_replay_decides_once_per_batch() -> None:
    """A start and its end received together are judged closed: a short
    episode does not fire a duration rule on its late arrival."""
    p = policy({"kind": "tab.hidden", "min_duration_seconds": 30})
    messages = [(at(100), opened(1, "tab.hidden", 0)), (at(100), closed(1, "tab.hidden", 0, 2))]
    assert replay(p, messages) == []
    # Received apart, the server saw it open for 100 s first: it fired then.
    assert [d.episode_seq for d in replay(p, [messages[0], (at(101), messages[1][1])])] == [1]


def test_ticks_at_the_time_of_a_message_come_after_it() -> None:
    p = policy({"kind": "tab.hidden", "min_duration_seconds": 30})
    messages = [(at(0), opened(1, "tab.hidden", 0)), (at(100), closed(1, "tab.hidden", 0, 2))]
    assert replay(p, messages, ticks=[at(100)]) == []  # judged closed, after 2 s
    assert [d.episode_seq for d in replay(p, messages, ticks=[at(99.9)])] == [1]


# --- explain ------------------------------------------------------------------


def test_explain_names_the_rule_its_threshold_and_the_events() -> None:
    standard = PRESETS["standard"]
    episodes = [instant_like(4, 0), instant_like(9, 100), instant_like(12, 200)]
    flag = [d for d in decide(standard, episodes, at(300), set()) if d.action == "flag"]
    assert explain(standard, flag[0]) == (
        'Rule "tab-hidden-flag" (flag, severity medium) fired because the exam tab was hidden '
        "3 times within 10 minutes (events 4, 9 and 12): "
        '"The exam tab was left 3 times within 10 minutes."'
    )
    strict = PRESETS["strict"]
    [_, long] = decide(strict, [closed(5, "fullscreen.exit", 0, 45)], at(50), set())
    assert "full screen was left for at least 30 seconds (event 5)" in explain(strict, long)
    gone = Decision("gone", "tab.hidden", "low", "log", 1, (1,), "m")
    assert "no longer in this policy" in explain(strict, gone)


def test_explain_gives_every_threshold() -> None:
    p = policy(
        {"kind": "tab.hidden", "count": 2, "min_duration_seconds": 1.5},
        {"kind": "focus.lost", "count": 2, "window_seconds": 3600},
    )
    episodes = [closed(1, "tab.hidden", 0, 2), closed(2, "tab.hidden", 5, 7)]
    [d] = decide(p, episodes, at(10), set())
    assert "hidden for at least 1.5 seconds, 2 times during the attempt (events 1 and 2)" in (
        explain(p, d)
    )
    [d] = decide(p, [closed(1, "focus.lost", 0, 1), closed(2, "focus.lost", 9, 9)], at(10), set())
    assert "lost focus 2 times within 1 hour" in explain(p, d)


# --- properties ---------------------------------------------------------------

KINDS = ("tab.hidden", "face.none", "clipboard.copy")


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    rules = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(KINDS))
        count = draw(st.integers(1, 4))
        rules.append(
            {
                "kind": kind,
                "min_duration_seconds": 0
                if kind == "clipboard.copy"
                else draw(st.sampled_from([0, 1, 5, 10])),
                "count": count,
                "window_seconds": draw(st.sampled_from([None, 3, 10, 30])) if count > 1 else None,
                "action": draw(st.sampled_from(["log", "warn", "flag"])),
            }
        )
    return policy(*rules)


@st.composite
def timelines(draw: st.DrawFn) -> list[tuple[str, int, int | None]]:
    """(kind, start, duration or None while open): whole seconds, so ties happen."""
    return draw(
        st.lists(
            st.tuples(
                st.sampled_from(KINDS),
                st.integers(0, 60),
                st.one_of(st.none(), st.integers(0, 20)),
            ),
            max_size=14,
        )
    )


def episodes_of(timeline: list[tuple[str, int, int | None]], seqs: list[int]) -> list[Episode]:
    out = []
    for seq, (kind, start, duration) in zip(seqs, timeline, strict=True):
        if kind == "clipboard.copy":
            out.append(instant(seq, kind, start))
        else:
            out.append(
                Episode(seq, kind, at(start), None if duration is None else at(start + duration))
            )
    return out


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Policy, list[Episode]]:
    timeline = draw(timelines())
    seqs = draw(st.permutations(range(1, len(timeline) + 1)))
    return draw(policies()), episodes_of(timeline, list(seqs))


def keys(decisions: list[Decision]) -> set[tuple[str, int]]:
    return {(d.rule_id, d.episode_seq) for d in decisions}


def brute_force(
    p: Policy, episodes: list[Episode], now: datetime
) -> set[tuple[str, int, tuple[int, ...]]]:
    """The definition read literally, in quadratic time."""
    out = set()
    for rule in p.rules:
        least = timedelta(seconds=rule.min_duration_seconds)
        ok = [e for e in episodes if e.kind == rule.kind and e.duration(now) >= least]
        for e in ok:
            counted = sorted(
                (
                    q
                    for q in ok
                    if q.key <= e.key
                    and (
                        rule.window_seconds is None
                        or q.started_at >= e.started_at - timedelta(seconds=rule.window_seconds)
                    )
                ),
                key=lambda q: q.key,
            )
            if len(counted) >= rule.count:
                out.add((rule.id, e.seq, tuple(q.seq for q in counted[-rule.count :])))
    return out


@given(scenarios(), st.integers(0, 90), st.randoms(use_true_random=False))
def test_decide_agrees_with_the_definition_in_any_order(
    scenario: tuple[Policy, list[Episode]], now: int, rng: random.Random
) -> None:
    p, episodes = scenario
    decisions = decide(p, episodes, at(now), frozenset())
    assert {(d.rule_id, d.episode_seq, d.related) for d in decisions} == brute_force(
        p, episodes, at(now)
    )
    assert len(decisions) == len(keys(decisions))
    shuffled = episodes[:]
    rng.shuffle(shuffled)
    assert decide(p, shuffled, at(now), frozenset()) == decisions
    order = {r.id: i for i, r in enumerate(p.rules)}
    start = {e.seq: e.key for e in episodes}
    assert decisions == sorted(decisions, key=lambda d: (start[d.episode_seq], order[d.rule_id]))


@given(scenarios(), st.integers(0, 90), st.data())
def test_fired_pairs_are_only_left_out(
    scenario: tuple[Policy, list[Episode]], now: int, data: st.DataObject
) -> None:
    p, episodes = scenario
    every = decide(p, episodes, at(now), frozenset())
    fired = data.draw(st.sets(st.sampled_from(sorted(keys(every)) or [("x", 0)])))
    assert decide(p, episodes, at(now), fired) == [
        d for d in every if (d.rule_id, d.episode_seq) not in fired
    ]


def messages_of(
    episodes: list[Episode], latency: list[int] | None = None
) -> list[tuple[datetime, Episode]]:
    """Each episode's start (or instant) message and its end message, received
    ``latency`` seconds after they happened (none: as they happened)."""
    sent: list[tuple[datetime, int, Episode]] = []
    for i, e in enumerate(episodes):
        delay = timedelta(seconds=latency[i] if latency else 0)
        if e.instant:
            sent.append((e.started_at + delay, 0, e))
            continue
        sent.append((e.started_at + delay, 0, Episode(e.seq, e.kind, e.started_at, None)))
        if e.ended_at is not None:
            sent.append((e.ended_at + delay, 1, e))
    sent.sort(key=lambda m: (m[0], m[1], m[2].seq))
    return [(t, e) for t, _, e in sent]


@settings(max_examples=150)
@given(scenarios(), st.lists(st.integers(0, 90), max_size=6))
def test_deciding_as_events_arrive_ends_where_one_decision_at_the_end_does(
    scenario: tuple[Policy, list[Episode]], ticks: list[int]
) -> None:
    p, episodes = scenario
    messages = messages_of(episodes)
    tick_times = sorted(at(t) for t in ticks)
    # The server: after each batch (messages received together) and each tick.
    times = sorted({t for t, _ in messages} | set(tick_times))
    state: dict[int, Episode] = {}
    fired: set[tuple[str, int]] = set()
    taken: list[Decision] = []
    for now in times:
        state.update((e.seq, e) for t, e in messages if t == now)
        new = decide(p, list(state.values()), now, fired)
        assert not keys(new) & fired
        fired |= keys(new)
        taken += new
    assert len(taken) == len(fired)
    assert replay(p, messages, tick_times) == taken
    if times:
        assert set(decide(p, list(state.values()), times[-1], frozenset())) == set(taken)


@given(scenarios(), st.data())
def test_late_messages_never_lose_or_repeat_a_decision(
    scenario: tuple[Policy, list[Episode]], data: st.DataObject
) -> None:
    """Received late (an end can arrive after the server judged its episode
    open for longer than it lasted), replay may fire more but never less
    than one decision at the end, and each pair once."""
    p, episodes = scenario
    latency = data.draw(
        st.lists(st.integers(0, 30), min_size=len(episodes), max_size=len(episodes))
    )
    messages = messages_of(episodes, latency)
    taken = replay(p, messages)
    assert len(taken) == len(keys(taken))
    if messages:
        final = decide(p, list({e.seq: e for _, e in messages}.values()), messages[-1][0], set())
        assert keys(final) <= keys(taken)


def with_rule(p: Policy, **change: Any) -> Policy:
    rule = p.rules[0].model_copy(update=change)
    return p.model_copy(update={"rules": [rule, *p.rules[1:]]})


@given(scenarios(), st.integers(0, 90))
def test_stricter_thresholds_fire_less(scenario: tuple[Policy, list[Episode]], now: int) -> None:
    p, episodes = scenario
    rule = p.rules[0]
    base = {d.episode_seq for d in decide(p, episodes, at(now), set()) if d.rule_id == rule.id}

    def fired_by(q: Policy) -> set[int]:
        return {d.episode_seq for d in decide(q, episodes, at(now), set()) if d.rule_id == rule.id}

    assert fired_by(with_rule(p, count=rule.count + 1)) <= base
    if rule.window_seconds is not None:
        assert fired_by(with_rule(p, window_seconds=rule.window_seconds / 2)) <= base
        assert base <= fired_by(with_rule(p, window_seconds=rule.window_seconds * 2))
        assert fired_by(with_rule(p, window_seconds=10_000)) == fired_by(
            with_rule(p, window_seconds=None)
        )
    if rule.kind != "clipboard.copy":
        assert fired_by(with_rule(p, min_duration_seconds=rule.min_duration_seconds + 3)) <= base


@given(scenarios(), st.integers(0, 90), st.integers(0, 30), timelines())
def test_more_time_or_more_episodes_never_take_a_decision_back(
    scenario: tuple[Policy, list[Episode]],
    now: int,
    later: int,
    extra: list[tuple[str, int, int | None]],
) -> None:
    p, episodes = scenario
    base = keys(decide(p, episodes, at(now), set()))
    assert base <= keys(decide(p, episodes, at(now + later), set()))
    more = episodes + episodes_of(extra, [100 + i for i in range(len(extra))])
    assert base <= keys(decide(p, more, at(now), set()))


# --- deciding on part of the stream -------------------------------------------------


def seqs(episodes: list[Episode]) -> list[int]:
    return sorted(e.seq for e in episodes)


def test_reach_is_the_longest_window_none_without_one_zero_when_counting_one() -> None:
    p = policy(
        {"kind": "tab.hidden", "count": 3, "window_seconds": 60},
        {"kind": "tab.hidden", "count": 2, "window_seconds": 600},
        {"kind": "tab.hidden"},
        {"kind": "focus.lost", "min_duration_seconds": 5},
        {"kind": "clipboard.copy", "count": 3},
    )
    assert reach(p, "tab.hidden") == timedelta(seconds=600)
    assert reach(p, "focus.lost") == timedelta(0)
    assert reach(p, "clipboard.copy") is None
    assert timed(p) == {"focus.lost"}
    strict = PRESETS["strict"]
    assert timed(strict) == {"face.none", "fullscreen.exit"}
    assert reach(strict, "fullscreen.exit") is None  # left 3 times, in the whole attempt
    assert reach(strict, "focus.lost") == timedelta(minutes=10)


def test_needed_reads_a_kind_back_as_far_as_its_rules_look() -> None:
    p = policy(
        {"kind": "tab.hidden", "count": 2, "window_seconds": 10},
        {"kind": "clipboard.copy"},
    )
    history = [
        closed(1, "tab.hidden", 0, 1),
        closed(2, "tab.hidden", 20, 21),
        instant(3, "clipboard.copy", 22),
        closed(4, "tab.hidden", 25, 26),
        closed(5, "focus.lost", 26, 27),  # no rule
        closed(6, "tab.hidden", 30, 31),
    ]
    assert seqs(needed(p, history, {6})) == [2, 4, 6]  # back 10 s from 30, inclusive
    assert seqs(needed(p, history, {3})) == [3]  # one copy counts alone
    assert needed(p, history, {5}) == []  # nothing to decide
    assert needed(p, history, set(), {4}) == []  # an end changes nothing without a duration


def test_needed_reads_a_whole_kind_when_a_rule_counts_over_the_attempt() -> None:
    p = policy({"kind": "clipboard.copy", "count": 3})
    history = [instant(i, "clipboard.copy", 100 * i) for i in range(1, 6)]
    assert seqs(needed(p, history, {5})) == [1, 2, 3, 4, 5]


def test_needed_follows_open_and_ended_episodes_of_kinds_with_a_duration() -> None:
    p = policy({"kind": "face.none", "min_duration_seconds": 30}, {"kind": "tab.hidden"})
    history = [
        opened(1, "face.none", 0),  # may reach 30 s whenever the server decides
        closed(2, "face.none", 100, 140),
        closed(3, "face.none", 200, 201),
        closed(4, "tab.hidden", 300, 301),
    ]
    assert seqs(needed(p, history, set())) == [1, 2, 3]  # a heartbeat: from the open one on
    closed_first = [closed(1, "face.none", 0, 5), *history[1:]]
    assert seqs(needed(p, closed_first, set(), {2})) == [2, 3]  # its end arrived
    assert needed(p, closed_first, set()) == []


@st.composite
def streams(draw: st.DrawFn) -> tuple[Policy, list[tuple[datetime, Episode]], list[datetime]]:
    """A policy, messages as the server receives them (late ones too, and ends
    of another kind that leave an episode open again) and times it decides
    without a message."""
    p, episodes = draw(scenarios())
    latency = draw(st.lists(st.integers(0, 30), min_size=len(episodes), max_size=len(episodes)))
    messages = messages_of(episodes, latency)
    for e in episodes:
        if e.ended_at is not None and not e.instant and draw(st.booleans()):
            reopened = e.ended_at + timedelta(seconds=draw(st.integers(0, 40)))
            messages.append((reopened, Episode(e.seq, e.kind, e.started_at, None)))
    messages.sort(key=lambda m: m[0])
    ticks = [at(t) for t in draw(st.lists(st.integers(0, 150), max_size=8))]
    return p, messages, ticks


@settings(max_examples=300)
@given(streams())
def test_deciding_on_the_needed_episodes_takes_every_decision_a_full_read_does(
    stream: tuple[Policy, list[tuple[datetime, Episode]], list[datetime]],
) -> None:
    """At each batch and tick, decide over needed() == decide over everything
    (with the same pairs fired before): the pipeline's bounded reads lose and
    add nothing."""
    p, messages, ticks = stream
    state: dict[int, Episode] = {}
    fired: set[tuple[str, int]] = set()
    taken: list[Decision] = []
    for now in sorted({t for t, _ in messages} | set(ticks)):
        new: set[int] = set()
        ended: set[int] = set()
        for t, e in messages:
            if t == now:
                (ended if e.seq in state else new).add(e.seq)
                state[e.seq] = e
        everything = list(state.values())
        full = decide(p, everything, now, fired)
        part = needed(p, everything, new, ended)
        assert decide(p, part, now, fired) == full
        fired |= keys(full)
        taken += full
    assert replay(p, messages, ticks) == taken  # and the explanation replays them
