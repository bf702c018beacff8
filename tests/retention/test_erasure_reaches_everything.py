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
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from invigil.audit import service as audit_service
from invigil.cli.audit import _sources
from invigil.db.uow import Actor
from invigil.db.urls import DatabaseUrls
from invigil.delivery import voids
from invigil.proctoring import contests
from invigil.proctoring.models import ReviewDecision
from invigil.results import grading
from invigil.retention import receipts, requests
from invigil.retention.models import Receipt
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from tests.conftest import BoundDatabase, make_tenant
from tests.results.factories import graded_exam
from tests.results.helpers import FLAGGING
from tests.retention.journey import ELSEWHERE, ERASED, STAYS, Person, journey
from tests.webhooks.factories import make_endpoint

# Where an identifier of the erased person may still be found, and why.
# Each entry must be hit by the scan: one that is not fails the test.
# Empty: nothing of theirs is left in the database. (What was sent or built
# from their data lives outside it: webhook bodies carry ids only and are
# scanned here all the same; evidence bundles and certificate documents are
# encrypted objects in the store, not rows.)
ALLOWED: dict[tuple[str, str], str] = {}


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


def test_erasing_a_person_leaves_no_identifier_of_theirs_anywhere(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings, scan: None
) -> None:
    tenant = make_tenant(db, settings)
    exam = graded_exam(db, tenant.id, proctoring_policy=FLAGGING)
    # A receiver of the shortlist's events: their bodies are scanned too.
    box = SecretBox(Path(settings.home) / "erasure-webhooks.key")
    make_endpoint(db, tenant.id, box, names=["shortlist.completed", "stage.changed"])
    mine = journey(app, client, db, settings, tenant.id, ERASED, exam=exam, certified=True)
    journey(app, client, db, settings, tenant.id, STAYS, exam=exam, certified=False)
    other = make_tenant(db, settings)
    journey(app, client, db, settings, other.id,  ELSEWHERE, certified=False,
            exam=graded_exam(db, other.id, proctoring_policy=FLAGGING))  # fmt: skip

    before = found(db, tenant.id, ERASED)
    # The journey reached the staff's words it is meant to test.
    for place in (
        ("candidates", "name"), ("review_decisions", "reason"), ("grading_marks", "marks"),
        ("grading_marks", "reason"), ("shortlist_stage_changes", "note"),
        ("attempt_voids", "note"), ("attempt_releases", "reason"),
        ("certificate_state_changes", "reason"),
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
                          ("attempt_releases", "reason"), ("proctoring_contests", "text")):  # fmt: skip
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
        assert rows["attempt_releases"] == 1, rows
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
