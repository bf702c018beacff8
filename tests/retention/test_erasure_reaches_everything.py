"""Erasing a person reaches every row about them.

One candidate with a distinctive name, e-mail and external reference goes
through a whole journey (invited, consents, sits a proctored exam, is
flagged, contests, a reviewer decides with reasons that name them, a grader
comments naming them, a moderator regrades naming them, the result is
released, they are shortlisted with a note naming them, certified, their
certificate suspended with a reason naming them, a second attempt voided
with a note naming them, privacy requests made with notes naming them),
then the erasure request is carried out. Then every column of every table
in the public schema (read from pg_catalog now, so a table added later is
scanned too) is searched, case-insensitively, for each of their
identifiers. None may remain outside :data:`ALLOWED`, and every entry of
:data:`ALLOWED` must still be hit, so the list cannot outlive its reason.
A second candidate of the same tenant and one of another tenant, each with
staff's words about them, are found untouched; ``audit verify`` passes and
names every record the erasure altered.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from invigil.audit import service as audit_service
from invigil.certification import issuance, lifecycle
from invigil.certification.models import PendingIssue, ProgramVersion
from invigil.cli.audit import _sources
from invigil.db.uow import Actor
from invigil.db.urls import DatabaseUrls
from invigil.delivery import attempts, voids
from invigil.delivery.demo import sit_down
from invigil.delivery.models import Invitation
from invigil.proctoring import contests, pipeline, reviews
from invigil.proctoring.models import ProctoringAction, ReviewDecision
from invigil.results import grading, release
from invigil.results.schemas import CriterionMarkIn, MarkIn, RegradeIn
from invigil.retention import receipts, requests
from invigil.retention.models import Receipt
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from invigil.shortlists import service as shortlists
from invigil.shortlists import stages
from tests.certification.factories import program
from tests.conftest import BoundDatabase, make_tenant, make_user
from tests.delivery.factories import kit_for, make_invitation
from tests.proctoring.test_pipeline import Chain
from tests.results.factories import graded_exam
from tests.results.helpers import FLAGGING
from tests.results.helpers import Sat as PortalSat
from tests.retention.test_portal import contest, portal_token
from tests.webhooks.factories import make_endpoint

# Where an identifier of the erased person may still be found, and why.
# Each entry must be hit by the scan: one that is not fails the test.
# Empty: nothing of theirs is left in the database. (What was sent or built
# from their data lives outside it: webhook bodies carry ids only and are
# scanned here all the same; evidence bundles and certificate documents are
# encrypted objects in the store, not rows.)
ALLOWED: dict[tuple[str, str], str] = {}


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

# Every column of every table in the public schema, read from the catalog
# when the search runs; as a superuser (row security does not hide another
# tenant's rows) inside the test's own transaction (it sees what the test
# wrote and has not committed). bytea is read as escaped text (ASCII stays).
SEARCH = """
    CREATE FUNCTION erasure_scan.find(p_needle text)
    RETURNS TABLE (out_table text, out_column text, out_rows bigint)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
    DECLARE c record; n bigint; expr text;
    BEGIN
      FOR c IN
        SELECT cl.relname::text AS t, a.attname::text AS col, a.atttypid AS typ
        FROM pg_class cl
        JOIN pg_namespace ns ON ns.oid = cl.relnamespace
        JOIN pg_attribute a ON a.attrelid = cl.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE ns.nspname = 'public' AND cl.relkind IN ('r', 'p')
        ORDER BY 1, 2
      LOOP
        IF c.typ = 'bytea'::regtype THEN
          expr := format('encode(%I, ''escape'')', c.col);
        ELSE
          expr := format('%I::text', c.col);
        END IF;
        EXECUTE format('SELECT count(*) FROM public.%I WHERE strpos(lower(%s), lower($1)) > 0',
                       c.t, expr) INTO n USING p_needle;
        IF n > 0 THEN
          out_table := c.t; out_column := c.col; out_rows := n;
          RETURN NEXT;
        END IF;
      END LOOP;
    END $$
"""


@pytest.fixture(scope="module")
def scan(urls: DatabaseUrls, settings: Settings) -> Iterator[None]:
    """The search function, committed for this module's tests, dropped after."""
    engine = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    with engine.begin() as conn:
        mighty = conn.execute(
            text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
        ).scalar()
        assert mighty, "the whole-database search needs a superuser (or BYPASSRLS) admin role"
        conn.execute(text("DROP SCHEMA IF EXISTS erasure_scan CASCADE"))
        conn.execute(text("CREATE SCHEMA erasure_scan"))
        conn.execute(text(SEARCH))
        conn.execute(text(f'GRANT USAGE ON SCHEMA erasure_scan TO "{settings.db_app_role}"'))
        conn.execute(
            text(f'GRANT EXECUTE ON FUNCTION erasure_scan.find(text) TO "{settings.db_app_role}"')
        )
    yield
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA erasure_scan CASCADE"))
    engine.dispose()


def found(db: BoundDatabase, tenant_id: uuid.UUID, person: Person) -> dict[tuple[str, str], str]:
    """(table, column) -> which of the person's identifiers it holds."""
    out: dict[tuple[str, str], str] = {}
    with db.unit_of_work(tenant_id) as uow:
        for what, needle in person.needles.items():
            rows = uow.session.execute(
                text("SELECT out_table, out_column FROM erasure_scan.find(:n)"), {"n": needle}
            ).all()
            for table, column in rows:
                out.setdefault((table, column), what)
    return out


@pytest.fixture(autouse=True)
def app_ring(app: FastAPI) -> Iterator[None]:
    """Receipts signed with the ring the app's audit verify checks."""
    saved = dict(receipts._ring)
    receipts.use_ring(app.state.services.keys.audit)
    yield
    receipts._ring.clear()
    receipts._ring.update(saved)


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
    tenant_id: uuid.UUID, who: Person, *, exam: uuid.UUID, erased: bool,
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
        voids.void(uow, second.id, "other", f"{who.name} was sent the wrong link")
    certificate = None
    if erased:
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


def test_erasing_a_person_leaves_no_identifier_of_theirs_anywhere(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings, scan: None
) -> None:
    tenant = make_tenant(db, settings)
    exam = graded_exam(db, tenant.id, proctoring_policy=FLAGGING)
    # A receiver of the shortlist's events: their bodies are scanned too.
    box = SecretBox(Path(settings.home) / "erasure-webhooks.key")
    make_endpoint(db, tenant.id, box, names=["shortlist.completed", "stage.changed"])
    mine = journey(app, client, db, settings, tenant.id, ERASED, exam=exam, erased=True)
    journey(app, client, db, settings, tenant.id, STAYS, exam=exam, erased=False)
    other = make_tenant(db, settings)
    journey(app, client, db, settings, other.id,  ELSEWHERE, erased=False,
            exam=graded_exam(db, other.id, proctoring_policy=FLAGGING))  # fmt: skip

    before = found(db, tenant.id, ERASED)
    # The journey reached the staff's words it is meant to test.
    for place in (
        ("candidates", "name"), ("review_decisions", "reason"), ("grading_marks", "marks"),
        ("grading_marks", "reason"), ("shortlist_stage_changes", "note"),
        ("attempt_voids", "note"), ("certificate_state_changes", "reason"),
        ("privacy_requests", "note"), ("privacy_requests", "outcome"),
        ("proctoring_contests", "text"), ("cert_pending", "reason"), ("attempt_results", "document"),
    ):  # fmt: skip
        assert place in before, (place, sorted(before))

    with db.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        asked = requests.receive(
            uow, candidate_id=mine.candidate, kind="erasure", note=f"{ERASED.first} wrote in"
        )
        done = requests.erase(uow, app.state.services.evidence, asked.id, "Asked by e-mail")
    assert done.kept == [] and done.receipts

    after = found(db, tenant.id, ERASED)
    with db.unit_of_work(tenant.id) as uow:
        sent = uow.session.execute(text("SELECT count(*) FROM webhook_deliveries")).scalar()
    assert sent, "the journey was meant to send webhooks"
    left = {place: what for place, what in after.items() if place not in ALLOWED}
    assert left == {}, f"still found after the erasure: {left}"
    unused = sorted(set(ALLOWED) - set(after))
    assert unused == [], f"allowed but no longer found (remove them from ALLOWED): {unused}"

    # The other two people are untouched, staff's words included.
    for person, words in ((STAYS, True), (ELSEWHERE, True)):
        kept = found(db, tenant.id, person)
        for place in (("candidates", "name"), ("candidates", "email"),
                      ("candidates", "external_ref")):  # fmt: skip
            assert place in kept, (person, place, sorted(kept))
        if words:
            for place in (("review_decisions", "reason"), ("grading_marks", "marks"),
                          ("shortlist_stage_changes", "note"), ("attempt_voids", "note"),
                          ("proctoring_contests", "text")):  # fmt: skip
                assert place in kept, (person, place, sorted(kept))

    # The structured decisions stay; the receipt counts the words removed;
    # audit verify passes and names every record the erasure altered.
    with db.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        decisions = list(uow.scalars(
            select(ReviewDecision.decision).where(ReviewDecision.attempt_id == mine.attempt)
        ))  # fmt: skip
        assert sorted(decisions) == ["cleared", "confirmed"]
        void = voids.of(uow, mine.voided)
        assert void is not None and void.reason == "other" and void.note == ""
        marks = grading.marks_of(uow, mine.attempt)
        assert [m.kind for m in marks if m.slot == 2] == ["first", "regrade"]
        assert all(c.get("comment", "") == "" for m in marks for c in m.marks)
        assert [c.text for c in contests.of_attempt(uow, mine.attempt)] == [""]
        identity = uow.scalar(select(Receipt).where(Receipt.data_class == "candidate_identity"))
        assert identity is not None
        rows = identity.counts["rows"]
        assert rows["review_decisions"] == 2 and rows["attempt_voids"] == 1, rows
        assert rows["grading_marks"] == 3 and rows["shortlist_stage_changes"] == 1, rows
        assert rows["certificate_state_changes"] == 1 and rows["cert_pending"] == 1, rows
        assert rows["attempt_results"] == 1, rows  # the revision the regrade issued
        assert rows["privacy_requests"] == 2, rows  # the objection and the erasure request
        report = audit_service.verify_tenant(uow, app.state.services.keys.audit, _sources())
    assert report.ok, (report.problems, report.records.problems)
    named = {line.split(" ")[0] for line in report.records.purged_records}
    for kind in ("review_decision", "attempt_void", "mark", "shortlist_stage", "result",
                 "certificate_state", "privacy_request", "proctoring_contest"):  # fmt: skip
        assert kind in named, (kind, report.records.purged_records)
