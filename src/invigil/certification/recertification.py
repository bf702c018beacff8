"""Recertification runs by itself: the daily pass (docs/adr/0046).

For each certificate that is its holder's latest of its program (a renewed
one gets no further steps) the pass takes the steps its program version
defines, each when it falls due:

- ``reminder:<days>``: a mail to the holder ``days`` before the expiry, for
  each of ``reminder_days``. A pass that first sees a certificate after
  several offsets passed sends the nearest one only (no flood of three
  mails), and never one whose moment lay before the certificate was issued;
- ``invitation``: once the recertification window opens (``expires_at -
  recert_window_days``) and the program names a ``recert_exam_id``, an
  invitation to that exam through the guest-link flow
  (:func:`invigil.delivery.invitations.invite`, which queues its mail),
  open until the grace period ends;
- ``expiry``: at ``expires_at`` the state becomes ``expired``
  (:func:`invigil.certification.lifecycle.change_state`);
- ``escalation``: when the certificate has *lapsed* (expired, the grace
  period over, no renewal), a mail to the managers of every group of the
  holder that requires the program, and a final notice to the holder.

Idempotent: every step is a ``cert_notices`` row, unique per certificate
and step, written in the transaction of what the step sends, with
``INSERT ... ON CONFLICT DO NOTHING``: a step another pass already took
(even one running right now) is refused by the key and what it would have
sent is rolled back, so nothing is sent twice. Concurrent passes also skip
each other's locked certificates (``FOR UPDATE SKIP LOCKED``), so they share
the work instead of waiting, and look again at what is due once they hold
the lock. A batch runs straight through (its reminders' mails and notices
one INSERT each); if anything in it fails it is rolled back and run again
with a savepoint per step, so one refused invitation delays only itself.

Bounded: the due certificates are found by range queries on ``expires_at``
(``ix_certificates_expiry``, a keyset over ``(expires_at, id)``) with the
program version's offsets evaluated in SQL; each batch of at most
:data:`BATCH` certificates is one transaction, so no lock is held long.

The clock is injected: ``now`` is a parameter (tests walk a certificate
through a year in a few calls); the periodic job passes the real time.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text

from invigil import audit, i18n
from invigil.audit import log as audit_log
from invigil.certification import lifecycle, recert_mail
from invigil.certification.definition import Definition
from invigil.certification.models import Certificate, Notice, Program, ProgramVersion
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery import invitations, mail
from invigil.delivery.invitations import InviteRequest, Kit
from invigil.delivery.models import OutboxMail
from invigil.errors import Conflict, Invalid, NotFound
from invigil.logs import get_logger
from invigil.tenants import service as tenants

log = get_logger(__name__)

BATCH = 200  # certificates per transaction
ACTOR = Actor.system("certification.recertify")
STEPS = ("reminder", "invitation", "expiry", "escalation")  # in the order they fall due
_START = (datetime(1, 1, 1, tzinfo=UTC), uuid.UUID(int=0))

# The program versions' recertification settings, read once per statement.
_VERSIONS = """
    vp AS (
      SELECT v.id AS version_id,
             make_interval(days => (v.definition->>'recert_window_days')::int) AS win,
             make_interval(days => (v.definition->>'grace_days')::int) AS grace,
             (v.definition->>'recert_exam_id') IS NOT NULL AS has_exam,
             ARRAY(SELECT jsonb_array_elements_text(v.definition->'reminder_days')::int)
               AS offsets
        FROM cert_program_versions v
    )
"""

# A certificate takes steps only while it is its holder's latest of the
# program (the one lifecycle.renewable would renew: newest issue, then
# smallest id); a renewed certificate is not.
_LATEST = """
    NOT EXISTS (
      SELECT 1 FROM certificates n
       WHERE n.tenant_id = c.tenant_id AND n.holder_id = c.holder_id
         AND n.program_id = c.program_id
         AND (n.issued_at > c.issued_at OR (n.issued_at = c.issued_at AND n.id < c.id)))
"""


def _done(step: str) -> str:
    return (
        "EXISTS (SELECT 1 FROM cert_notices x WHERE x.tenant_id = c.tenant_id"
        f" AND x.certificate_id = c.id AND x.step = '{step}')"
    )


# Which step is due for a certificate at :now. ``nearest``: the smallest
# reminder offset whose moment has passed and came after the issue.
_FLAGS = f"""
    c.id, c.expires_at, r.nearest,
    (c.state = 'issued' AND c.expires_at > :now AND r.nearest IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM cert_notices x
                      WHERE x.tenant_id = c.tenant_id AND x.certificate_id = c.id
                        AND x.kind = 'reminder'
                        AND split_part(x.step, ':', 2)::int <= r.nearest)) AS remind,
    (vp.has_exam AND c.state IN ('issued', 'expired')
     AND c.expires_at - vp.win <= :now AND :now < c.expires_at + vp.grace
     AND NOT {_done("invitation")}) AS invite,
    (c.state IN ('issued', 'suspended') AND c.expires_at <= :now) AS expire,
    (c.state IN ('issued', 'suspended', 'expired') AND c.expires_at + vp.grace <= :now
     AND NOT {_done("escalation")}) AS escalate
"""

_FROM = """
    FROM certificates c
    JOIN vp ON vp.version_id = c.program_version_id
    CROSS JOIN LATERAL (
      SELECT min(d) AS nearest FROM unnest(vp.offsets) AS d
       WHERE c.expires_at - make_interval(days => d) <= :now
         AND c.expires_at - make_interval(days => d) > c.issued_at) r
"""

# One batch of due certificates after the keyset position, in expiry order.
_DUE = text(f"""
    WITH {_VERSIONS}
    SELECT * FROM (
      SELECT {_FLAGS}, {_LATEST} AS latest {_FROM}
       WHERE c.expires_at IS NOT NULL AND c.state <> 'revoked'
         AND c.expires_at <= :horizon
         AND (c.expires_at, c.id) > (:after_at, :after_id)
    ) s
    WHERE (s.remind OR s.invite OR s.expire OR s.escalate) AND s.latest
    ORDER BY s.expires_at, s.id
    LIMIT :limit
""")

# The same flags for certificates this pass has just locked (a fresh look:
# another pass may have taken a step since the batch was found).
_RECHECK = text(f"""
    WITH {_VERSIONS}
    SELECT {_FLAGS} {_FROM}
     WHERE c.id = ANY(:ids) AND c.state <> 'revoked' AND {_LATEST}
     ORDER BY c.expires_at, c.id
""")

_LOCK = text("SELECT id FROM certificates WHERE id = ANY(:ids) ORDER BY id FOR UPDATE SKIP LOCKED")

_HORIZON = text("""
    SELECT coalesce(max(greatest(
             (v.definition->>'recert_window_days')::int,
             (SELECT coalesce(max(d::int), 0)
                FROM jsonb_array_elements_text(v.definition->'reminder_days') AS d))), 0)
      FROM cert_program_versions v
""")

_INSERT_NOTICE = text("""
    INSERT INTO cert_notices (tenant_id, id, certificate_id, kind, step, due_at, done_at, details)
    VALUES (:tenant, :id, :certificate, :kind, :step, :due, :done, CAST(:details AS jsonb))
    ON CONFLICT (tenant_id, certificate_id, step) DO NOTHING
    RETURNING id
""")


_INSERT_REMINDERS = text("""
    INSERT INTO cert_notices (tenant_id, id, certificate_id, kind, step, due_at, done_at, details)
    SELECT :tenant, (i->>'id')::uuid, (i->>'certificate')::uuid, 'reminder', i->>'step',
           (i->>'due')::timestamptz, :done, i->'details'
      FROM jsonb_array_elements(CAST(:items AS jsonb)) AS i
    ON CONFLICT (tenant_id, certificate_id, step) DO NOTHING
    RETURNING id
""")


@dataclass
class Summary:
    """What a pass did: steps taken by kind, certificates looked at, steps
    that failed (retried by the next pass), transactions used."""

    steps: Counter[str] = field(default_factory=Counter)
    certificates: int = 0
    failed: int = 0
    batches: int = 0

    def add(self, other: Summary) -> None:
        self.steps.update(other.steps)
        self.certificates += other.certificates
        self.failed += other.failed
        self.batches += other.batches

    def as_dict(self) -> dict[str, Any]:
        return {
            "steps": {k: self.steps.get(k, 0) for k in STEPS},
            "certificates": self.certificates,
            "failed": self.failed,
            "batches": self.batches,
        }


@dataclass(frozen=True)
class _Holder:
    name: str
    email: str
    language: str | None  # of their latest invitation that named one


class _Taken(Exception):
    """Another pass took this step first: roll the savepoint back."""


def daily_pass(
    db: Database, tenant_id: uuid.UUID, kit: Kit, *, now: datetime, batch: int = BATCH
) -> Summary:
    """Take every step due at ``now`` for one tenant, a batch per transaction.

    A batch first runs straight through (no savepoint per step: they cost a
    round trip each). If anything in it fails (an invitation the exam
    refuses, a notice another pass wrote first) the whole transaction rolls
    back and the batch runs again carefully, each step in its own savepoint,
    so one certificate's trouble costs nobody else their step."""
    summary = Summary()
    after = _START
    while True:
        try:
            with db.unit_of_work(tenant_id, ACTOR) as uow:
                found, last = pass_batch(uow, kit, now=now, after=after, limit=batch)
        except Exception:
            log.warning("certification.recert_batch_again", tenant=str(tenant_id), exc_info=True)
            with db.unit_of_work(tenant_id, ACTOR) as uow:
                found, last = pass_batch(uow, kit, now=now, after=after, limit=batch, careful=True)
        summary.add(found)
        if last is None:
            break
        after = last
    log.info("certification.recertified", tenant=str(tenant_id), **summary.as_dict())
    return summary


def horizon(uow: UnitOfWork) -> timedelta:
    """How far before its expiry any program's first step can fall due."""
    return timedelta(days=int(uow.session.execute(_HORIZON).scalar_one()))


def pass_batch(
    uow: UnitOfWork,
    kit: Kit,
    *,
    now: datetime,
    after: tuple[datetime, uuid.UUID] = _START,
    limit: int = BATCH,
    careful: bool = False,
) -> tuple[Summary, tuple[datetime, uuid.UUID] | None]:
    """Up to ``limit`` due certificates after the keyset position ``after``;
    returns what was done and the position to continue from (None: no
    more). ``careful``: each step in a savepoint, a failed one logged and
    left for the next pass; else the first failure is raised (the caller
    rolls the batch back and runs it carefully)."""
    summary = Summary(batches=1)
    rows = uow.session.execute(
        _DUE,
        {
            "now": now,
            "horizon": now + horizon(uow),
            "after_at": after[0],
            "after_id": after[1],
            "limit": limit,
        },
    ).all()
    if not rows:
        return summary, None
    last = (rows[-1].expires_at, rows[-1].id)
    ids = [r.id for r in rows]
    locked = list(uow.session.execute(_LOCK, {"ids": ids}).scalars())
    if locked:
        flags = uow.session.execute(_RECHECK, {"now": now, "ids": locked}).all()
        _Batch(uow, kit, now, [f.id for f in flags]).run(flags, summary, careful=careful)
    return summary, (last if len(rows) == limit else None)


class _Batch:
    """The certificates of one batch with what their steps need, read in a
    few statements rather than one per certificate."""

    def __init__(self, uow: UnitOfWork, kit: Kit, now: datetime, ids: list[uuid.UUID]) -> None:
        self.uow, self.kit, self.now = uow, kit, now
        certs = uow.scalars(select(Certificate).where(Certificate.id.in_(ids)))
        self.certs = {c.id: c for c in certs}
        version_ids = {c.program_version_id for c in certs}
        versions = uow.scalars(select(ProgramVersion).where(ProgramVersion.id.in_(version_ids)))
        self.definitions = {v.id: lifecycle.definition_of(v) for v in versions}
        program_ids = {c.program_id for c in certs}
        self.programs: dict[uuid.UUID, str] = {
            pid: name
            for pid, name in uow.session.execute(
                select(Program.id, Program.name).where(Program.id.in_(program_ids))
            )
        }
        self.holders = _holders(uow, {c.holder_id for c in certs})
        self.languages, self.default = tenants.languages_of(uow)

    def run(self, flags: Iterable[Any], summary: Summary, *, careful: bool) -> None:
        entries: list[audit_log.Entry] = []
        reminders: list[tuple[Certificate, int]] = []  # straight through: sent together
        for row in flags:
            cert = self.certs[row.id]
            summary.certificates += 1
            for kind in STEPS:
                if not getattr(row, _FLAG[kind]):
                    continue
                if not careful and kind == "reminder":
                    reminders.append((cert, row.nearest))
                    continue
                if not careful:
                    entry = self._take(cert, kind, row.nearest)
                else:
                    try:
                        with self.uow.session.begin_nested():
                            entry = self._take(cert, kind, row.nearest)
                    except _Taken:
                        continue  # another pass took it first: not ours to count
                    except Exception:
                        # One certificate's failure must not stop the tenant's
                        # pass; its savepoint rolled back, the next pass retries.
                        log.exception(
                            "certification.recert_step_failed", certificate=str(cert.id), step=kind
                        )
                        summary.failed += 1
                        break  # later steps wait for this one
                summary.steps[kind] += 1
                if entry is not None:
                    entries.append(entry)
        if reminders:
            entries += self._remind_all(reminders)
            summary.steps["reminder"] += len(reminders)
        # The batch's audit entries in one statement (the expiry is audited
        # by change_state itself, the invitation also by invite).
        audit.record_many(self.uow, entries)

    # -- the steps ----------------------------------------------------------------------

    def _take(self, cert: Certificate, kind: str, nearest: int | None) -> audit_log.Entry | None:
        """Take one step: what it sends, then its notice; raises :class:`_Taken`
        when the notice was already written (the caller's savepoint or
        transaction undoes what was sent). Returns the step's audit entry."""
        definition = self.definitions[cert.program_version_id]
        assert cert.expires_at is not None
        act: Callable[[Certificate, Definition], dict[str, Any]]
        if kind == "reminder":
            assert nearest is not None
            step, due = f"reminder:{nearest}", cert.expires_at - timedelta(days=nearest)
            act = self._remind
        elif kind == "invitation":
            window = timedelta(days=definition.recert_window_days)
            step, due, act = "invitation", cert.expires_at - window, self._invite
        elif kind == "expiry":
            step, due, act = "expiry", cert.expires_at, self._expire
        else:
            step, due = "escalation", cert.expires_at + timedelta(days=definition.grace_days)
            act = self._escalate
        details = act(cert, definition)
        notice_id = uuid.uuid4()
        inserted = self.uow.session.execute(
            _INSERT_NOTICE,
            {
                "tenant": self.uow.tenant,
                "id": notice_id,
                "certificate": cert.id,
                "kind": kind,
                "step": step,
                "due": due,
                "done": self.now,
                "details": json.dumps(details),
            },
        ).scalar()
        if inserted is None:
            raise _Taken(step)
        if kind == "expiry":  # audited as the state change it is
            return None
        payload = {"number": cert.number, "step": step, "notice_id": str(notice_id), **details}
        return (ACTIONS[kind], ("certificate", cert.id), payload)

    def _about(self, cert: Certificate, definition: Definition) -> recert_mail.About:
        assert cert.expires_at is not None
        return recert_mail.About(
            program=self.programs[cert.program_id],
            number=cert.number,
            expires_at=cert.expires_at,
            grace_ends_at=cert.expires_at + timedelta(days=definition.grace_days),
            recert_exam=definition.recert_exam_id is not None,
        )

    def _locale(self, holder: _Holder) -> str:
        return i18n.negotiate(
            enabled=self.languages, invitation=holder.language, tenant_default=self.default
        )

    def _remind(self, cert: Certificate, definition: Definition) -> dict[str, Any]:
        holder = self.holders[cert.holder_id]
        assert cert.expires_at is not None
        composed = recert_mail.reminder(
            self._about(cert, definition),
            holder.name,
            self._locale(holder),
            now=self.now,
            window_opens_at=cert.expires_at - timedelta(days=definition.recert_window_days),
        )
        sent = mail.queue_message(
            self.uow, holder.email, composed.subject, composed.body,
            smtp=self.kit.smtp, locale=composed.locale,
        )  # fmt: skip
        return {"mail_ids": [str(sent.id)]}

    def _remind_all(self, due: list[tuple[Certificate, int]]) -> list[audit_log.Entry]:
        """The batch's reminders at once: their mails in one INSERT, their
        notices in another (any already written: :class:`_Taken`, and the
        batch runs again step by step)."""
        messages: list[mail.Message] = []
        notices: list[dict[str, Any]] = []
        for cert, _ in due:
            definition = self.definitions[cert.program_version_id]
            holder = self.holders[cert.holder_id]
            assert cert.expires_at is not None
            composed = recert_mail.reminder(
                self._about(cert, definition),
                holder.name,
                self._locale(holder),
                now=self.now,
                window_opens_at=cert.expires_at - timedelta(days=definition.recert_window_days),
            )
            messages.append(mail.Message(holder.email, composed.subject, composed.body,
                                         composed.locale))  # fmt: skip
        sent = mail.queue_messages(self.uow, messages, smtp=self.kit.smtp)
        entries: list[audit_log.Entry] = []
        for (cert, nearest), row in zip(due, sent, strict=True):
            assert cert.expires_at is not None
            notice_id, step, details = (
                str(uuid.uuid4()),
                f"reminder:{nearest}",
                {"mail_ids": [str(row.id)]},
            )
            notices.append({
                "id": notice_id,
                "certificate": str(cert.id),
                "step": step,
                "due": (cert.expires_at - timedelta(days=nearest)).isoformat(),
                "details": details,
            })  # fmt: skip
            payload = {"number": cert.number, "step": step, "notice_id": notice_id, **details}
            entries.append((ACTIONS["reminder"], ("certificate", cert.id), payload))
        written = self.uow.session.execute(
            _INSERT_REMINDERS,
            {"tenant": self.uow.tenant, "done": self.now, "items": json.dumps(notices)},
        ).all()
        if len(written) != len(notices):
            raise _Taken("reminder")
        return entries

    def _invite(self, cert: Certificate, definition: Definition) -> dict[str, Any]:
        holder = self.holders[cert.holder_id]
        assert cert.expires_at is not None and definition.recert_exam_id is not None
        closes = cert.expires_at + timedelta(days=definition.grace_days)
        language = holder.language if holder.language in self.languages else None
        try:
            made = invitations.invite(
                self.uow,
                self.kit,
                InviteRequest(
                    name=holder.name,
                    email=holder.email,
                    exam=str(definition.recert_exam_id),
                    opens_at=self.now,
                    closes_at=closes,
                    language=language,
                ),
                now=self.now,
            )
        except (Conflict, Invalid, NotFound) as exc:
            # The exam is not published (any more), or its availability
            # closed: nothing is recorded, the next pass tries again.
            log.warning(
                "certification.recert_invitation_refused", certificate=str(cert.id), reason=str(exc)
            )
            raise
        mail_ids = self.uow.session.scalars(
            select(OutboxMail.id).where(OutboxMail.invitation_id == made.invitation.id)
        ).all()
        return {
            "invitation_id": str(made.invitation.id),
            "mail_ids": [str(m) for m in mail_ids],
            "closes_at": made.invitation.closes_at.isoformat(),
        }

    def _expire(self, cert: Certificate, definition: Definition) -> dict[str, Any]:
        assert cert.expires_at is not None
        change = lifecycle.change_state(
            self.uow, cert.id, "expired",
            f"validity ended on {cert.expires_at.date().isoformat()}", now=self.now,
        )  # fmt: skip
        return {"state_change_id": str(change.id)}

    def _escalate(self, cert: Certificate, definition: Definition) -> dict[str, Any]:
        about = self._about(cert, definition)
        holder = self.holders[cert.holder_id]
        managers = _managers(self.uow, cert.holder_id, cert.program_id)
        mail_ids, manager_ids = [], []
        for manager in managers:
            locale = manager.language
            composed = recert_mail.escalation(
                about, manager.name, holder.name, holder.email, manager.groups, locale
            )
            sent = mail.queue_message(
                self.uow, manager.email, composed.subject, composed.body,
                smtp=self.kit.smtp, locale=locale,
            )  # fmt: skip
            mail_ids.append(str(sent.id))
            manager_ids.append(str(manager.id))
        composed = recert_mail.lapsed(about, holder.name, self._locale(holder))
        final = mail.queue_message(
            self.uow, holder.email, composed.subject, composed.body,
            smtp=self.kit.smtp, locale=composed.locale,
        )  # fmt: skip
        return {
            "holder_mail_id": str(final.id),
            "manager_mail_ids": mail_ids,
            "manager_ids": manager_ids,
        }


_FLAG = {"reminder": "remind", "invitation": "invite", "expiry": "expire", "escalation": "escalate"}

# The audit action of each step (the expiry is the state change's own entry).
ACTIONS = {
    "reminder": "certificate.recert_reminded",
    "invitation": "certificate.recert_invited",
    "escalation": "certificate.lapse_escalated",
}


def _holders(uow: UnitOfWork, ids: set[uuid.UUID]) -> dict[uuid.UUID, _Holder]:
    """Each holder's name and address, and the language of their latest
    invitation that named one (their mails speak it)."""
    rows = uow.session.execute(
        text("""
            SELECT c.id, c.name, c.email,
                   (SELECT i.language FROM invitations i
                     WHERE i.tenant_id = c.tenant_id AND i.candidate_id = c.id
                       AND i.language IS NOT NULL
                     ORDER BY i.created_at DESC LIMIT 1) AS language
              FROM candidates c WHERE c.id = ANY(:ids)
        """),
        {"ids": list(ids)},
    )
    return {r.id: _Holder(r.name, r.email, r.language) for r in rows}


@dataclass(frozen=True)
class _Manager:
    id: uuid.UUID
    name: str
    email: str
    language: str
    groups: list[str]


def _managers(uow: UnitOfWork, holder_id: uuid.UUID, program_id: uuid.UUID) -> list[_Manager]:
    """The active managers of every group of the holder that requires the
    program, each with the names of those groups; in their own language
    (their staff pages'), else English."""
    rows = uow.session.execute(
        text("""
            SELECT u.id, u.display_name, u.email, u.language, g.name AS group_name
              FROM cert_group_members m
              JOIN cert_group_requirements r
                ON r.tenant_id = m.tenant_id AND r.group_id = m.group_id
               AND r.program_id = :program
              JOIN cert_groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
              JOIN cert_group_managers gm ON gm.tenant_id = m.tenant_id AND gm.group_id = m.group_id
              JOIN users u ON u.tenant_id = gm.tenant_id AND u.id = gm.user_id
             WHERE m.candidate_id = :holder AND u.status = 'active'
             ORDER BY u.email, g.name
        """),
        {"holder": holder_id, "program": program_id},
    )
    found: dict[uuid.UUID, _Manager] = {}
    for r in rows:
        if r.id not in found:
            locale = i18n.normalise(r.language)
            found[r.id] = _Manager(
                r.id,
                r.display_name or r.email,
                r.email,
                locale if locale in i18n.STAFF_LANGUAGES else i18n.DEFAULT,
                [],
            )
        found[r.id].groups.append(r.group_name)
    return list(found.values())


# -- what the staff page shows ----------------------------------------------------------


def notices_of(uow: UnitOfWork, certificate_id: uuid.UUID) -> list[Notice]:
    """The steps taken for one certificate, in the order they were taken."""
    return uow.scalars(
        select(Notice)
        .where(Notice.certificate_id == certificate_id)
        .order_by(Notice.done_at, Notice.step)
    )


@dataclass(frozen=True)
class Row:
    """A step (taken or upcoming) with what the page names."""

    certificate_id: uuid.UUID
    number: str
    holder: str
    program: str
    kind: str
    step: str
    due_at: datetime
    done_at: datetime | None
    expires_at: datetime | None


def recent(uow: UnitOfWork, *, program_id: uuid.UUID | None = None, limit: int = 50) -> list[Row]:
    """The latest steps taken, newest first."""
    rows = uow.session.execute(
        text("""
            SELECT n.certificate_id, c.number, h.name AS holder, p.name AS program,
                   n.kind, n.step, n.due_at, n.done_at, c.expires_at
              FROM cert_notices n
              JOIN certificates c ON c.tenant_id = n.tenant_id AND c.id = n.certificate_id
              JOIN candidates h ON h.tenant_id = c.tenant_id AND h.id = c.holder_id
              JOIN cert_programs p ON p.tenant_id = c.tenant_id AND p.id = c.program_id
             WHERE (CAST(:program AS uuid) IS NULL OR c.program_id = :program)
             ORDER BY n.done_at DESC, n.id
             LIMIT :limit
        """),
        {"program": program_id, "limit": limit},
    )
    return [Row(**r._mapping) for r in rows]


# Each version's steps as offsets before the expiry (reminders: d days;
# the invitation: the window; the expiry: 0; the escalation: minus the
# grace), then per step the certificates whose expiry puts that step in
# (now, until]: a range on ix_certificates_version_expiry per step, so only
# certificates with a step in the period are read.
_UPCOMING = text(f"""
    WITH {_VERSIONS},
    sd AS (
      SELECT vp.version_id, 'reminder' AS kind, 'reminder:' || d AS step,
             make_interval(days => d) AS off
        FROM vp CROSS JOIN LATERAL unnest(vp.offsets) AS d
      UNION ALL
      SELECT version_id, 'invitation', 'invitation', win FROM vp WHERE has_exam
      UNION ALL
      SELECT version_id, 'expiry', 'expiry', interval '0' FROM vp
      UNION ALL
      SELECT version_id, 'escalation', 'escalation', -grace FROM vp
    ),
    due AS (
      SELECT c.id, c.number, c.holder_id, c.program_id, c.expires_at, sd.kind, sd.step,
             c.expires_at - sd.off AS due_at
        FROM sd
        CROSS JOIN LATERAL (
          SELECT * FROM certificates c
           WHERE c.program_version_id = sd.version_id
             AND c.expires_at > CAST(:now AS timestamptz) + sd.off
             AND c.expires_at <= CAST(:until AS timestamptz) + sd.off
          OFFSET 0  -- one index range per step, not a join over every certificate
        ) c
       WHERE c.state <> 'revoked'
         AND (sd.kind <> 'reminder'
              OR (c.state = 'issued' AND c.expires_at - sd.off > c.issued_at))
         AND (sd.kind <> 'expiry' OR c.state IN ('issued', 'suspended'))
         AND (CAST(:program AS uuid) IS NULL OR c.program_id = :program)
         AND {_LATEST}
         AND NOT EXISTS (SELECT 1 FROM cert_notices x WHERE x.tenant_id = c.tenant_id
                            AND x.certificate_id = c.id AND x.step = sd.step)
       ORDER BY due_at, c.number, sd.step
       LIMIT :limit
    )
    SELECT due.id AS certificate_id, due.number, h.name AS holder, p.name AS program,
           due.kind, due.step, due.due_at, NULL::timestamptz AS done_at, due.expires_at
      FROM due
      JOIN candidates h ON h.id = due.holder_id
      JOIN cert_programs p ON p.id = due.program_id
     ORDER BY due.due_at, due.number, due.step
""")


def upcoming(
    uow: UnitOfWork,
    *,
    now: datetime,
    days: int = 30,
    program_id: uuid.UUID | None = None,
    limit: int = 200,
) -> list[Row]:
    """The steps that fall due in the next ``days`` days (not yet taken), soonest first.
    (A reminder the pass will skip because a nearer one is due first is still listed.)"""
    rows = uow.session.execute(
        _UPCOMING,
        {
            "now": now,
            "until": now + timedelta(days=days),
            "program": program_id,
            "limit": limit,
        },
    )
    return [Row(**r._mapping) for r in rows]
