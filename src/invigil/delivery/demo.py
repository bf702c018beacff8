"""Demo invitations: a few candidates invited to ``standard-demo`` (idempotent:
a candidate who already has an invitation to it is left alone). Without SMTP
their mails land in the outbox (not sent); with SMTP none is queued, as the
addresses are not real. The links are kept nowhere: make a new one on the
Candidates page to open a demo invitation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from invigil.content import bodies as b
from invigil.content.models import QuestionVersion
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery import attempts, invitations
from invigil.delivery.attempts import Item
from invigil.delivery.candidates import find_by_email
from invigil.delivery.invitations import InviteRequest, Kit
from invigil.delivery.landing import shown_to
from invigil.delivery.models import Attempt, Invitation

EXAM = "standard-demo"
CANDIDATES = (
    ("Ada Lovelace", "ada.lovelace", "HR-1001", 0),
    ("Alan Turing", "alan.turing", "HR-1002", 25),
    ("Grace Hopper", "grace.hopper", "HR-1003", 0),
)


def seed_invitations(db: Database, tenant_id: uuid.UUID, slug: str, kit: Kit) -> bool:
    created = False
    with db.unit_of_work(tenant_id, Actor.operator("demo")) as uow:
        exam, _ = invitations.published_exam(uow, EXAM)
        for name, local, ref, extra in CANDIDATES:
            email = f"{local}@candidates.{slug}.test"
            found = find_by_email(uow, email)
            if found is not None:
                already = uow.scalar(
                    select(Invitation.id).where(
                        Invitation.candidate_id == found.id, Invitation.exam_id == exam.id
                    )
                )
                if already is not None:
                    continue
            invitations.invite(
                uow,
                kit,
                InviteRequest(
                    name=name,
                    email=email,
                    exam=EXAM,
                    external_ref=ref,
                    extra_time_percent=extra,
                    valid_hours=30 * 24,
                    send_mail=not kit.smtp,
                ),
            )
            created = True
    return created


# Who finishes the demo exam, and how well: a share of questions answered right.
FINISHERS = (("ada.lovelace", 1.0), ("alan.turing", 0.5))


def seed_attempts(db: Database, tenant_id: uuid.UUID, slug: str, kit: Kit) -> bool:
    """Finished attempts for the first demo candidates (idempotent): consent,
    a 20-minute sitting that ended half an hour ago, answers, submission and
    the scored result — all through the same services a browser uses."""
    created = False
    with db.unit_of_work(tenant_id, Actor.operator("demo")) as uow:
        exam, _ = invitations.published_exam(uow, EXAM)
        for local, share in FINISHERS:
            candidate = find_by_email(uow, f"{local}@candidates.{slug}.test")
            if candidate is None:
                continue
            invitation = uow.scalar(
                select(Invitation).where(
                    Invitation.candidate_id == candidate.id, Invitation.exam_id == exam.id
                )
            )
            if invitation is None or attempts.latest(uow, invitation.id) is not None:
                continue
            uow.actor = Actor("candidate", str(candidate.id))
            began = datetime.now(UTC) - timedelta(minutes=50)
            attempt = sit_down(uow, kit, invitation, began)
            items = demo_answers(uow, attempt, share)
            attempts.save(uow, attempt, items, now=began + timedelta(minutes=15))
            attempts.submit(uow, attempt, "candidate", now=began + timedelta(minutes=20))
            uow.actor = Actor.operator("demo")
            created = True
    return created


def sit_down(
    uow: UnitOfWork,
    kit: Kit,
    invitation: Invitation,
    began: datetime,
    browser: attempts.Browser | None = None,
    language: str | None = None,
) -> Attempt:
    """The candidate of ``invitation`` agrees to the English consent, starts
    and begins an attempt at ``began``, as the landing page and the player
    would (for the demo and the tests, which have no browser), reading the
    questions in ``language`` (None: as written). The demo's candidates
    have no camera: their system check is taken as passed."""
    version = attempts.version_of(uow, invitation.exam_id, invitation.exam_version)
    shown, retention = shown_to(uow, version, "en")
    attempt = attempts.start(
        uow,
        kit.key,
        invitation,
        version,
        consent_text=shown.text,
        consent_language=shown.language,
        shown_sha256=shown.sha256,
        shown_language=shown.language,
        browser=browser or attempts.Browser(address="demo", user_agent="invigil demo"),
        now=began,
        retention_version=retention,
    ).attempt
    attempt.face_seen_at = began
    attempts.begin(uow, attempt, version, invitation, now=began, language=language)
    return attempt


def demo_answers(uow: UnitOfWork, attempt: Attempt, share: float) -> list[Item]:
    """Plausible answers in paper positions: right for the first ``share`` of
    the questions, wrong (or blank) for the rest."""
    paper = attempt.paper
    ids = [uuid.UUID(s["version_id"]) for s in paper]
    versions = {
        str(v.id): v
        for v in uow.scalars(select(QuestionVersion).where(QuestionVersion.id.in_(ids)))
    }
    items: list[Item] = []
    cut = round(len(paper) * share)
    for index, slot in enumerate(paper):
        body = b.parse_body(versions[slot["version_id"]].body)
        response = _answer(body, list(slot["option_order"]), right=index < cut)
        if response is not None:
            items.append(Item(index, response, index + 1, time_ms=30_000 + 7_000 * index))
    return items


def _answer(body: b.Body, order: list[int], *, right: bool) -> Any:
    if isinstance(body, b.SingleChoice):
        correct = order.index(body.correct)
        return correct if right else (correct + 1) % len(order)
    if isinstance(body, b.MultipleChoice):
        chosen = [order.index(c) for c in body.correct]
        return chosen if right else chosen[:1]
    if isinstance(body, b.TrueFalse):
        return body.correct == right
    if isinstance(body, b.Numeric):
        return body.value if right else body.value + 1
    if isinstance(body, b.ShortText):
        return body.accepted[0] if right and body.accepted else "I do not know"
    if isinstance(body, b.Essay):
        return (
            "Remote work widens the pool of people a team can hire and removes the commute, "
            "but it asks for deliberate communication and trust."
        )
    positions = [order.index(i) for i in range(len(order))]
    if isinstance(body, b.Ordering):
        return positions if right else list(reversed(positions))
    if isinstance(body, b.Matching):
        return positions if right else None
    return None


# A sitting that failed for a technical reason and was voided (its start
# refunded): the billing history's refund. Acme only (the metered demo tenant).
VOIDED = ("Katherine Johnson", "katherine.johnson", "HR-1004", "practice-demo")
VOID_NOTE = "The candidate's laptop froze five minutes in; a new attempt is allowed."


def seed_void(db: Database, tenant_id: uuid.UUID, slug: str, kit: Kit) -> bool:
    """One begun attempt voided for a technical failure (idempotent)."""
    from invigil.delivery import voids

    if slug != "acme":
        return False
    name, local, ref, exam_slug = VOIDED
    email = f"{local}@candidates.{slug}.test"
    with db.unit_of_work(tenant_id, Actor.operator("demo")) as uow:
        exam, _ = invitations.published_exam(uow, exam_slug)
        found = find_by_email(uow, email)
        if found is not None:
            earlier = uow.scalar(
                select(Invitation.id).where(
                    Invitation.candidate_id == found.id, Invitation.exam_id == exam.id
                )
            )
            if earlier is not None:
                return False
        made = invitations.invite(
            uow, kit,
            InviteRequest(name=name, email=email, exam=exam_slug, external_ref=ref,
                          valid_hours=30 * 24, send_mail=False),
        )  # fmt: skip
        began = datetime.now(UTC) - timedelta(hours=2)
        uow.actor = Actor("candidate", str(made.candidate.id))
        attempt = sit_down(uow, kit, made.invitation, began)
        uow.actor = Actor.operator("demo")
        voids.void(uow, attempt.id, "technical_failure", VOID_NOTE,
                   now=began + timedelta(minutes=7))  # fmt: skip
    return True
