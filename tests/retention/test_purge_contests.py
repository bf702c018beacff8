"""A contest's text (the candidate's own words) goes with its attempt's
proctoring events: blanked under the receipt that purges the events, named
as purged by ``audit verify``, shown as removed on the portal, the review
page, the API and the export; the app role still cannot change a contest
itself; another attempt's contest stays."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from invigil.audit import service as audit_service
from invigil.cli.audit import _sources
from invigil.db.uow import Actor
from invigil.delivery.models import Attempt
from invigil.proctoring import contests
from invigil.retention import export, holds, purge, receipts
from invigil.retention.models import Receipt
from invigil.settings import Settings
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.retention.test_portal import candidate_of, contest, flag_of, flagged_sat, portal_token
from tests.test_pages_matrix import web_client

WORDS = "My cat walked over the keyboard."
THEIRS = "The fire alarm went off in the building."
REMOVED = "removed under the retention policy"


@pytest.fixture(autouse=True)
def app_ring(app: FastAPI) -> Iterator[None]:
    """Receipts signed with the ring the app's audit verify checks."""
    saved = dict(receipts._ring)
    receipts.use_ring(app.state.services.keys.audit)
    yield
    receipts._ring.clear()
    receipts._ring.update(saved)


def test_a_purge_of_the_events_removes_the_contest_texts_under_its_receipt(
    app: FastAPI, db: BoundDatabase, settings: Settings, client: TestClient
) -> None:
    tenant = make_tenant(db, settings)
    mine = flagged_sat(db, settings, tenant.id)
    theirs = flagged_sat(db, settings, tenant.id)
    token = portal_token(db, settings, mine)
    flag = flag_of(db, mine)
    assert contest(client, token, mine, str(flag.id), text=WORDS).status_code == 303
    assert contest(client, token, mine, "outcome").status_code == 303
    theirs_token = portal_token(db, settings, theirs)
    sent = contest(client, theirs_token, theirs, str(flag_of(db, theirs).id), text=THEIRS)
    assert sent.status_code == 303
    with db.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        holds.place(uow, "candidate", candidate_of(db, theirs).id, "litigation")
        submitted = uow.get(Attempt, mine.attempt_id).submitted_at
        ids = sorted(str(c.id) for c in contests.of_attempt(uow, mine.attempt_id))
    assert submitted is not None and len(ids) == 2

    run = purge.run_tenant(
        db, tenant.id, app.state.services.evidence, now=submitted + timedelta(days=366)
    )

    assert run.problems == [] and run.subjects.get("proctoring_events") == 1, run
    with db.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        row = uow.scalar(select(Receipt).where(Receipt.data_class == "proctoring_events"))
        assert row is not None and row.counts["rows"]["proctoring_contests"] == 2
        assert [(c.text, contests.removed(c)) for c in contests.of_attempt(uow, mine.attempt_id)]\
            == [("", True), ("", True)]  # fmt: skip
        (kept,) = contests.of_attempt(uow, theirs.attempt_id)
        assert kept.text == THEIRS and not contests.removed(kept)
        exported = export._contests(uow, candidate_of(db, mine).id)
        assert [(c["text"], c["text_removed"]) for c in exported] == [("", True), ("", True)]
        report = audit_service.verify_tenant(uow, app.state.services.keys.audit, _sources())
    assert report.ok, (report.problems, report.records.problems)
    label = f"policy version 0, receipt {row.id}"
    for contest_id in ids:
        assert f"proctoring_contest {contest_id}: purged under {label}" in (
            report.records.purged_records
        ), report.records.purged_records

    # A second run finds nothing more to purge in them.
    again = purge.run_tenant(
        db, tenant.id, app.state.services.evidence, now=submitted + timedelta(days=367)
    )
    assert "proctoring_events" not in again.subjects

    page = client.get(f"/my/{token}/attempts/{mine.attempt_id}")
    assert page.status_code == 200
    assert WORDS not in page.text and page.text.count(f"Its text was {REMOVED}.") == 2
    staff, _ = web_client(app, db, tenant.id, ["tenant_admin"])
    review = staff.get(f"/proctoring/reviews/{mine.attempt_id}")
    assert review.status_code == 200
    assert WORDS not in review.text and f"The candidate's text was {REMOVED}." in review.text
    other = staff.get(f"/proctoring/reviews/{theirs.attempt_id}")
    assert THEIRS in other.text and REMOVED not in other.text
    api = bearer(app, db, make_user(db, tenant.id, ["tenant_admin"]))
    body = client.get(f"/api/v1/reviews/{mine.attempt_id}", headers=api).json()
    assert [(c["text"], c["text_removed"]) for c in body["contests"]] == [("", True), ("", True)]


def test_the_app_role_still_cannot_change_a_contest(
    db: BoundDatabase, settings: Settings, client: TestClient
) -> None:
    tenant = make_tenant(db, settings)
    sat = flagged_sat(db, settings, tenant.id)
    token = portal_token(db, settings, sat)
    assert contest(client, token, sat, str(flag_of(db, sat).id), text=WORDS).status_code == 303
    for sql in (
        "UPDATE proctoring_contests SET text = '' WHERE attempt_id = :a",
        "SELECT set_config('invigil.retention_purge', 'on', true); "
        "UPDATE proctoring_contests SET text = '' WHERE attempt_id = :a",
        "SELECT set_config('invigil.retention_purge', 'on', true); "
        "DELETE FROM proctoring_contests WHERE attempt_id = :a",
    ):
        refused = pytest.raises(DBAPIError, match=r"permission denied|append-only")
        with refused, db.unit_of_work(tenant.id) as uow:
            for stmt in sql.split("; "):
                uow.session.execute(text(stmt), {"a": sat.attempt_id})
    with db.unit_of_work(tenant.id) as uow:
        assert [c.text for c in contests.of_attempt(uow, sat.attempt_id)] == [WORDS]
    # The purge function reaches only the caller's tenant's rows (forced RLS).
    other = make_tenant(db, settings).id
    with db.unit_of_work(other) as uow:
        n = uow.session.execute(
            text("SELECT platform_retention_contests(:a)"), {"a": sat.attempt_id}
        ).scalar()
        assert n == 0
    with db.unit_of_work(tenant.id) as uow:
        assert [c.text for c in contests.of_attempt(uow, sat.attempt_id)] == [WORDS]


def test_erasing_the_person_removes_their_contest_texts(
    app: FastAPI, db: BoundDatabase, settings: Settings, client: TestClient
) -> None:
    tenant = make_tenant(db, settings)
    sat = flagged_sat(db, settings, tenant.id)
    token = portal_token(db, settings, sat)
    assert contest(client, token, sat, str(flag_of(db, sat).id), text=WORDS).status_code == 303
    person = candidate_of(db, sat).id
    with db.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        purge.erase_person(uow, app.state.services.evidence, person, reason="their request")
    with db.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        assert [c.text for c in contests.of_attempt(uow, sat.attempt_id)] == [""]
        row = uow.scalar(select(Receipt).where(Receipt.data_class == "proctoring_events"))
        assert row is not None and row.trigger == "erasure"
        assert row.counts["rows"]["proctoring_contests"] == 1
        report = audit_service.verify_tenant(uow, app.state.services.keys.audit, _sources())
    assert report.ok, (report.problems, report.records.problems)
    assert any(r.startswith("proctoring_contest ") for r in report.records.purged_records)
