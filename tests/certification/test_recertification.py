"""The daily recertification pass on a controlled clock: a certificate
walked through reminders, the recertification invitation and its renewal;
another through expiry, lapse and escalation; every pass run twice (nothing
doubles) and two passes at once on two connections (each step once)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import func, select, text

from invigil.audit.models import AuditEvent
from invigil.certification import lifecycle, recertification
from invigil.certification.models import (
    Certificate,
    Group,
    GroupManager,
    GroupMember,
    GroupRequirement,
    Notice,
    ProgramVersion,
)
from invigil.db.engine import Database
from invigil.delivery.invitations import Kit
from invigil.delivery.models import Invitation, OutboxMail
from invigil.settings import Settings
from invigil.tenants import service as tenants
from tests.certification.factories import NOW, certificate, get, holder, program
from tests.conftest import make_tenant, make_user
from tests.delivery.factories import kit_for, published_exam

DAY = timedelta(days=1)


def run(db: Database, tenant: uuid.UUID, kit: Kit, at: datetime, **kw: int) -> dict[str, int]:
    """Run the pass twice at ``at``: the second must do nothing at all."""
    first = recertification.daily_pass(db, tenant, kit, now=at, **kw)
    again = recertification.daily_pass(db, tenant, kit, now=at, **kw)
    assert sum(again.steps.values()) == 0 and again.failed == 0, again
    assert first.failed == 0, first
    return {k: v for k, v in first.steps.items() if v}


def steps_of(db: Database, tenant: uuid.UUID, cert: uuid.UUID) -> list[str]:
    with db.unit_of_work(tenant) as uow:
        return [n.step for n in recertification.notices_of(uow, cert)]


def mails(db: Database, tenant: uuid.UUID) -> list[OutboxMail]:
    with db.unit_of_work(tenant) as uow:
        found = uow.scalars(select(OutboxMail).order_by(OutboxMail.created_at, OutboxMail.id))
        for m in found:
            uow.session.expunge(m)
        return found


def sent_for(db: Database, tenant: uuid.UUID, cert: uuid.UUID, step: str) -> list[OutboxMail]:
    """The mails a step sent (the ids its notice keeps)."""
    with db.unit_of_work(tenant) as uow:
        [notice] = uow.scalars(
            select(Notice).where(Notice.certificate_id == cert, Notice.step == step)
        )
        d = notice.details
        ids = [*d.get("mail_ids", []), *d.get("manager_mail_ids", [])]
        ids += [d["holder_mail_id"]] if "holder_mail_id" in d else []
        found = uow.scalars(select(OutboxMail).where(OutboxMail.id.in_(ids)))
        for m in found:
            uow.session.expunge(m)
        assert len(found) == len(ids)
        return found


def actions(db: Database, tenant: uuid.UUID) -> Counter[str]:
    with db.unit_of_work(tenant) as uow:
        return Counter(uow.session.scalars(select(AuditEvent.action)).all())


def test_issue_reminders_invitation_renewal(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    kit = kit_for(settings)
    exam = published_exam(db, tenant)
    _, version = program(
        db, tenant, name="Forklift safety", validity_months=12, recert_window_days=60,
        grace_days=30, reminder_days=[90, 30, 7], recert_exam_id=str(exam),
    )  # fmt: skip
    who = holder(db, tenant, "Grace Hopper")
    old = certificate(db, tenant, version, who)
    expires = get(db, tenant, old).expires_at
    assert expires is not None

    assert run(db, tenant, kit, NOW) == {}
    assert run(db, tenant, kit, expires - 100 * DAY) == {}
    assert run(db, tenant, kit, expires - 90 * DAY) == {"reminder": 1}
    [reminder] = mails(db, tenant)
    assert reminder.invitation_id is None and reminder.to_address.endswith("@holders.test")
    assert "Forklift safety" in reminder.subject and "Forklift safety" in reminder.body
    assert get(db, tenant, old).number in reminder.body and "90 days" in reminder.body
    assert "From " in reminder.body  # the window is not open yet: when it will be

    # The recertification window opens: a real invitation through the guest-link flow.
    assert run(db, tenant, kit, expires - 60 * DAY) == {"invitation": 1}
    with db.unit_of_work(tenant) as uow:
        [invitation] = uow.scalars(select(Invitation))
        [notice] = uow.scalars(select(Notice).where(Notice.step == "invitation"))
        assert (invitation.candidate_id, invitation.exam_id) == (who, exam)
        assert invitation.opens_at == expires - 60 * DAY
        assert invitation.closes_at == expires + 30 * DAY  # the end of the grace period
        assert notice.details["invitation_id"] == str(invitation.id)
        assert notice.due_at == expires - 60 * DAY
    invitation_mail = [m for m in mails(db, tenant) if m.invitation_id is not None]
    assert [str(m.id) for m in invitation_mail] == notice.details["mail_ids"]

    assert run(db, tenant, kit, expires - 30 * DAY) == {"reminder": 1}
    assert run(db, tenant, kit, expires - 7 * DAY) == {"reminder": 1}
    [last] = sent_for(db, tenant, old, "reminder:7")
    assert "To renew it, pass the recertification exam" in last.body

    # Passing the recertification exam renews (H1 wires the trigger): from the old expiry.
    renewed_at = expires - 5 * DAY
    with db.unit_of_work(tenant) as uow:
        v = uow.session.get(ProgramVersion, (tenant, version))
        assert v is not None
        basis = [{"attempt_id": str(uuid.uuid4()), "exam_id": str(exam), "percent": 80}]
        new = lifecycle.issue(
            uow, lifecycle.Issue(version=v, holder_id=who, basis=basis), now=renewed_at
        ).id
    renewed = get(db, tenant, new)
    assert renewed.renews_id == old
    assert renewed.issued_at == renewed_at
    assert renewed.expires_at == lifecycle.add_months(expires, 12)

    # The old certificate takes no further step: no expiry, no escalation, ever.
    for at in (expires + DAY, expires + 40 * DAY, expires + 200 * DAY):
        assert run(db, tenant, kit, at) == {}
    assert steps_of(db, tenant, old) == ["reminder:90", "invitation", "reminder:30", "reminder:7"]
    assert get(db, tenant, old).state == "issued"
    assert steps_of(db, tenant, new) == []
    assert renewed.expires_at is not None
    assert run(db, tenant, kit, renewed.expires_at - 90 * DAY) == {"reminder": 1}
    assert steps_of(db, tenant, new) == ["reminder:90"]
    assert len(mails(db, tenant)) == 5  # 4 reminders and the invitation, each once
    done = actions(db, tenant)
    assert done["certificate.recert_reminded"] == 4 and done["certificate.recert_invited"] == 1
    assert done["invitation.created"] == 1


def _group(
    db: Database, tenant: uuid.UUID, name: str, program_id: uuid.UUID | None,
    members: list[uuid.UUID], managers: list[uuid.UUID],
) -> uuid.UUID:  # fmt: skip
    with db.unit_of_work(tenant) as uow:
        group = Group(tenant_id=tenant, id=uuid.uuid4(), name=name)
        uow.add(group)
        uow.flush()
        if program_id is not None:
            uow.add(GroupRequirement(tenant_id=tenant, group_id=group.id, program_id=program_id))
        for m in members:
            uow.add(GroupMember(tenant_id=tenant, group_id=group.id, candidate_id=m))
        for u in managers:
            uow.add(GroupManager(tenant_id=tenant, group_id=group.id, user_id=u))
        uow.flush()
        return group.id


def test_lapse_expiry_escalation_then_nothing(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    kit = kit_for(settings)
    prog, version = program(
        db, tenant, name="First aid", validity_months=12, grace_days=30, reminder_days=[90, 30, 7]
    )
    who = holder(db, tenant, "Alan Turing")
    boss = make_user(db, tenant, ["auditor"], email="boss@staff.test")
    site = make_user(db, tenant, ["auditor"], email="site@staff.test")
    other = make_user(db, tenant, ["auditor"], email="other@staff.test")
    with db.unit_of_work(tenant) as uow:
        uow.session.execute(
            text("UPDATE users SET language = 'de' WHERE id = :id"), {"id": site.id}
        )
    _group(db, tenant, "Warehouse", prog, [who], [boss.id, site.id])
    _group(db, tenant, "Night shift", prog, [who], [boss.id])  # boss is told once
    _group(db, tenant, "Canteen", None, [who], [other.id])  # does not require the program
    cert = certificate(db, tenant, version, who)
    expires = get(db, tenant, cert).expires_at
    assert expires is not None

    # First seen 20 days before expiry: one reminder (the nearest), not three.
    assert run(db, tenant, kit, expires - 20 * DAY) == {"reminder": 1}
    assert steps_of(db, tenant, cert) == ["reminder:30"]
    assert run(db, tenant, kit, expires - 7 * DAY) == {"reminder": 1}
    [last] = sent_for(db, tenant, cert, "reminder:7")
    assert "ask your organiser" in last.body  # no recertification exam

    assert run(db, tenant, kit, expires + timedelta(hours=1)) == {"expiry": 1}
    found = get(db, tenant, cert)
    assert (found.state, found.state_changed_at) == ("expired", expires + timedelta(hours=1))
    with db.unit_of_work(tenant) as uow:
        change = lifecycle.history(uow, cert)[-1]
        assert change.reason == f"validity ended on {expires.date().isoformat()}"
        assert change.changed_by is None
    assert run(db, tenant, kit, expires + 10 * DAY) == {}

    # Lapsed: the grace period is over and nothing renewed it.
    assert run(db, tenant, kit, expires + 31 * DAY) == {"escalation": 1}
    sent = sent_for(db, tenant, cert, "escalation")
    by_address = {m.to_address: m for m in sent}
    assert set(by_address) == {"boss@staff.test", "site@staff.test", found_email(db, tenant, who)}
    assert "Warehouse, Night shift" in by_address["boss@staff.test"].body or (
        "Night shift, Warehouse" in by_address["boss@staff.test"].body
    )
    assert "Alan Turing" in by_address["boss@staff.test"].subject
    assert by_address["site@staff.test"].locale == "de"
    assert "Abgelaufenes Zertifikat" in by_address["site@staff.test"].subject
    holder_mail = by_address[found_email(db, tenant, who)]
    assert "no longer valid" in holder_mail.body and found.number in holder_mail.body

    for at in (expires + 60 * DAY, expires + 800 * DAY):
        assert run(db, tenant, kit, at) == {}
    assert steps_of(db, tenant, cert) == ["reminder:30", "reminder:7", "expiry", "escalation"]
    with db.unit_of_work(tenant) as uow:
        [notice] = uow.scalars(select(Notice).where(Notice.step == "escalation"))
        assert sorted(notice.details["manager_ids"]) == sorted([str(boss.id), str(site.id)])
        assert notice.due_at == expires + 30 * DAY
    done = actions(db, tenant)
    assert done["certificate.lapse_escalated"] == 1 and done["certificate.recert_reminded"] == 2


def found_email(db: Database, tenant: uuid.UUID, who: uuid.UUID) -> str:
    with db.unit_of_work(tenant) as uow:
        email = uow.session.execute(
            text("SELECT email FROM candidates WHERE id = :id"), {"id": who}
        ).scalar_one()
        return str(email)


def test_holder_mail_speaks_the_holders_language(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    kit = kit_for(settings)
    with db.unit_of_work(tenant) as uow:
        tenants.set_languages(uow, ["en", "fr"], "en")
    _, version = program(db, tenant, name="Hygiène", validity_months=12)
    who = holder(db, tenant)
    exam = published_exam(db, tenant)
    with db.unit_of_work(tenant) as uow:  # the holder took an exam in French
        uow.session.execute(
            text("""
                INSERT INTO invitations (tenant_id, id, candidate_id, exam_id, exam_version,
                    opens_at, closes_at, extra_time_percent, status, created_by, language)
                VALUES (:t, gen_random_uuid(), :c, :e, 1, :o, :o + interval '1 day', 0,
                    'active', 'test', 'fr')
            """),
            {"t": tenant, "c": who, "e": exam, "o": NOW - 30 * DAY},
        )
    cert = certificate(db, tenant, version, who)
    expires = get(db, tenant, cert).expires_at
    assert expires is not None
    assert run(db, tenant, kit, expires - 30 * DAY) == {"reminder": 1}
    [sent] = mails(db, tenant)
    assert sent.locale == "fr"
    assert "Hygiène" in sent.subject and "expire" in sent.subject and "Your" not in sent.subject


def test_no_reminder_before_issue_none_for_revoked_and_batches(
    db: Database, settings: Settings
) -> None:
    tenant = make_tenant(db, settings).id
    kit = kit_for(settings)
    _, short = program(db, tenant, validity_months=1, reminder_days=[90, 45, 7], grace_days=0)
    cert = certificate(db, tenant, short)
    expires = get(db, tenant, cert).expires_at
    assert expires is not None
    # 90 and 45 days before the expiry lay before the issue: no reminder then.
    assert run(db, tenant, kit, NOW + DAY) == {}
    assert run(db, tenant, kit, expires - 7 * DAY) == {"reminder": 1}

    _, version = program(db, tenant, validity_months=12)
    certs = [certificate(db, tenant, version) for _ in range(5)]
    with db.unit_of_work(tenant) as uow:
        lifecycle.change_state(uow, certs[0], "revoked", "issued in error", now=NOW)
    expires = get(db, tenant, certs[1]).expires_at
    assert expires is not None
    # Batches of two: every due certificate is reached across transactions.
    first = recertification.daily_pass(db, tenant, kit, now=expires - 30 * DAY, batch=2)
    assert first.steps["reminder"] == 4 and first.batches == 3
    assert steps_of(db, tenant, certs[0]) == []


def test_two_passes_at_once_send_each_step_once(database: Database, settings: Settings) -> None:
    """On two real connections (committing): SKIP LOCKED shares the work,
    the unique notice key refuses any step taken twice."""
    tenant = make_tenant(database, settings).id
    kit = kit_for(settings)
    _, version = program(database, tenant, validity_months=12, grace_days=0)
    certs = [certificate(database, tenant, version) for _ in range(24)]
    later = NOW + 40 * DAY  # these expire 39 days after the moment below: a reminder each
    for _ in range(24):
        certificate(database, tenant, version, now=later)
    expires = get(database, tenant, certs[0]).expires_at
    assert expires is not None
    at = expires + DAY  # expiry and (no grace) escalation at once for each
    barrier = threading.Barrier(2)
    results: list[recertification.Summary] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            barrier.wait()
            results.append(recertification.daily_pass(database, tenant, kit, now=at, batch=5))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    total = Counter[str]()
    for r in results:
        total.update(r.steps)
        assert r.failed == 0
    assert total["expiry"] == 24 and total["escalation"] == 24 and total["reminder"] == 24
    with database.unit_of_work(tenant) as uow:
        assert uow.scalar(select(func.count()).select_from(Notice)) == 72
        # the final notices and the reminders, each once
        assert uow.scalar(select(func.count()).select_from(OutboxMail)) == 48
        states = Counter(uow.session.scalars(select(Certificate.state)).all())
        assert states == {"expired": 24, "issued": 24}
    again = recertification.daily_pass(database, tenant, kit, now=at)
    assert sum(again.steps.values()) == 0


def test_a_refused_invitation_costs_no_one_else_their_step(
    db: Database, settings: Settings
) -> None:
    """The recertification exam is not published: the batch runs again step
    by step, the other certificate's reminder goes out, the invitation is
    left for a later pass, which sends it once the exam is published."""
    from invigil.content import exams
    from tests.content.factories import make_exam

    tenant = make_tenant(db, settings).id
    kit = kit_for(settings)
    draft = make_exam(db, tenant)
    _, with_exam = program(
        db, tenant, validity_months=12, recert_window_days=60, recert_exam_id=str(draft)
    )
    _, plain = program(db, tenant, validity_months=12)
    invited = certificate(db, tenant, with_exam)
    reminded = certificate(db, tenant, plain)
    expires = get(db, tenant, invited).expires_at
    assert expires is not None
    at = expires - 45 * DAY
    first = recertification.daily_pass(db, tenant, kit, now=at)
    assert (first.steps["reminder"], first.steps["invitation"], first.failed) == (2, 0, 1)
    assert steps_of(db, tenant, reminded) == ["reminder:90"]
    assert steps_of(db, tenant, invited) == ["reminder:90"]
    again = recertification.daily_pass(db, tenant, kit, now=at)
    assert (sum(again.steps.values()), again.failed) == (0, 1)
    with db.unit_of_work(tenant) as uow:
        exams.publish_exam(uow, draft)
    assert run(db, tenant, kit, at + DAY) == {"invitation": 1}
    assert steps_of(db, tenant, invited) == ["reminder:90", "invitation"]


def test_upcoming_lists_the_steps_of_the_next_days_not_taken(
    db: Database, settings: Settings
) -> None:
    tenant = make_tenant(db, settings).id
    kit = kit_for(settings)
    exam = published_exam(db, tenant)
    prog, version = program(
        db, tenant, name="Cranes", validity_months=12, recert_window_days=60, grace_days=30,
        reminder_days=[90, 30, 7], recert_exam_id=str(exam),
    )  # fmt: skip
    _, other = program(db, tenant, name="Ladders", validity_months=12)
    cert = certificate(db, tenant, version)
    certificate(db, tenant, other, now=NOW + 200 * DAY)
    expires = get(db, tenant, cert).expires_at
    assert expires is not None

    def upcoming(at: datetime, program_id: uuid.UUID | None = None) -> list[tuple[str, datetime]]:
        with db.unit_of_work(tenant) as uow:
            rows = recertification.upcoming(uow, now=at, program_id=program_id)
            return [(r.step, r.due_at) for r in rows if r.certificate_id == cert]

    assert upcoming(expires - 70 * DAY) == [("invitation", expires - 60 * DAY)]
    assert upcoming(expires - 35 * DAY) == [
        ("reminder:30", expires - 30 * DAY), ("reminder:7", expires - 7 * DAY),
    ]  # fmt: skip
    assert run(db, tenant, kit, expires - 30 * DAY) == {"reminder": 1, "invitation": 1}
    assert upcoming(expires - 30 * DAY) == [("reminder:7", expires - 7 * DAY), ("expiry", expires)]
    assert run(db, tenant, kit, expires + DAY) == {"expiry": 1}
    assert upcoming(expires + DAY) == [("escalation", expires + 30 * DAY)]
    with db.unit_of_work(tenant) as uow:
        assert recertification.upcoming(uow, now=expires + DAY, program_id=uuid.uuid4()) == []
        only = recertification.upcoming(uow, now=expires + DAY, program_id=prog)
        assert {r.program for r in only} == {"Cranes"}
        recent = recertification.recent(uow, program_id=prog)
        assert [r.step for r in recent][:1] == ["expiry"] and len(recent) == 3
