"""The CSV and XLSX exports hold exactly the rows of the view (same filters,
same order), typed, with no cell a spreadsheet would run as a formula; the
page shows the same view, with pseudonyms for a grader."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from invigil.security import safe_csv
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.delivery.factories import published_exam
from tests.results.rows import sitting
from tests.test_pages_matrix import web_client

URL = "/api/v1/exams/{}/results"
HOSTILE = ['=HYPERLINK("http://x")', "+1", "-2", "@cmd", "\tTab", "\rCR"]


@pytest.fixture
def tenant(db: BoundDatabase, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


@pytest.fixture
def exam(db: BoundDatabase, tenant: Tenant) -> uuid.UUID:
    exam_id = published_exam(db, tenant.id)
    for i, name in enumerate(HOSTILE):
        sitting(db, tenant.id, exam_id, name=name, results=[{"awarded": i, "passed": i > 2}])
    sitting(db, tenant.id, exam_id, name="Plain", status="in_progress")
    return exam_id


@pytest.fixture
def viewer(app: FastAPI, db: BoundDatabase, tenant: Tenant) -> dict[str, str]:
    return bearer(app, db, make_user(db, tenant.id, ["results_viewer"]))


PARAMS: list[dict[str, str]] = [{}, {"sort": "score"}, {"sort": "-candidate", "pass": "passed"}]


@pytest.mark.parametrize("params", PARAMS)
def test_csv_is_the_view(client: TestClient, exam: uuid.UUID, viewer: Any, params: Any) -> None:
    view = client.get(URL.format(exam), params=params | {"limit": 100}, headers=viewer).json()
    r = client.get(URL.format(exam), params=params | {"format": "csv"}, headers=viewer)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    text = r.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:], newline="")))
    assert [row["attempt_id"] for row in rows] == [i["id"] for i in view["items"]]
    for row, item in zip(rows, view["items"], strict=True):
        assert safe_csv.restore(row["candidate_name"]) == item["candidate_name"]
        assert row["score"] == ("" if item["score"] is None else f"{item['score']:.2f}")
        assert row["passed"] == {True: "true", False: "false", None: ""}[item["passed"]]
        assert row["integrity"] == item["integrity"]
    cells = [c for row in csv.reader(io.StringIO(text[1:], newline="")) for c in row]
    assert not [c for c in cells if c.startswith(safe_csv.FORMULA)]


@pytest.mark.parametrize("params", PARAMS)
def test_xlsx_is_the_view(client: TestClient, exam: uuid.UUID, viewer: Any, params: Any) -> None:
    view = client.get(URL.format(exam), params=params | {"limit": 100}, headers=viewer).json()
    r = client.get(URL.format(exam), params=params | {"format": "xlsx"}, headers=viewer)
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.content), read_only=True)["Results"]
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert header[:3] == ["attempt_id", "pseudonym", "candidate_name"]
    at = {name: i for i, name in enumerate(header)}
    assert [row[at["attempt_id"]] for row in rows] == [i["id"] for i in view["items"]]
    for row, item in zip(rows, view["items"], strict=True):
        assert row[at["score"]] == item["score"]
        assert row[at["passed"]] == item["passed"]
        # XML reads a carriage return back as a line feed.
        name = safe_csv.neutralise(item["candidate_name"]).replace("\r", "\n")
        assert row[at["candidate_name"]] == name
        assert not str(row[at["candidate_name"]]).startswith(safe_csv.FORMULA)


def test_the_page_shows_the_view_and_links_exports_with_its_filters(
    app: FastAPI, db: BoundDatabase, tenant: Tenant, exam: uuid.UUID
) -> None:
    client, _ = web_client(app, db, tenant.id, ["results_viewer"])
    page = client.get(f"/exams/{exam}/results", params={"sort": "score", "pass": "passed"})
    assert page.status_code == 200
    assert "@cmd" in page.text and "Plain" not in page.text
    assert f"/exams/{exam}/results?pass=passed&amp;sort=score&amp;format=csv" in page.text
    assert f"/exams/{exam}/results?pass=passed&amp;sort=score&amp;format=xlsx" in page.text
    exported = client.get(f"/exams/{exam}/results", params={"pass": "passed", "format": "csv"})
    assert exported.status_code == 200 and "Plain" not in exported.text
    assert client.get(f"/exams/{exam}/results", params={"min": "x"}).status_code == 400
    exam_page = client.get(f"/authoring/exams/{exam}")
    assert f'href="/exams/{exam}/results"' in exam_page.text


def test_a_grader_sees_pseudonyms_on_the_page(
    app: FastAPI, db: BoundDatabase, tenant: Tenant, exam: uuid.UUID
) -> None:
    client, _ = web_client(app, db, tenant.id, ["grader"])
    page = client.get(f"/exams/{exam}/results")
    assert page.status_code == 200
    assert "Plain" not in page.text and "@cmd" not in page.text and "Candidate " in page.text
    assert client.get(f"/exams/{exam}/results", params={"q": "Plain"}).status_code == 400


def test_another_tenants_exam_page_is_404(
    app: FastAPI, db: BoundDatabase, settings: Settings, exam: uuid.UUID
) -> None:
    other = make_tenant(db, settings)
    client, _ = web_client(app, db, other.id, ["results_viewer"])
    assert client.get(f"/exams/{exam}/results").status_code == 404
    assert client.get(f"/exams/{uuid.uuid4()}/results").status_code == 404


def test_without_result_view_no_link_and_no_page(
    app: FastAPI, db: BoundDatabase, tenant: Tenant, exam: uuid.UUID
) -> None:
    client, _ = web_client(app, db, tenant.id, ["exam_author"])
    exam_page = client.get(f"/authoring/exams/{exam}")
    assert exam_page.status_code == 200
    assert f"/exams/{exam}/results" not in exam_page.text
    assert client.get(f"/exams/{exam}/results").status_code == 403


def test_each_scored_row_opens_its_result_page_for_every_viewer(
    app: FastAPI, db: BoundDatabase, tenant: Tenant, exam: uuid.UUID, viewer: Any
) -> None:
    """A row with a result links to the attempt's result page (result:view,
    which whoever sees the list holds: the shortlister too, who may not open
    the attempt's staff page); a running attempt has no result page."""
    client, _ = web_client(app, db, tenant.id, ["shortlister"])
    page = client.get(f"/exams/{exam}/results")
    assert page.status_code == 200
    items = client.get(URL.format(exam), params={"limit": 100}, headers=viewer).json()["items"]
    for item in items:
        linked = f'href="/attempts/{item["id"]}/result"' in page.text
        assert linked == (item["grading"] is not None), item
    assert "/delivery/attempts/" not in page.text
    scored = next(i for i in items if i["grading"] is not None)
    assert client.get(f"/attempts/{scored['id']}/result").status_code == 200
