"""The event pipeline: receive the browser's hash-chained messages, store them
append-only, apply the attempt's frozen policy, take the actions.

See ``docs/proctoring.md`` for the message format. In short: each message
is ``{seq, body, prev, hash}`` with ``hash = sha256(prev + body)``; the
server keeps ``body`` verbatim, checks each hash against its own ``prev``
(else the message is rejected), and marks a message ``linked`` only when
its ``prev`` is the stored hash of message ``seq - 1`` (or the attempt's
genesis for seq 1). A re-sent message is a duplicate; the same seq with
another hash is a conflict (audited, never stored over the first).

After a batch is stored, :func:`invigil.proctoring.decisions.evaluate`
applies the policy to the episodes that can lead to a new decision; each
decision is stored in ``proctoring_actions`` (unique per rule and episode,
so a decision is taken once) and written to the audit log naming the rule
and the events, in the same transaction. At submission :func:`seal` commits
the chain head to the audit log.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text

from invigil import audit, metrics
from invigil.audit.records import anchor
from invigil.db import signals
from invigil.db.engine import Database
from invigil.db.parameters import json_rows
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery.models import Attempt
from invigil.errors import Invalid
from invigil.logs import get_logger
from invigil.proctoring import policy as pol
from invigil.proctoring import records
from invigil.proctoring.decisions import Evaluation, cursor, evaluate_many, keep
from invigil.proctoring.decisions import Running as Running  # re-exported
from invigil.proctoring.decisions import episodes as episodes  # re-exported
from invigil.proctoring.decisions import evaluate as evaluate
from invigil.proctoring.decisions import needed_episodes as needed_episodes
from invigil.proctoring.decisions import policy_of as policy_of
from invigil.proctoring.models import ProctoringEvent
from invigil.security.inputs import json_problem, text_problem

log = get_logger(__name__)

MAX_BATCH = 200
MAX_SEQ = 2**62  # seq and ends: bigint columns, with room for the server's negative seqs
# How far the browser's (server-corrected) clock may be off: an event or a
# snapshot is dated within the attempt's window widened by this much.
CLOCK_TOLERANCE = timedelta(minutes=2)
MAX_BODY = 8 * 1024
MAX_DETAILS = 4 * 1024
HEX64 = re.compile(r"^[0-9a-f]{64}$")
CLIENT_KINDS = frozenset(pol.EVENT_KINDS) - {"client.silent"}
PHASES = ("start", "end", "instant")


def genesis(attempt_id: uuid.UUID) -> str:
    return hashlib.sha256(f"invigil:{attempt_id}".encode()).hexdigest()


def chain_hash(prev: str, body: str) -> str:
    return hashlib.sha256((prev + body).encode()).hexdigest()


@dataclass(frozen=True)
class Message:
    seq: int
    body: str
    prev: str
    hash: str


@dataclass
class Outcome:
    seq: int
    status: str  # stored | duplicate | conflict | rejected
    reason: str | None = None

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seq": self.seq, "status": self.status}
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class Taken:
    """What a request did: per-message outcomes and the actions decided."""

    results: list[Outcome] = field(default_factory=list)
    actions: list[pol.Decision] = field(default_factory=list)

    @property
    def warnings(self) -> list[dict[str, str]]:
        return [
            {"rule": a.rule_id, "kind": a.kind, "message": a.message}
            for a in self.actions
            if a.action == "warn"
        ]


@dataclass(frozen=True)
class Parsed:
    kind: str
    phase: str
    at: datetime
    ends: int | None
    details: dict[str, Any]


def parse(body: str) -> Parsed:
    """The event inside a message body, or :class:`Invalid` saying why not."""
    try:
        data = json.loads(body)
    except ValueError:
        raise Invalid("the body is not JSON") from None
    if not isinstance(data, dict):
        raise Invalid("the body must be a JSON object")
    kind, phase = data.get("kind"), data.get("phase")
    if kind not in CLIENT_KINDS:
        raise Invalid(f"unknown event kind {kind!r}")
    if phase not in PHASES:
        raise Invalid("phase must be start, end or instant")
    durable = kind in pol.DURABLE_KINDS
    if durable == (phase == "instant"):
        raise Invalid(f"{kind} is sent as " + ("start and end" if durable else "instant"))
    try:
        at = datetime.fromisoformat(str(data.get("at")).replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("at must be an ISO 8601 time") from None
    if at.tzinfo is None:
        raise Invalid("at must carry a time zone (e.g. Z)")
    ends = data.get("ends")
    if phase == "end":
        if type(ends) is not int or not 1 <= ends <= MAX_SEQ:
            raise Invalid(f"an end message names the seq of its start in ends (1 to {MAX_SEQ})")
    elif ends is not None:
        raise Invalid("only an end message has ends")
    details = data.get("details") or {}
    if not isinstance(details, dict):
        raise Invalid(f"details must be an object of at most {MAX_DETAILS} bytes of JSON")
    found = json_problem(details, ("details",))  # e.g. "\\u0000": no jsonb takes it
    if found is not None:
        raise Invalid(f"details {found[1]} (at {'.'.join(map(str, found[0]))})")
    if len(json.dumps(details, ensure_ascii=False).encode()) > MAX_DETAILS:
        raise Invalid(f"details must be an object of at most {MAX_DETAILS} bytes of JSON")
    return Parsed(kind, phase, at, ends, details)


def _check(message: Message) -> str | None:
    if message.seq < 1:
        return "seq starts at 1"
    if len(message.body) > MAX_BODY:
        return f"a message body has at most {MAX_BODY} characters"
    if (problem := text_problem(message.body)) is not None:
        return f"the body {problem}"
    if not HEX64.match(message.prev) or not HEX64.match(message.hash):
        return "prev and hash are 64 lowercase hex digits"
    if chain_hash(message.prev, message.body) != message.hash:
        return "hash is not sha256(prev + body)"
    return None


def outside_window(at: datetime, attempt: Attempt | Running, now: datetime) -> str | None:
    """Why ``at`` cannot be a moment of the attempt, or None: it must lie
    from the clock's start (before it: the attempt's creation) to now, or
    to the deadline plus grace if that came first, each widened by
    :data:`CLOCK_TOLERANCE`. The events hot path admits only batches that
    pass (``events_api.heard_events`` asks the same in SQL)."""
    start = attempt.started_at or getattr(attempt, "created_at", None)
    if start is not None and at < start - CLOCK_TOLERANCE:
        return f"is before the exam started ({_iso(start)}): send when it happened"
    latest = now
    if attempt.deadline is not None:
        latest = min(now, attempt.deadline + timedelta(seconds=attempt.grace_seconds))
    if at > latest + CLOCK_TOLERANCE:
        return f"is after {_iso(latest)} (the exam's time or now): send when it happened"
    return None


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def require_open(attempt: Attempt | Running) -> None:
    from invigil.delivery.attempts import AttemptClosed

    if attempt.status == "submitted":
        raise AttemptClosed("this attempt is submitted: no more events are taken")


_KNOWN = """
    SELECT seq, hash FROM proctoring_events
    WHERE tenant_id = %(tenant)s AND attempt_id = %(attempt)s AND seq = ANY(%(seqs)s::bigint[])
"""
# The rows as one JSON parameter (the text of the statement never changes, so
# psycopg prepares it), of one attempt or several; bodies are kept verbatim.
_INSERT = """
    INSERT INTO proctoring_events (tenant_id, attempt_id, seq, kind, phase, at, ends, details,
                                   body, prev, hash, linked, received_at)
    SELECT %(tenant)s, r.attempt, r.seq, r.kind, r.phase, r.at, r.ends, r.details, r.body,
           r.prev, r.hash, r.linked, %(now)s
    FROM json_to_recordset(%(rows)s::json) AS r(attempt uuid, seq bigint, kind text, phase text,
                                                 at timestamptz, ends bigint, details jsonb,
                                                 body text, prev text, hash text, linked boolean)
    ON CONFLICT DO NOTHING
    RETURNING seq
"""


class Raced(Exception):
    """A seq this transaction found free was stored by another one meanwhile
    (it read the stored hashes before that one committed): its outcomes
    would be wrong, so it is rolled back and the batch taken again."""


@dataclass(frozen=True)
class Screened:
    """A batch's messages in seq order (the last of a repeated seq kept),
    each with its event or the reason it is rejected: what can be judged
    before anything stored is read."""

    ordered: list[Message]
    events: dict[int, Parsed]  # seq -> event, for the messages that pass
    problems: dict[int, str]  # seq -> why it is rejected

    @property
    def wanted(self) -> list[int]:
        """The seqs whose stored hashes decide the outcome: each passing
        message's own (a duplicate or a conflict) and the one before it (linked)."""
        return sorted(set(self.events) | {s - 1 for s in self.events if s > 1})

    @property
    def span(self) -> tuple[datetime | None, datetime | None]:
        """The earliest and latest time of the passing messages."""
        times = [e.at for e in self.events.values()]
        return (min(times), max(times)) if times else (None, None)

    @property
    def top(self) -> Message | None:
        """The passing message with the highest seq: the attempt's new head
        when it is above the stored one (a message above the stored head is
        never stored yet, so it will be)."""
        return next((m for m in reversed(self.ordered) if m.seq in self.events), None)


def screen(messages: Sequence[Message]) -> Screened:
    if len(messages) > MAX_BATCH:
        raise Invalid(f"send at most {MAX_BATCH} events at a time")
    ordered = sorted({m.seq: m for m in messages}.values(), key=lambda m: m.seq)
    events: dict[int, Parsed] = {}
    problems: dict[int, str] = {}
    for m in ordered:
        problem = _check(m)
        if problem is None:
            try:
                events[m.seq] = parse(m.body)
                continue
            except Invalid as exc:
                problem = exc.detail
        problems[m.seq] = problem
    return Screened(ordered, events, problems)


@dataclass(frozen=True)
class Batch:
    """One attempt's part of :func:`ingest_many`: its screened batch, the
    stored hashes of the seqs the batch names (``Screened.wanted``) and who
    sent it."""

    attempt: Attempt | Running
    screened: Screened
    known: Mapping[int, str]
    actor: Actor


def ingest(
    uow: UnitOfWork,
    attempt: Attempt | Running,
    messages: Sequence[Message] | Screened,
    now: datetime | None = None,
) -> Taken:
    """Store a batch of client messages, then decide and act. The attempt's
    row is locked by the caller (``taking(lock=True)`` or ``heard_events``,
    which has also read the stored hashes the batch needs and moved the
    head: a :class:`Running` with ``known``)."""
    require_open(attempt)
    batch = messages if isinstance(messages, Screened) else screen(messages)
    if isinstance(attempt, Running) and attempt.known is not None:
        known: Mapping[int, str] = attempt.known
    else:
        found = cursor(uow).execute(
            _KNOWN, {"tenant": uow.tenant, "attempt": attempt.id, "seqs": batch.wanted}
        )
        known = {seq: hashed for seq, hashed in found}
    return ingest_many(uow, [Batch(attempt, batch, known, uow.actor)], now)[0]


def ingest_many(
    uow: UnitOfWork, batches: Sequence[Batch], now: datetime | None = None
) -> list[Taken]:
    """:func:`ingest` for running attempts of the unit of work's tenant, each
    locked by the caller, in one transaction: their new events are stored in
    one statement, then each attempt is decided on as it would be alone
    (:func:`invigil.proctoring.decisions.evaluate_many`)."""
    now = now or datetime.now(UTC)
    taken = [Taken() for _ in batches]
    rows: list[dict[str, Any]] = []
    fresh: list[list[dict[str, Any]]] = []
    actor = uow.actor
    for b, t in zip(batches, taken, strict=True):
        require_open(b.attempt)
        uow.actor = b.actor  # a conflict's entry is its sender's
        try:
            mine, t.results = _sort(uow, b, now)
        finally:
            uow.actor = actor
        rows += mine
        fresh.append(mine)
    if rows:
        params = {"tenant": uow.tenant, "now": now, "rows": json_rows(rows)}
        if len(cursor(uow).execute(_INSERT, params).fetchall()) != len(rows):
            raise Raced("a seq was stored by another transaction meanwhile")
        metrics.PROCTORING_EVENTS.inc(len(rows))
    work = []
    for b, mine in zip(batches, fresh, strict=True):
        attempt = b.attempt
        if mine:
            top = mine[-1]  # rows go in seq order
            if top["seq"] > attempt.events_last_seq:
                attempt.events_last_seq, attempt.events_head = top["seq"], top["hash"]
        touch(uow, attempt, now)
        keep(uow, attempt)
        if mine:
            work.append(Evaluation(attempt, mine, b.actor))
    decided = iter(evaluate_many(uow, work, now))
    for t, mine in zip(taken, fresh, strict=True):
        if mine:
            t.actions = next(decided)
    return taken


def _sort(uow: UnitOfWork, b: Batch, now: datetime) -> tuple[list[dict[str, Any]], list[Outcome]]:
    """The rows to store for a batch (in seq order) and each message's
    outcome; a conflict is audited here. A new message dated outside the
    attempt's window is rejected with the reason (:func:`outside_window`)."""
    attempt, batch = b.attempt, b.screened
    known: dict[int, str | None] = dict(b.known)
    first = genesis(attempt.id)
    rows: list[dict[str, Any]] = []
    outcome: dict[int, Outcome] = {}
    for m in batch.ordered:
        parsed = batch.events.get(m.seq)
        if parsed is None:
            outcome[m.seq] = Outcome(m.seq, "rejected", batch.problems[m.seq])
            continue
        if m.seq in known:
            same = known[m.seq] == m.hash
            outcome[m.seq] = Outcome(m.seq, "duplicate" if same else "conflict")
            if not same:
                audit.record(
                    uow,
                    "proctoring.conflict",
                    ("attempt", attempt.id),
                    {"seq": m.seq, "stored": known[m.seq], "received": m.hash},
                )
            continue
        if (late := outside_window(parsed.at, attempt, now)) is not None:
            outcome[m.seq] = Outcome(m.seq, "rejected", f"at {late}")
            continue
        expected_prev = first if m.seq == 1 else known.get(m.seq - 1)
        rows.append(
            {
                "attempt": str(attempt.id),
                "seq": m.seq,
                "kind": parsed.kind,
                "phase": parsed.phase,
                "at": parsed.at.isoformat(),
                "ends": parsed.ends,
                "details": parsed.details,
                "body": m.body,
                "prev": m.prev,
                "hash": m.hash,
                "linked": expected_prev == m.prev,
            }
        )
        known[m.seq] = m.hash
        outcome[m.seq] = Outcome(m.seq, "stored")
    return rows, [outcome[m.seq] for m in batch.ordered]


# --- the server's own observations ------------------------------------------


def _server_seq(uow: UnitOfWork, attempt_id: uuid.UUID) -> int:
    low = uow.session.scalar(
        select(func.min(ProctoringEvent.seq)).where(
            ProctoringEvent.attempt_id == attempt_id, ProctoringEvent.seq < 0
        )
    )
    return (low or 0) - 1


def server_event(
    uow: UnitOfWork,
    attempt: Attempt | Running,
    kind: str,
    phase: str,
    at: datetime,
    *,
    ends: int | None = None,
    details: dict[str, Any],
    received_at: datetime | None = None,
) -> int:
    """Record something the server itself observed (``client.silent``, a
    snapshot re-check's ``face.mismatch`` or ``detector.failed``) in the
    attempt's event stream, under the next negative seq. The caller holds
    the attempt row FOR UPDATE, so two writers never pick the same seq."""
    if kind not in pol.EVENT_KINDS or phase not in PHASES:
        raise ValueError(f"not an event: {kind} {phase}")
    seq = _server_seq(uow, attempt.id)
    uow.add(
        ProctoringEvent(
            tenant_id=uow.tenant,
            attempt_id=attempt.id,
            seq=seq,
            kind=kind,
            phase=phase,
            at=at,
            ends=ends,
            details=details,
            linked=True,
            received_at=received_at or at,
        )
    )
    uow.flush()
    signals.attempt_changed(uow, attempt.id)  # a silence began or ended: the consoles show it
    return seq


def touch(uow: UnitOfWork, attempt: Attempt | Running, now: datetime) -> None:
    """The browser is heard from: end an open client.silent episode."""
    attempt.last_seen_at = now
    if attempt.silent_seq is not None:
        start = attempt.silent_seq
        server_event(
            uow, attempt, "client.silent", "end", now, ends=start, details={"source": "server"}
        )
        attempt.silent_seq = None


def notice_silence(db: Database, now: datetime | None = None, batch: int = 500) -> int:
    """Record client.silent for running attempts whose browser stopped
    reporting for longer than their policy's ``silence_seconds``."""
    now = now or datetime.now(UTC)
    floor = min(p.silence_seconds for p in pol.PRESETS.values())
    with db.platform_connection() as conn:
        quiet = conn.execute(
            text("SELECT tenant_id, attempt_id FROM platform_quiet_attempts(:since, :n)"),
            {"since": now - timedelta(seconds=max(10, min(floor, 30))), "n": batch},
        ).all()
    noticed = 0
    for tenant_id, attempt_id in quiet:
        with db.unit_of_work(tenant_id, Actor.system("proctoring.silence")) as uow:
            attempt = uow.scalar(select(Attempt).where(Attempt.id == attempt_id).with_for_update())
            if attempt is None or attempt.status != "in_progress" or attempt.silent_seq is not None:
                continue
            policy = policy_of(attempt)
            seen = attempt.last_seen_at or attempt.started_at or now
            if (now - seen).total_seconds() < policy.silence_seconds:
                continue
            attempt.silent_seq = server_event(
                uow,
                attempt,
                "client.silent",
                "start",
                seen,
                details={"source": "server", "last_seen_at": seen.isoformat()},
            )
            evaluate(uow, attempt, now)
            noticed += 1
    if noticed:
        log.info("proctoring.silent_clients", count=noticed)
    return noticed


def stream_anchor(uow: UnitOfWork, attempt_id: uuid.UUID) -> dict[str, Any]:
    """The anchor of the attempt's whole event stream as stored now (see
    :mod:`invigil.proctoring.records`)."""
    uow.flush()
    stream = records.event_stream(uow, attempt_id)
    return anchor("events", stream.sha256, stream.count)


def seal(uow: UnitOfWork, attempt: Attempt) -> dict[str, Any]:
    """Commit the event chain's head, and the anchor of the whole stream, to
    the audit log (at submission)."""
    rows = uow.session.execute(
        select(ProctoringEvent.seq, ProctoringEvent.linked).where(
            ProctoringEvent.attempt_id == attempt.id, ProctoringEvent.seq > 0
        )
    ).all()
    seqs = sorted(s for s, _ in rows)
    present = set(seqs)
    gaps = [s for s in range(1, (seqs[-1] if seqs else 0) + 1) if s not in present]
    summary = {
        "last_seq": attempt.events_last_seq,
        "head": attempt.events_head,
        "messages": len(seqs),
        "gaps": gaps[:100],
        "gap_count": len(gaps),
        "unlinked": sum(1 for _, linked in rows if not linked),
        "integrity": attempt.integrity,
        "anchor": stream_anchor(uow, attempt.id),
    }
    audit.record(uow, "proctoring.sealed", attempt, summary)
    return summary
