"""Invitations and guest links: keyed hashes only, windows, revoke, rotate, CSV."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from invigil.audit.models import AuditEvent
from invigil.delivery import bulk, invitations, links
from invigil.delivery.links import LinkState
from invigil.delivery.models import Candidate, GuestLink, Invitation, OutboxMail
from invigil.errors import Conflict, Invalid
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase
from tests.content.factories import make_exam
from tests.delivery.factories import kit_for, make_invitation, published_exam

NOW = datetime.now(UTC)


@pytest.fixture
def kit(settings: Settings) -> invitations.Kit:
    return kit_for(settings)


def resolve(db: BoundDatabase, tenant: Tenant, kit: invitations.Kit, token: str, now=None):  # type: ignore[no-untyped-def]
    with db.unit_of_work(tenant.id) as uow:
        return links.resolve(uow, kit.key, token, now)


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


def test_invite_pins_the_version_and_stores_only_a_keyed_hash(
    db: BoundDatabase, tenant_a: Tenant, kit: invitations.Kit
) -> None:
    made = make_invitation(db, tenant_a.id, kit, external_ref="EXT-1", extra_time_percent=25)
    token = token_of(made.link)
    assert made.link.startswith(f"{kit.base_url}/take/gl.{tenant_a.id.hex}.")
    assert len(token.split(".")[2]) >= 43  # 256 bits, base64url
    with db.unit_of_work(tenant_a.id) as uow:
        inv = uow.get(Invitation, made.invitation.id)
        assert inv.exam_version == 1 and inv.extra_time_percent == 25 and inv.status == "active"
        link = uow.scalar(select(GuestLink).where(GuestLink.invitation_id == inv.id))
        assert link is not None and link.token_hash == kit.key.hash(token)
        assert link.token_hash != __import__("hashlib").sha256(token.encode()).digest()
        # The token appears in no column of any table this tenant can see.
        secret = token.split(".")[2]
        tables = uow.session.execute(
            text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            )
        ).scalars()
        for table in tables:
            hits = uow.session.execute(
                text(f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE :s'),
                {"s": f"%{secret}%"},
            ).scalar()
            assert hits == 0, table
        events = uow.scalars(select(AuditEvent).where(AuditEvent.action == "invitation.created"))
        assert any(e.subject_id == str(inv.id) for e in events)


def test_candidates_are_unique_per_tenant_by_email(
    db: BoundDatabase, tenant_a: Tenant, kit: invitations.Kit
) -> None:
    exam = published_exam(db, tenant_a.id)
    a = make_invitation(db, tenant_a.id, kit, exam, email="Same.Person@Example.org")
    b = make_invitation(db, tenant_a.id, kit, exam, email="same.person@example.org")
    assert a.candidate.id == b.candidate.id
    with db.unit_of_work(tenant_a.id) as uow:
        n = uow.session.execute(
            select(Candidate).where(Candidate.email.ilike("same.person@example.org"))
        ).all()
        assert len(n) == 1


def test_only_a_published_exam_takes_candidates(
    db: BoundDatabase, tenant_a: Tenant, kit: invitations.Kit
) -> None:
    draft = make_exam(db, tenant_a.id)
    with pytest.raises(Conflict, match="only a published exam"):
        make_invitation(db, tenant_a.id, kit, draft)


def test_window_defaults_and_is_capped_by_the_exam(
    db: BoundDatabase, tenant_a: Tenant, kit: invitations.Kit
) -> None:
    made = make_invitation(db, tenant_a.id, kit, valid_hours=5)
    inv = made.invitation
    assert abs((inv.opens_at - datetime.now(UTC)).total_seconds()) < 60
    assert inv.closes_at - inv.opens_at == timedelta(hours=5)

    closes = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    capped = published_exam(db, tenant_a.id, settings={"closes_at": closes.isoformat()})
    inv2 = make_invitation(db, tenant_a.id, kit, capped, valid_hours=48).invitation
    assert inv2.closes_at == closes

    opens = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    later = published_exam(db, tenant_a.id, settings={"opens_at": opens.isoformat()})
    inv3 = make_invitation(db, tenant_a.id, kit, later, valid_hours=5).invitation
    assert inv3.opens_at == opens and inv3.closes_at == opens + timedelta(hours=5)


def test_an_empty_window_is_refused(
    db: BoundDatabase, tenant_a: Tenant, kit: invitations.Kit
) -> None:
    with pytest.raises(Invalid, match="close before it opens"):
        make_invitation(
            db,
            tenant_a.id,
            kit,
            opens_at=NOW + timedelta(hours=2),
            closes_at=NOW + timedelta(hours=1),
        )
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    closed = published_exam(db, tenant_a.id, settings={"closes_at": past})
    with pytest.raises(Conflict, match="has closed"):
        make_invitation(db, tenant_a.id, kit, closed)


def test_states_follow_the_window(
    db: BoundDatabase, tenant_a: Tenant, kit: invitations.Kit
) -> None:
    opens, closes = NOW + timedelta(hours=1), NOW + timedelta(hours=3)
    made = make_invitation(db, tenant_a.id, kit, opens_at=opens, closes_at=closes)
    token = token_of(made.link)
    assert resolve(db, tenant_a, kit, token, NOW).state == LinkState.NOT_YET_OPEN
    assert resolve(db, tenant_a, kit, token, opens).state == LinkState.VALID
    assert resolve(db, tenant_a, kit, token, closes - timedelta(seconds=1)).state == LinkState.VALID
    assert resolve(db, tenant_a, kit, token, closes).state == LinkState.EXPIRED


def test_revoke_is_immediate_and_audited(
    db: BoundDatabase, tenant_a: Tenant, kit: invitations.Kit
) -> None:
    made = make_invitation(db, tenant_a.id, kit)
    token = token_of(made.link)
    assert resolve(db, tenant_a, kit, token).state == LinkState.VALID
    with db.unit_of_work(tenant_a.id) as uow:
        invitations.revoke(uow, made.invitation.id)
    found = resolve(db, tenant_a, kit, token)
    assert found.state == LinkState.REVOKED and found.neutral
    with db.unit_of_work(tenant_a.id) as uow:
        assert uow.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "invitation.revoked",
                AuditEvent.subject_id == str(made.invitation.id),
            )
        )
        with pytest.raises(Conflict):
            invitations.revoke(uow, made.invitation.id)
        with pytest.raises(Conflict):
            invitations.rotate(uow, kit, made.invitation.id)


def test_rotate_replaces_the_link_at_once(
    db: BoundDatabase, tenant_a: Tenant, kit: invitations.Kit
) -> None:
    made = make_invitation(db, tenant_a.id, kit)
    old = token_of(made.link)
    with db.unit_of_work(tenant_a.id) as uow:
        again = invitations.rotate(uow, kit, made.invitation.id)
    new = token_of(again.link)
    assert new != old
    assert resolve(db, tenant_a, kit, old).state == LinkState.REPLACED
    assert resolve(db, tenant_a, kit, new).state == LinkState.VALID
    with db.unit_of_work(tenant_a.id) as uow:
        live = uow.scalars(
            select(GuestLink).where(
                GuestLink.invitation_id == made.invitation.id, GuestLink.ended_at.is_(None)
            )
        )
        assert len(live) == 1
        assert uow.scalar(select(AuditEvent).where(AuditEvent.action == "guest_link.rotated"))
        mails = uow.scalars(
            select(OutboxMail).where(OutboxMail.invitation_id == made.invitation.id)
        )
        assert len(mails) == 2  # the invitation and the resend


def test_unknown_malformed_and_other_tenant_tokens_are_unknown(
    db: BoundDatabase, tenant_a: Tenant, tenant_b: Tenant, kit: invitations.Kit
) -> None:
    made = make_invitation(db, tenant_a.id, kit)
    token = token_of(made.link)
    assert resolve(db, tenant_b, kit, token).state == LinkState.UNKNOWN  # RLS: not found
    forged = f"gl.{tenant_a.id.hex}.{'A' * 43}"
    assert resolve(db, tenant_a, kit, forged).state == LinkState.UNKNOWN
    assert links.resolve(None, kit.key, "nonsense").state == LinkState.UNKNOWN
    assert links.tenant_of("gl.nothex.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx") is None
    assert links.tenant_of(forged) == tenant_a.id
    assert links.tenant_of(f"gl.{tenant_a.id.hex}.{'A' * 300}") is None  # far longer than a link


def test_the_link_key_is_a_file_made_once(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    key = links.LinkKey(tmp_path / "keys" / "guest-link.key")
    h = key.hash("x")
    assert (tmp_path / "keys" / "guest-link.key").stat().st_mode & 0o777 == 0o600
    assert links.LinkKey(tmp_path / "keys" / "guest-link.key").hash("x") == h
    assert links.LinkKey(tmp_path / "other.key").hash("x") != h


# -- CSV ---------------------------------------------------------------------------


def test_csv_invites_everyone(db: BoundDatabase, tenant_a: Tenant, kit: invitations.Kit) -> None:
    exam = published_exam(db, tenant_a.id)
    content = (
        b"name,email,external_ref,extra_time_percent\n"
        b"Ann One,ann@example.org,R1,\n"
        b"\n"
        b"Bob Two,bob@example.org,,50\n"
    )
    with db.unit_of_work(tenant_a.id) as uow:
        made = bulk.invite_many(uow, kit, content, exam=str(exam), valid_hours=10)
    assert [m.candidate.email for m in made] == ["ann@example.org", "bob@example.org"]
    assert made[1].invitation.extra_time_percent == 50
    assert len({m.link for m in made}) == 2


def test_csv_is_atomic_with_a_report_by_line(
    db: BoundDatabase, tenant_a: Tenant, kit: invitations.Kit
) -> None:
    exam = published_exam(db, tenant_a.id)
    content = (
        b"name,email,extra_time_percent,opens_at\n"
        b"Good One,good@example.org,,\n"
        b"No Email,not-an-email,,\n"
        b"Too Much,much@example.org,400,\n"
        b"Again,GOOD@example.org,,\n"
        b"Naive,naive@example.org,,2026-12-01T09:00\n"
    )
    with db.unit_of_work(tenant_a.id) as uow:
        before = len(uow.scalars(select(Invitation)))
        with pytest.raises(Invalid) as caught:
            bulk.invite_many(uow, kit, content, exam=str(exam))
        after = len(uow.scalars(select(Invitation)))
    assert before == after
    report = caught.value.extensions["problems"]
    assert [p["line"] for p in report] == [3, 4, 5, 6]
    assert "not an email" in report[0]["message"]
    assert "0 to 300" in report[1]["message"]
    assert "line 2" in report[2]["message"]
    assert "time zone" in report[3]["message"]


def test_csv_header_problems(db: BoundDatabase, tenant_a: Tenant, kit: invitations.Kit) -> None:
    exam = published_exam(db, tenant_a.id)
    with db.unit_of_work(tenant_a.id) as uow, pytest.raises(Invalid) as caught:
        bulk.invite_many(uow, kit, b"name,mail\nA,b@c.de\n", exam=str(exam))
    messages = [p["message"] for p in caught.value.extensions["problems"]]
    assert messages == ["missing column(s): email", "unknown column(s): mail"]


def test_list_filters_and_pages(
    db: BoundDatabase, settings: Settings, kit: invitations.Kit
) -> None:
    from tests.conftest import make_tenant

    tenant = make_tenant(db, settings)
    exam = published_exam(db, tenant.id)
    other = published_exam(db, tenant.id)
    made = [make_invitation(db, tenant.id, kit, exam) for _ in range(3)]
    make_invitation(db, tenant.id, kit, other)
    with db.unit_of_work(tenant.id) as uow:
        invitations.revoke(uow, made[0].invitation.id)
        first, nxt = invitations.list_invitations(uow, exam_id=exam, limit=2)
        assert len(first) == 2 and nxt
        rest, end = invitations.list_invitations(uow, exam_id=exam, limit=2, cursor=nxt)
        assert len(rest) == 1 and end is None
        ids = {i.id for i, _ in first + rest}
        assert ids == {m.invitation.id for m in made}
        revoked, _ = invitations.list_invitations(uow, status="revoked")
        assert [i.id for i, _ in revoked] == [made[0].invitation.id]
    assert uuid.UUID(str(made[0].invitation.id))
