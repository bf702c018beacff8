"""The shortlists pages over HTTP: the rule-set editor names the field in
error, a run is made from the page, the run page shows reasons, exclusions,
stages and the compare form, evidence links only with evidence:view, and
it reads in German."""

from __future__ import annotations

import re
import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.identity import auth
from invigil.identity import service as identity
from invigil.results.pseudonyms import code_of
from invigil.tenants.models import Tenant
from invigil.web.session import COOKIE
from tests.conftest import BoundDatabase, make_user
from tests.shortlists.factories import exam, sit
from tests.test_pages_matrix import web_client


def _run_from_the_pages(
    app: FastAPI, db: BoundDatabase, t: uuid.UUID, roles: list[str]
) -> tuple[TestClient, str, str, uuid.UUID, uuid.UUID]:
    e = exam(db, t)
    best = sit(db, t, e, "90.00", categories={"Writing": "80"})
    low = sit(db, t, e, "30.00")
    client, csrf = web_client(app, db, t, roles)
    bad = client.post("/shortlists/rule-sets", data={"csrf": csrf, "name": "R",
                      "min_percent": "abc", "integrity_allowed": ["clear"]})  # fmt: skip
    assert bad.status_code == 422 and "error-summary" in bad.text
    assert 'href="#r-min_percent"' in bad.text and 'id="r-min_percent"' in bad.text
    assert re.search(r'id="r-min_percent"[^>]*aria-invalid="true"', bad.text)
    tie = client.post("/shortlists/rule-sets", data={"csrf": csrf, "name": "R",
                      "tie_breaks": "luck", "integrity_allowed": ["clear"]})  # fmt: skip
    assert tie.status_code == 422 and 'href="#r-tie_breaks"' in tie.text
    name = f"R {uuid.uuid4().hex[:6]}"
    made = client.post("/shortlists/rule-sets", data={"csrf": csrf, "name": name,
                       "min_percent": "50", "min_category_percent": "Writing: 50",
                       "integrity_allowed": ["clear", "cleared"],
                       "tie_breaks": "shorter_time"})  # fmt: skip
    assert made.status_code == 303
    rule_set_id = made.headers["location"].rsplit("/", 1)[1]
    assert client.get(made.headers["location"]).status_code == 200
    run = client.post("/shortlists/new", data={"csrf": csrf, "rule_set_id": rule_set_id,
                      "cohort": "exams", "exam_ids": [str(e)]})  # fmt: skip
    assert run.status_code == 303, run.text
    return client, csrf, run.headers["location"], best, low


def test_a_shortlister_runs_and_reads_a_shortlist(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    client, csrf, where, best, _low = _run_from_the_pages(app, db, tenant_a.id, ["shortlister"])
    page = client.get(where)
    assert page.status_code == 200
    text = page.text
    assert "90 % ≥ 50 %" in text and "Writing 80 % ≥ 50 %" in text  # why shortlisted
    assert "30 % below the 50 % required" in text  # the first rule failed
    assert f'name="attempt" value="{best}" form="compare-form"' in text
    assert 'action="/results/compare"' in text
    assert "/proctoring/reviews/" not in text and "/evidence/" not in text
    assert f"/shortlists/{where.rsplit('/', 1)[1]}/export?format=xlsx" in text
    assert ">Shortlists<" in text  # the navigation
    moved = client.post(f"{where}/entries/{best}/stage",
                        data={"csrf": csrf, "stage": "interview", "note": "Strong."})  # fmt: skip
    assert moved.status_code == 303
    after = client.get(where).text
    assert re.search(r'<strong class="stage">interview</strong>', after) and "Strong." in after
    assert (
        '<option value="interview">' not in after.split(f'id="entry-{best}"')[1].split("</tr>")[0]
    )


def test_evidence_links_need_evidence_view_and_names_need_candidate_view(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    with db.unit_of_work(tenant_a.id) as uow:
        role = identity.create_role(uow, name=f"r_{uuid.uuid4().hex[:8]}", description="",
                                    permissions=["shortlist:run", "shortlist:view",
                                                 "evidence:view"]).name  # fmt: skip
    client, _, where, best, _ = _run_from_the_pages(app, db, tenant_a.id, [role])
    text = client.get(where).text
    assert f"/proctoring/reviews/{best}" in text
    assert f"Candidate {code_of(best)}" in text and ">C " not in text


def test_the_run_page_reads_in_german(app: FastAPI, db: BoundDatabase, tenant_a: Tenant) -> None:
    _, _, where, _, _low = _run_from_the_pages(app, db, tenant_a.id, ["shortlister"])
    user = make_user(db, tenant_a.id, ["shortlister"])
    with db.unit_of_work(tenant_a.id) as uow:
        identity.set_language(uow, user.id, "de")
        _session, secret = auth.open_session(uow, app.state.settings, user, kind="web",
                                            address="test", user_agent="pytest",
                                            enroll_only=False)  # fmt: skip
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    client.cookies.set(COOKIE, secret)
    page = client.get(where)
    assert page.status_code == 200 and '<html lang="de"' in page.text
    text = page.text
    assert "Ausgewählt, nach Rang" in text and "Warum ausgewählt" in text
    assert "30 % unter den verlangten 50 %" in text
    assert "gesichtet" in text and "Shortlisted, by rank" not in text
