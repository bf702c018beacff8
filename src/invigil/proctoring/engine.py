"""Deciding: which rules of a policy fire for the episodes of an attempt.

Pure functions of their arguments (no clock, no database), so the server's
decisions can be replayed and explained later from the frozen policy and
the stored events.

Why decisions made bit by bit agree with one made at the end: an episode's
duration only grows while it is open, and one that started earlier has
lasted at least as long as a later one; so once an episode qualifies, every
episode before it that ever will has already qualified, and counts only
grow as episodes arrive. (A browser's end time earlier than the server's
clock when it was judged open can make an episode fire while open that
would not have fired judged at its end: the server acts on what it knows.)

Deciding on part of the stream (:func:`needed`): the server need not read
every episode each time. A rule's verdict on an episode depends only on the
episodes of its kind that started at most its window before it (all of them
for a count without a window), and on the time only through open episodes
of kinds with a minimum duration. Read, per kind, every episode that started
no earlier than that reach before the earliest episode that is new, has
ended (kinds with a minimum duration) or is still open (same), and
:func:`decide` gives the same new decisions as over the whole stream: the
read episodes are the latest of their kind, so a verdict reached on them is
the whole stream's, and the verdicts on earlier episodes, which may come out
short, cannot have changed since the last decision, which took them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from invigil.proctoring.rules import KIND_PHRASES, Policy, Rule

ZERO = timedelta(0)


@dataclass(frozen=True)
class Episode:
    """An observed condition: a start with its end (``ended_at`` None while
    open), or an instant event (``ended_at == started_at``)."""

    seq: int  # the seq of the start (or instant) message
    kind: str
    started_at: datetime
    ended_at: datetime | None
    instant: bool = False

    def duration(self, now: datetime) -> timedelta:
        """How long it lasted (so far, while open); never negative, whatever
        the clocks said."""
        if self.instant:
            return ZERO
        end = self.ended_at if self.ended_at is not None else now
        return max(end - self.started_at, ZERO)

    @property
    def key(self) -> tuple[datetime, int]:
        return (self.started_at, self.seq)


@dataclass(frozen=True)
class Decision:
    rule_id: str
    kind: str
    severity: str
    action: str
    episode_seq: int  # the episode that made the rule fire
    related: tuple[int, ...]  # the episodes counted, oldest first, ending with episode_seq
    message: str
    # The starts of the first and the last episode counted: the firing's
    # window, by which firings of one rule merge into one flag (:func:`runs`).
    since: datetime | None = field(default=None, compare=False)
    until: datetime | None = field(default=None, compare=False)


def decide(
    policy: Policy,
    episodes: Sequence[Episode],
    now: datetime,
    fired: Set[tuple[str, int]],
) -> list[Decision]:
    """The new decisions, given every episode known so far (in any order),
    the time now and the (rule id, episode seq) pairs that already fired.

    A rule fires for an episode of its kind that lasted at least
    ``min_duration_seconds`` (while open: ``now - started_at``) and is, in
    (start, seq) order among such episodes, the ``count``-th or later of
    the attempt, or of those that started within ``window_seconds`` before
    it. ``related`` lists the ``count`` episodes that met the threshold.
    Decisions come ordered by (episode start, seq, rule order).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    by_kind: dict[str, list[Episode]] = {}
    seqs: set[int] = set()
    for e in episodes:
        if e.seq in seqs:
            raise ValueError(f"episode seq {e.seq} appears twice")
        seqs.add(e.seq)
        by_kind.setdefault(e.kind, []).append(e)
    for group in by_kind.values():
        group.sort(key=lambda e: e.key)

    found: list[tuple[tuple[datetime, int], int, Decision]] = []
    for order, rule in enumerate(policy.rules):
        for episode, counted in _fires(rule, by_kind.get(rule.kind, []), now):
            if (rule.id, episode.seq) in fired:
                continue
            decision = Decision(
                rule_id=rule.id,
                kind=rule.kind,
                severity=rule.severity,
                action=rule.action,
                episode_seq=episode.seq,
                related=tuple(e.seq for e in counted),
                message=rule.message,
                since=counted[0].started_at,
                until=counted[-1].started_at,
            )
            found.append((episode.key, order, decision))
    found.sort(key=lambda f: (f[0], f[1]))
    return [d for _, _, d in found]


def _fires(
    rule: Rule, episodes: list[Episode], now: datetime
) -> list[tuple[Episode, list[Episode]]]:
    """The episodes (sorted by key) for which ``rule`` holds, with the
    episodes counted for each."""
    least = timedelta(seconds=rule.min_duration_seconds)
    qualifying = [e for e in episodes if e.duration(now) >= least]
    starts = [e.started_at for e in qualifying]
    window = None if rule.window_seconds is None else timedelta(seconds=rule.window_seconds)
    out = []
    for i, episode in enumerate(qualifying):
        first = 0 if window is None else bisect_left(starts, episode.started_at - window)
        if i - first + 1 >= rule.count:
            counted = qualifying[i - rule.count + 1 : i + 1]
            out.append((episode, counted))
    return out


def runs(decisions: Sequence[Decision]) -> list[list[Decision]]:
    """The decisions grouped into episodes: per rule, in order of their
    windows (``since`` to ``until``), those whose windows overlap or touch
    the run so far. One run of full-screen exits counted 3 within a window
    (events 1, 5, 8; then 5, 8, 12; ...) is one episode, whatever the number
    of firings. Decisions without a window are each their own. Runs come
    ordered by their first decision's window, then rule."""
    by_rule: dict[str, list[Decision]] = {}
    alone: list[list[Decision]] = []
    for d in decisions:
        if d.since is None or d.until is None:
            alone.append([d])
        else:
            by_rule.setdefault(d.rule_id, []).append(d)
    out: list[list[Decision]] = []
    for group in by_rule.values():
        group.sort(key=lambda d: (d.since, d.until, d.episode_seq))
        reach: datetime | None = None
        for d in group:
            assert d.since is not None and d.until is not None
            if reach is not None and d.since <= reach:
                out[-1].append(d)
                reach = max(reach, d.until)
            else:
                out.append([d])
                reach = d.until
    out.sort(key=lambda run: (run[0].since, run[0].rule_id))
    return out + alone


def reach(policy: Policy, kind: str) -> timedelta | None:
    """How far before an episode of ``kind`` its rules look: the longest
    window among them, zero when each counts one episode, None when one
    counts over the whole attempt."""
    out = ZERO
    for rule in policy.rules_for(kind):
        if rule.count > 1:
            if rule.window_seconds is None:
                return None
            out = max(out, timedelta(seconds=rule.window_seconds))
    return out


def timed(policy: Policy) -> frozenset[str]:
    """The kinds with a minimum-duration rule: their open episodes change
    verdicts as time passes, and an end can change them."""
    return frozenset(r.kind for r in policy.rules if r.min_duration_seconds > 0)


def needed(
    policy: Policy, episodes: Sequence[Episode], new: Set[int], ended: Set[int] = frozenset()
) -> list[Episode]:
    """The episodes :func:`decide` must see to take every new decision, when
    the decisions on ``episodes`` were taken before the episodes ``new``
    arrived and those ``ended`` got their end (seqs) and some time passed.

    Per kind with a rule: the earliest start among the kind's new episodes,
    its ended ones (if the kind is :func:`timed`) and its open ones (same);
    then every episode of the kind from its :func:`reach` before that on.
    """
    slow = timed(policy)
    earliest: dict[str, datetime] = {}
    for e in episodes:
        moved = e.seq in new or (
            e.kind in slow and (e.seq in ended or (e.ended_at is None and not e.instant))
        )
        if moved and (e.kind not in earliest or e.started_at < earliest[e.kind]):
            earliest[e.kind] = e.started_at
    since: dict[str, datetime | None] = {}
    for kind, first in earliest.items():
        if policy.rules_for(kind):
            back = reach(policy, kind)
            since[kind] = None if back is None else first - back
    out = []
    for e in episodes:
        if e.kind in since:
            bound = since[e.kind]
            if bound is None or e.started_at >= bound:
                out.append(e)
    return out


def replay(
    policy: Policy,
    messages: Sequence[tuple[datetime, Episode]],
    ticks: Sequence[datetime] = (),
) -> list[Decision]:
    """The decisions as the server took them, in the order it took them.

    ``messages`` are (receive time, the episode's state after that message)
    in receive order; an end message repeats its episode with ``ended_at``
    set. Messages received at the same time are one batch: after each batch,
    and at each of ``ticks`` (times the server decided without a message,
    e.g. on noticing a silent client), :func:`decide` runs at that time with
    everything fired so far.
    """
    pending = sorted(ticks)
    batches: list[tuple[datetime, list[Episode]]] = []
    for at, episode in messages:
        while pending and pending[0] < at:
            batches.append((pending.pop(0), []))
        if batches and batches[-1][0] == at and batches[-1][1]:
            batches[-1][1].append(episode)
        else:
            batches.append((at, [episode]))
    batches.extend((at, []) for at in pending)
    state: dict[int, Episode] = {}
    fired: set[tuple[str, int]] = set()
    out: list[Decision] = []
    for at, batch in batches:
        state.update((e.seq, e) for e in batch)
        for decision in decide(policy, list(state.values()), at, fired):
            fired.add((decision.rule_id, decision.episode_seq))
            out.append(decision)
    return out


def explain(policy: Policy, decision: Decision) -> str:
    """One plain sentence naming the rule, its threshold and the events, e.g.
    'Rule "tab-hidden-flag" (flag, severity medium) fired because the exam
    tab was hidden 3 times within 10 minutes (events 4, 9 and 12): "The
    exam tab was left 3 times within 10 minutes."'"""
    rule = policy.rule(decision.rule_id)
    what = KIND_PHRASES.get(decision.kind, f"{decision.kind} was reported")
    if rule is not None:
        if rule.min_duration_seconds:
            what += f" for at least {span(rule.min_duration_seconds)}"
        if rule.count > 1:
            what += f"{',' if rule.min_duration_seconds else ''} {rule.count} times"
            what += (
                f" within {span(rule.window_seconds)}"
                if rule.window_seconds is not None
                else " during the attempt"
            )
    seqs = [str(s) for s in decision.related] or [str(decision.episode_seq)]
    events = f"event {seqs[0]}" if len(seqs) == 1 else f"events {_and(seqs)}"
    missing = "" if rule is not None else " (a rule no longer in this policy)"
    return (
        f'Rule "{decision.rule_id}"{missing} ({decision.action}, severity {decision.severity}) '
        f'fired because {what} ({events}): "{decision.message}"'
    )


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def span(seconds: float) -> str:
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    n_text = f"{seconds:g}"
    return f"{n_text} second{'' if n_text == '1' else 's'}"
