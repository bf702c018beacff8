"""Deciding on an attempt's events and taking the actions (the pipeline's
second half; :mod:`invigil.proctoring.pipeline` stores the events).

Each time, the server reads only the episodes that can lead to a new
decision (:func:`invigil.proctoring.engine.needed`: the kinds a batch
touched, back as far as their rules look, and the open episodes of kinds
with a minimum duration), with what already fired for them, and decides as
one reading of the whole stream would. A batch's actions are stored in one
statement and audited in another (:func:`invigil.audit.record_many`).

These statements run on the driver's cursor: they run for every batch, their
text never changes (psycopg prepares them), and rows travel as one JSON
parameter rather than as SQLAlchemy parameter sets.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from invigil import audit
from invigil.audit.log import Entry
from invigil.db.parameters import json_rows
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery.models import Attempt
from invigil.proctoring import engine
from invigil.proctoring import policy as pol


@dataclass
class Running:
    """A running attempt as the events hot path holds it: found, locked and
    touched by one statement (``events_api.heard_events``), with what the
    pipeline and the policy read and change -- not an ORM row. :func:`keep`
    writes what changed; an ``auto_submit`` loads the row to submit it."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    exam_id: uuid.UUID
    exam_version: int
    # The frozen policy, as the database prints it (jsonb's text): matching it
    # against the text of the one already validated costs far less than
    # decoding it for every batch (see policy_of).
    policy: str | None
    deadline: datetime | None
    last_seq: int
    events_last_seq: int
    events_head: str | None
    integrity: str
    last_seen_at: datetime | None = None
    status: str = "in_progress"
    silent_seq: int | None = None
    known: Mapping[int, str] | None = None  # stored hashes of the seqs a batch needs
    started_at: datetime | None = None
    grace_seconds: int = 0
    _kept: tuple[Any, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        self._kept = self._changeable()

    def _changeable(self) -> tuple[Any, ...]:
        return (self.events_last_seq, self.events_head, self.integrity)


_KEEP = """
    UPDATE attempts SET events_last_seq = %(seq)s, events_head = %(head)s, integrity = %(integrity)s
    WHERE tenant_id = %(tenant)s AND id = %(id)s
"""


def keep(uow: UnitOfWork, attempt: Attempt | Running) -> None:
    """Write the attempt's changes now: a row is flushed; a :class:`Running`
    is updated in one statement, when something changed."""
    if not isinstance(attempt, Running):
        uow.flush()
        return
    now = attempt._changeable()
    if now != attempt._kept:
        seq, head, integrity = now
        params = {"seq": seq, "head": head, "integrity": integrity}
        cursor(uow).execute(_KEEP, params | {"tenant": uow.tenant, "id": attempt.id})
        attempt._kept = now


# Policies frozen into attempts, validated once per process: validating one
# costs about as much as deciding on a typical batch. Attempts of one exam
# version freeze the same policy (its settings'), so they share an entry; a
# hit needs the attempt's stored policy to be equal to the one validated: the
# same dict for a row, the same text for a Running (they are kept apart).
_POLICIES: dict[tuple[uuid.UUID, uuid.UUID, int, bool], tuple[Any, pol.Policy]] = {}
_POLICIES_KEPT = 4096


def policy_of(attempt: Attempt | Running) -> pol.Policy:
    frozen: dict[str, Any] | str | None = attempt.policy
    if not frozen:
        return pol.PRESETS["standard"]
    key = (attempt.tenant_id, attempt.exam_id, attempt.exam_version, isinstance(frozen, str))
    known = _POLICIES.get(key)
    if known is not None and known[0] == frozen:
        return known[1]
    kept: dict[str, Any] | str = frozen
    if isinstance(frozen, str):
        policy = pol.Policy.model_validate(json.loads(frozen))
    else:
        policy, kept = pol.Policy.model_validate(frozen), copy.deepcopy(frozen)  # not the row's
    if len(_POLICIES) >= _POLICIES_KEPT:
        _POLICIES.clear()
    _POLICIES[key] = (kept, policy)
    return policy


def cursor(uow: UnitOfWork) -> Any:
    """The driver's cursor, in the unit of work's transaction. Flushes first,
    as SQLAlchemy would before a query (a server event may be pending)."""
    if uow.session.new:
        uow.flush()
    return uow.driver().cursor()


# An episode: a start (with its latest end, if any) or an instant. The
# latest end comes from ix_proctoring_events_ends, in seq order.
_EPISODE = "s.seq, s.kind, s.phase, s.at, e.kind, e.at"
_LATEST_END = """
    SELECT e.kind, e.at FROM proctoring_events AS e
    WHERE e.tenant_id = s.tenant_id AND e.attempt_id = s.attempt_id
      AND e.phase = 'end' AND e.ends = s.seq
    ORDER BY e.seq DESC LIMIT 1
"""
_ALL = f"""
    SELECT {_EPISODE} FROM proctoring_events AS s
    LEFT JOIN LATERAL ({_LATEST_END}) AS e ON true
    WHERE s.tenant_id = %(tenant)s AND s.attempt_id = %(attempt)s AND s.phase <> 'end'
    ORDER BY s.seq
"""
# engine.needed() in SQL, with what already fired for each episode read.
# ``changed``: the starts of the episodes that moved, by primary key (new, or
# recorded by the server; ended, for timed kinds) and, per timed kind, the
# open ones (ix_proctoring_events_kind: ``phase <> 'end'`` is its predicate).
# Then each kind with a rule is read, by that index, from its reach before
# the earliest of them on (OFFSET 0 keeps that a range scan per kind, whatever
# the statistics say, never one over the attempt's whole stream).
_NEEDED = f"""
    WITH reaches (kind, reach) AS (
      SELECT * FROM unnest(%(kinds)s::text[], %(reach)s::float8[])
    ),
    changed (kind, at) AS (
      SELECT s.kind, s.at FROM proctoring_events AS s
      WHERE s.tenant_id = %(tenant)s AND s.attempt_id = %(attempt)s
        AND s.seq = ANY(%(fresh)s::bigint[]) AND s.phase <> 'end'
      UNION ALL
      SELECT s.kind, s.at FROM proctoring_events AS s
      WHERE s.tenant_id = %(tenant)s AND s.attempt_id = %(attempt)s AND s.seq < 0
        AND s.phase <> 'end'
      UNION ALL
      SELECT s.kind, s.at FROM proctoring_events AS s
      WHERE s.tenant_id = %(tenant)s AND s.attempt_id = %(attempt)s
        AND s.seq = ANY(%(ended)s::bigint[]) AND s.phase = 'start'
        AND s.kind = ANY(%(timed)s::text[])
      UNION ALL
      SELECT s.kind, s.at FROM unnest(%(timed)s::text[]) AS t (kind)
      CROSS JOIN LATERAL (
        SELECT s.kind, s.at FROM proctoring_events AS s
        WHERE s.tenant_id = %(tenant)s AND s.attempt_id = %(attempt)s AND s.kind = t.kind
          AND s.phase <> 'end' AND s.phase = 'start'
          AND (SELECT e.kind FROM ({_LATEST_END}) AS e) IS DISTINCT FROM s.kind
        OFFSET 0
      ) AS s
    ),
    bounds (kind, since) AS (
      SELECT r.kind, min(c.at) - make_interval(secs => r.reach)
      FROM changed AS c JOIN reaches AS r ON r.kind = c.kind
      GROUP BY r.kind, r.reach
    )
    SELECT {_EPISODE},
      ARRAY(SELECT a.rule_id FROM proctoring_actions AS a
            WHERE a.tenant_id = s.tenant_id AND a.attempt_id = s.attempt_id
              AND a.episode_seq = s.seq)
    FROM bounds AS b
    CROSS JOIN LATERAL (
      SELECT * FROM proctoring_events AS s
      WHERE s.tenant_id = %(tenant)s AND s.attempt_id = %(attempt)s AND s.kind = b.kind
        AND s.phase <> 'end' AND s.at >= coalesce(b.since, '-infinity')
      OFFSET 0
    ) AS s
    LEFT JOIN LATERAL ({_LATEST_END}) AS e ON true
"""
# _NEEDED for several attempts at once (a group of batches, ADR 0011): each
# attempt's arguments are a row of ``work``, read by a LATERAL subquery.
_NEEDED_MANY = f"""
    SELECT w.n, x.* FROM json_to_recordset(%(work)s::json)
      AS w (n integer, attempt uuid, kinds text[], reach float8[], timed text[],
            fresh bigint[], ended bigint[])
    CROSS JOIN LATERAL ({
    _NEEDED.replace("%(attempt)s", "w.attempt")
    .replace("%(kinds)s::text[]", "w.kinds")
    .replace("%(reach)s::float8[]", "w.reach")
    .replace("%(timed)s::text[]", "w.timed")
    .replace("%(fresh)s::bigint[]", "w.fresh")
    .replace("%(ended)s::bigint[]", "w.ended")
}) AS x
"""
# A margin on each window: more episodes read never change a decision (the
# read stays the latest of each kind), and interval and timedelta round alike.
_MARGIN = 0.001


def _seconds(reach: timedelta | None) -> float | None:
    if reach is None:
        return None  # the whole attempt
    return reach.total_seconds() + _MARGIN if reach else 0.0


def _episode(
    seq: int, kind: str, phase: str, at: datetime, end_kind: str | None, end_at: datetime | None
) -> pol.Episode:
    if phase == "instant":
        return pol.Episode(seq, kind, at, at, instant=True)
    ended = max(end_at, at) if end_kind == kind and end_at is not None else None
    return pol.Episode(seq, kind, at, ended)


def episodes(uow: UnitOfWork, attempt_id: uuid.UUID) -> list[pol.Episode]:
    """Every episode of an attempt: starts with their ends, and instants."""
    rows = cursor(uow).execute(_ALL, {"tenant": uow.tenant, "attempt": attempt_id})
    return [_episode(*row) for row in rows]


@dataclass(frozen=True)
class _Plan:
    """What a policy's read needs, worked out once per policy object."""

    kinds: list[str]  # the kinds with a rule, sorted
    ruled: frozenset[str]  # the same, to look up
    reach: list[float | None]  # each kind's reach in seconds (None: the whole attempt)
    timed: list[str]  # engine.timed(), sorted


_PLANS: dict[int, tuple[pol.Policy, _Plan]] = {}  # id -> (the policy, kept alive; its plan)


def _plan(policy: pol.Policy) -> _Plan:
    known = _PLANS.get(id(policy))
    if known is not None and known[0] is policy:
        return known[1]
    kinds: list[str] = sorted({r.kind for r in policy.rules})
    reach = [_seconds(engine.reach(policy, k)) for k in kinds]
    plan = _Plan(kinds, frozenset(kinds), reach, sorted(engine.timed(policy)))
    if len(_PLANS) >= _POLICIES_KEPT:
        _PLANS.clear()
    _PLANS[id(policy)] = (policy, plan)
    return plan


def needed_episodes(
    uow: UnitOfWork,
    attempt_id: uuid.UUID,
    policy: pol.Policy,
    fresh: Sequence[int] = (),
    ended: Sequence[int] = (),
) -> tuple[list[pol.Episode], set[tuple[str, int]]]:
    """:func:`invigil.proctoring.engine.needed` over the stored stream: the
    episodes that can lead to a new decision after the starts and instants
    ``fresh`` were stored and the ends naming ``ended``, with the (rule,
    episode) pairs that already fired for them. Episodes the server recorded
    always count as new: they are few, and are written by callers that decide
    after them (notice_silence, the snapshot re-check) or that may not (touch,
    on a heartbeat before the first client message)."""
    return needed_many(uow, [Needed(attempt_id, policy, fresh, ended)])[0]


@dataclass(frozen=True)
class Needed:
    """One attempt's question to :func:`needed_many` (see :func:`needed_episodes`)."""

    attempt_id: uuid.UUID
    policy: pol.Policy
    fresh: Sequence[int] = ()
    ended: Sequence[int] = ()


def needed_many(
    uow: UnitOfWork, asks: Sequence[Needed]
) -> list[tuple[list[pol.Episode], set[tuple[str, int]]]]:
    """:func:`needed_episodes` for several attempts, in one statement."""
    work = []
    for n, ask in enumerate(asks):
        plan = _plan(ask.policy)
        work.append(
            {
                "n": n,
                "attempt": str(ask.attempt_id),
                "kinds": plan.kinds,
                "reach": plan.reach,
                "timed": plan.timed,
                "fresh": list(ask.fresh),
                "ended": list(ask.ended),
            }
        )
    out: list[tuple[list[pol.Episode], set[tuple[str, int]]]] = [([], set()) for _ in asks]
    if not work:
        return out
    params = {"tenant": uow.tenant, "work": json_rows(work)}
    for n, *row, rules in cursor(uow).execute(_NEEDED_MANY, params):
        found, fired = out[n]
        found.append(_episode(*row))
        fired.update((rule, row[0]) for rule in rules)
    return out


def evaluate(
    uow: UnitOfWork,
    attempt: Attempt | Running,
    now: datetime,
    *,
    stored: Sequence[Mapping[str, Any]] = (),
) -> list[pol.Decision]:
    """Decide and take the new actions (returned), after the client messages
    ``stored`` (their seq, kind, phase and ends) were stored, or after the
    server recorded events or time passed (``stored`` empty: a heartbeat, a
    silence, a re-check). Decides as one reading of every episode would."""
    policy = policy_of(attempt)
    return _take(uow, attempt, policy, _decide_many(uow, [(attempt, policy, stored)], now)[0])


@dataclass(frozen=True)
class Evaluation:
    """One attempt's part of :func:`evaluate_many`: the attempt, the client
    messages just stored for it, and who sent them (its entries' actor)."""

    attempt: Attempt | Running
    stored: Sequence[Mapping[str, Any]]
    actor: Actor


def evaluate_many(
    uow: UnitOfWork, work: Sequence[Evaluation], now: datetime
) -> list[list[pol.Decision]]:
    """:func:`evaluate` for several attempts of the unit of work's tenant in
    one transaction (the events hot path gathers candidates' batches): each
    attempt decides as it would alone, and what they take is stored in one
    statement and audited in one append, each entry by its own candidate.
    An attempt with an ``auto_submit`` to take is taken alone, in order, as
    :func:`evaluate` would (its submission follows its entries)."""
    policies = [policy_of(w.attempt) for w in work]
    asks = [(w.attempt, p, w.stored) for w, p in zip(work, policies, strict=True)]
    plans = list(zip(work, policies, _decide_many(uow, asks, now), strict=True))
    taken: list[list[pol.Decision]] = [[] for _ in work]
    together: list[int] = []
    for n, (w, policy, decided) in enumerate(plans):
        if any(d.action == "auto_submit" for d in decided):
            actor, uow.actor = uow.actor, w.actor
            try:
                taken[n] = _take(uow, w.attempt, policy, decided)
            finally:
                uow.actor = actor
        elif decided:
            together.append(n)
    fresh = _store(uow, [(plans[n][0].attempt.id, d) for n in together for d in plans[n][2]])
    entries: list[Entry] = []
    actors: list[Actor] = []
    for n in together:
        w, policy, decided = plans[n]
        taken[n] = _apply(w.attempt, [d for d in decided if (w.attempt.id, d) in fresh])
        keep(uow, w.attempt)  # before the entries: see _act
        entries += _entries(w.attempt, policy, taken[n], fresh)
        actors += [w.actor] * len(taken[n])
    audit.record_many(uow, entries, actors)
    return taken


def _decide_many(
    uow: UnitOfWork,
    asks: Sequence[tuple[Attempt | Running, pol.Policy, Sequence[Mapping[str, Any]]]],
    now: datetime,
) -> list[list[pol.Decision]]:
    """What each attempt's policy decides now, after the client messages
    ``stored`` (their seq, kind, phase and ends), from the episodes that can
    lead to a new decision, read for all of them in one statement (nothing
    is written)."""
    reads: list[Needed] = []
    which: list[int] = []
    for n, (attempt, policy, stored) in enumerate(asks):
        plan = _plan(policy)
        fresh = [m["seq"] for m in stored if m["phase"] != "end" and m["kind"] in plan.ruled]
        ended = [m["ends"] for m in stored if m["phase"] == "end"]
        if stored and not fresh and not plan.timed:
            continue  # no rule counts what came, and none judges ends or time
        reads.append(Needed(attempt.id, policy, fresh, ended))
        which.append(n)
    out: list[list[pol.Decision]] = [[] for _ in asks]
    for n, ask, (found, fired) in zip(which, reads, needed_many(uow, reads), strict=True):
        out[n] = pol.decide(ask.policy, found, now, fired)
    return out


def _take(
    uow: UnitOfWork,
    attempt: Attempt | Running,
    policy: pol.Policy,
    decisions: Sequence[pol.Decision],
) -> list[pol.Decision]:
    """Store and audit the decisions, in order: a batch of statements up to
    each auto-submit, which ends the attempt before the next are taken (as
    taking them one by one would: the seal sees the integrity so far)."""
    taken: list[pol.Decision] = []
    chunk: list[pol.Decision] = []
    for d in decisions:
        chunk.append(d)
        if d.action == "auto_submit":
            taken += _act(uow, attempt, policy, chunk)
            chunk = []
    if chunk:
        taken += _act(uow, attempt, policy, chunk)
    return taken


# A pair (rule, episode) stored already is left alone, as the unique key
# says, and not audited again. Rows of several attempts may go together.
# Each row names its flag (ADR 0023): the flag of a stored action of the same
# rule whose window overlaps or touches the row's run (the firings of this
# statement that merge with it, worked out before: the statement does not see
# its own rows), else the run's first row. The attempt's row lock, which every
# writer of its actions holds, keeps two statements from racing on one flag.
_INSERT_ACTIONS = """
    INSERT INTO proctoring_actions (tenant_id, id, attempt_id, rule_id, kind, severity, action,
                                    episode_seq, related, message, flag_id, window_start,
                                    window_end)
    SELECT %(tenant)s, r.id, r.attempt_id, r.rule_id, r.kind, r.severity, r.action,
           r.episode_seq, r.related, r.message, coalesce(m.flag, r.run), r.since, r.until
    FROM json_to_recordset(%(rows)s::json) AS r(id uuid, attempt_id uuid, rule_id text,
                                                 kind text, severity text, action text,
                                                 episode_seq bigint, related bigint[],
                                                 message text, run uuid, since timestamptz,
                                                 until timestamptz, run_since timestamptz,
                                                 run_until timestamptz)
    LEFT JOIN LATERAL (
      SELECT coalesce(p.flag_id, p.id) AS flag FROM proctoring_actions AS p
      WHERE p.tenant_id = %(tenant)s AND p.attempt_id = r.attempt_id AND p.rule_id = r.rule_id
        AND p.window_start <= r.run_until AND p.window_end >= r.run_since
      ORDER BY p.window_start, p.created_at, p.id
      LIMIT 1
    ) AS m ON true
    ON CONFLICT DO NOTHING
    RETURNING attempt_id, rule_id, episode_seq, flag_id,
              pg_notify('invigil_live', tenant_id::text || ' ' || attempt_id::text)
"""

Stored = dict[tuple[uuid.UUID, pol.Decision], uuid.UUID]  # a new action -> its flag


def _store(uow: UnitOfWork, decisions: Sequence[tuple[uuid.UUID, pol.Decision]]) -> Stored:
    """Insert the attempts' decisions in one statement; those that were new,
    each with the flag it joined or began."""
    if not decisions:
        return {}
    per_attempt: dict[uuid.UUID, list[pol.Decision]] = {}
    for attempt_id, d in decisions:
        per_attempt.setdefault(attempt_id, []).append(d)
    rows = []
    for attempt_id, mine in per_attempt.items():
        for run in engine.runs(mine):
            first = uuid.uuid4()
            since = min((d.since for d in run if d.since is not None), default=None)
            until = max((d.until for d in run if d.until is not None), default=None)
            for n, d in enumerate(run):
                rows.append(
                    {
                        "id": str(first if n == 0 else uuid.uuid4()),
                        "attempt_id": str(attempt_id),
                        "rule_id": d.rule_id,
                        "kind": d.kind,
                        "severity": d.severity,
                        "action": d.action,
                        "episode_seq": d.episode_seq,
                        "related": d.related,
                        "message": d.message,
                        "run": str(first),
                        "since": _iso(d.since),
                        "until": _iso(d.until),
                        "run_since": _iso(since),
                        "run_until": _iso(until),
                    }
                )
    params = {"tenant": uow.tenant, "rows": json_rows(rows)}
    # Each new action signals the live consoles (once per attempt: NOTIFY
    # folds a transaction's equal payloads into one).
    inserted = cursor(uow).execute(_INSERT_ACTIONS, params)
    stored = {(a, r, e): f for a, r, e, f, _signal in inserted}
    out: Stored = {}
    for a, d in decisions:
        flag = stored.get((a, d.rule_id, d.episode_seq))
        if flag is not None:
            out[(a, d)] = flag
    return out


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _apply(attempt: Attempt | Running, new: list[pol.Decision]) -> list[pol.Decision]:
    """What the new decisions do to the attempt's integrity; ``new``."""
    for d in new:
        if d.action == "flag" and attempt.integrity == "clear":
            attempt.integrity = "flagged"
        elif d.action == "provisional_fail":
            attempt.integrity = "provisional_fail"
    return new


def _entries(
    attempt: Attempt | Running, policy: pol.Policy, taken: Sequence[pol.Decision], flags: Stored
) -> list[Entry]:
    subject = ("attempt", attempt.id)
    return [
        ("proctoring.action", subject, _payload(policy, d) | {"flag": flags[(attempt.id, d)]})
        for d in taken
    ]


def _act(
    uow: UnitOfWork, attempt: Attempt | Running, policy: pol.Policy, decisions: list[pol.Decision]
) -> list[pol.Decision]:
    fresh = _store(uow, [(attempt.id, d) for d in decisions])
    new = _apply(attempt, [d for d in decisions if (attempt.id, d) in fresh])
    # The tenant's audit chain is its one point of contention: every batch
    # that acts appends to it, and holds its head until the transaction ends.
    # So the attempt's changes go first, the entries last, as near the commit
    # as this transaction's work allows (docs/adr/0010-events-hot-path.md).
    keep(uow, attempt)
    audit.record_many(uow, _entries(attempt, policy, new, fresh))
    if attempt.status == "in_progress" and any(d.action == "auto_submit" for d in new):
        from invigil.delivery.attempts import submit

        row = attempt if isinstance(attempt, Attempt) else uow.get(Attempt, attempt.id)
        submit(uow, row, "proctoring")  # its entries follow the actions'
        attempt.status = row.status
    return new


def _payload(policy: pol.Policy, d: pol.Decision) -> dict[str, Any]:
    return {
        "action": d.action,
        "rule": d.rule_id,
        "kind": d.kind,
        "severity": d.severity,
        "events": list(d.related),
        "episode": d.episode_seq,
        "policy": policy.name,
        "policy_version": policy.version,
        "explanation": pol.explain(policy, d),
    }
