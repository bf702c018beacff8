"""A whole journey of one candidate, for the erasure tests: invited,
consents, sits a proctored exam (the essay names them), is flagged,
contests, a reviewer decides with reasons that name them, a grader comments
naming them, a moderator regrades naming them, the result is released, they
are shortlisted with a note naming them, a second attempt is voided with a
note naming them; with ``certified``: a certificate suspended with a reason
naming them, a pending request rejected naming them, an objection received
and completed in words naming them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from invigil.certification import issuance, lifecycle
from invigil.certification.models import PendingIssue, ProgramVersion
from invigil.db.uow import Actor
from invigil.delivery import attempts, voids
from invigil.delivery.demo import sit_down
from invigil.delivery.models import Invitation
from invigil.proctoring import pipeline, reviews
from invigil.proctoring.models import ProctoringAction
from invigil.results import grading, release
from invigil.results.schemas import CriterionMarkIn, MarkIn, RegradeIn
from invigil.retention import requests
from invigil.settings import Settings
from invigil.shortlists import service as shortlists
from invigil.shortlists import stages
from tests.certification.factories import program
from tests.conftest import BoundDatabase, make_user
from tests.delivery.factories import kit_for, make_invitation
from tests.proctoring.test_pipeline import Chain
from tests.results.helpers import Sat as PortalSat
from tests.retention.test_portal import contest, portal_token


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    email: str
    ref: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def needles(self) -> dict[str, str]:
        """What identifies them: each part of the name alone (staff write
        first names), the e-mail (its case changed: the search ignores
        case) and the external reference."""
        return {
            "first name": self.first,
            "last name": self.last,
            "e-mail": self.email.swapcase(),
            "reference": self.ref,
        }


ERASED = Person("Zephyrine", "Quillfeather", "Zephyrine.QUILLFEATHER@Example.org", "ZQ-7731-XK")
STAYS = Person("Bartholomew", "Vantongeren", "bart.vantongeren@example.net", "BV-4410-QM")
ELSEWHERE = Person("Ottoline", "Marchbanks", "ottoline.marchbanks@example.com", "OM-9902-RT")


@dataclass(frozen=True)
class Journey:
    attempt: uuid.UUID
    voided: uuid.UUID
    candidate: uuid.UUID
    certificate: uuid.UUID | None


def sit(
    db: BoundDatabase, settings: Settings, tenant_id: uuid.UUID, exam: uuid.UUID, who: Person
) -> tuple[uuid.UUID, uuid.UUID]:
    """Invited, consents, answers (the essay names them), switches tabs (a
    flag), submits: (attempt, invitation)."""
    kit = kit_for(settings)
    invitation = make_invitation(
        db, tenant_id, kit, exam, name=who.name, email=who.email, external_ref=who.ref
    ).invitation
    began = datetime.now(UTC) - timedelta(minutes=30)
    with db.unit_of_work(tenant_id, Actor("candidate", str(invitation.candidate_id))) as uow:
        attempt = sit_down(uow, kit, invitation, began, attempts.Browser("198.51.100.4", "UA"))
        essay = f"I am {who.name} ({who.ref}); remote work widens the pool of people to hire."
        answers = {0: 1, 1: essay, 2: "Bonn, I think"}
        items = [
            attempts.Item(i, r, n + 1, time_ms=1000) for n, (i, r) in enumerate(answers.items())
        ]
        attempts.save(uow, attempt, items, now=began + timedelta(minutes=5))
        chain = Chain(str(attempt.id))
        at = began + timedelta(minutes=6)
        sent = [
            chain.message("tab.hidden", "start", at),
            chain.message("tab.hidden", "end", at + timedelta(seconds=5), ends=1),
        ]
        pipeline.ingest(uow, attempt, [pipeline.Message(**m) for m in sent], at)
        attempts.submit(uow, attempt, "candidate", now=began + timedelta(minutes=10))
        return attempt.id, invitation.id


def judged(db: BoundDatabase, tenant_id: uuid.UUID, attempt_id: uuid.UUID, who: Person) -> None:
    """A reviewer decides the flag and the outcome, a grader marks the essay
    and the short answer, a moderator regrades: each in words naming them."""
    reviewer = make_user(db, tenant_id, ["proctor_reviewer"])
    with db.unit_of_work(tenant_id, Actor("user", str(reviewer.id))) as uow:
        flag = uow.scalar(select(ProctoringAction).where(ProctoringAction.attempt_id == attempt_id))
        assert flag is not None
        reviews.decide(uow, attempt_id, reviews.Decide(
            "flag", "confirmed", f"{who.first} looked away on the snapshot", action_id=flag.id,
        ))  # fmt: skip
    with db.unit_of_work(tenant_id, Actor("user", str(reviewer.id))) as uow:
        reason = f"Cleared: {who.name} explained the fire alarm"
        reviews.decide(uow, attempt_id, reviews.Decide("outcome", "cleared", reason))
    grader = make_user(db, tenant_id, ["grader"])
    essay = MarkIn(criteria=[
        CriterionMarkIn(criterion="Argument: structure", level="Strong = clear",
                        comment=f"{who.first} argues well"),
        CriterionMarkIn(criterion="Language", level="Good", comment=f"see {who.ref}"),
    ])  # fmt: skip
    with db.unit_of_work(tenant_id, Actor("user", str(grader.id))) as uow:
        grading.submit_mark(uow, attempt_id, 1, essay)
        short = MarkIn(points=Decimal("2"), comment=f"Ms {who.last} is right")
        grading.submit_mark(uow, attempt_id, 2, short)
    moderator = make_user(db, tenant_id, ["tenant_admin"])
    with db.unit_of_work(tenant_id, Actor("user", str(moderator.id))) as uow:
        again = RegradeIn(points=Decimal("1.5"), comment="half", reason=f"{who.last} misspelt it")
        grading.regrade(uow, attempt_id, 2, again)


def journey(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings,
    tenant_id: uuid.UUID, who: Person, *, exam: uuid.UUID, certified: bool,
) -> Journey:  # fmt: skip
    attempt_id, invitation_id = sit(db, settings, tenant_id, exam, who)
    sat = PortalSat(tenant_id, exam, attempt_id, invitation_id)
    token = portal_token(db, settings, sat)
    with db.unit_of_work(tenant_id) as uow:
        flag = uow.scalar(select(ProctoringAction).where(ProctoringAction.attempt_id == attempt_id))
        assert flag is not None
    words = f"This is {who.name}: the fire alarm went off."
    assert contest(client, token, sat, str(flag.id), text=words).status_code == 303
    judged(db, tenant_id, attempt_id, who)
    with db.unit_of_work(tenant_id, Actor.operator("test")) as uow:
        release.release_one(uow, attempt_id)
        candidate = uow.get(Invitation, invitation_id).candidate_id
        rules, _ = shortlists.create_rule_set(uow, f"rules {uuid.uuid4().hex[:6]}", {})
        run = shortlists.create_run(uow, rules.id, exam_ids=[exam])
        stages.move(uow, run.id, attempt_id, "interview", f"Call {who.first} on Monday")
    # A second attempt, voided with a note naming them.
    kit = kit_for(settings)
    again = make_invitation(db, tenant_id, kit, exam, name=who.name, email=who.email).invitation
    assert again.candidate_id == candidate
    with db.unit_of_work(tenant_id, Actor.operator("test")) as uow:
        began = datetime.now(UTC) - timedelta(minutes=5)
        second = sit_down(uow, kit, again, began, attempts.Browser("198.51.100.4", "UA"))
        # Released from its browser first, with a reason naming them.
        attempts.release(uow, second, f"{who.first}'s laptop died")
        voids.void(uow, second.id, "other", f"{who.name} was sent the wrong link")
    certificate = None
    if certified:
        program_id, version_id = program(db, tenant_id, exam_ids=[exam])
        approver = make_user(db, tenant_id, ["certification_manager"]).id
        with db.unit_of_work(tenant_id, Actor.operator("test")) as uow:
            version = uow.session.get(ProgramVersion, (tenant_id, version_id))
            assert version is not None
            now = datetime.now(UTC)
            cert = lifecycle.issue(
                uow, lifecycle.Issue(version=version, holder_id=candidate, basis=[]), now=now
            )
            lifecycle.change_state(
                uow, cert.id, "suspended", f"{who.first} asked to pause it", now=now
            )
            certificate = cert.id
            asked = PendingIssue(
                tenant_id=tenant_id, id=uuid.uuid4(), program_id=program_id,
                program_version_id=version_id, holder_id=candidate, basis=[],
            )  # fmt: skip
            uow.add(asked)
            uow.flush()
            issuance.reject(uow, asked.id, approver, f"{who.last} must sit it again", now)
            objection = requests.receive(
                uow, candidate_id=candidate, kind="objection", note=f"{who.name} phoned"
            )
            requests.complete(uow, objection.id, f"Stopped mailing {who.email}")
    return Journey(attempt_id, second.id, candidate, certificate)
