"""The attempt's result page and the printed reports over HTTP: who may
open them, what they show (names only with candidate:view), the PDF's
text (hash, score, candidate), the reader's language, another tenant's
ids, and a renderer that never fetches anything but Invigil's own files."""

from __future__ import annotations

import http.server
import io
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select
from weasyprint import HTML

from invigil import i18n
from invigil.db.uow import Actor
from invigil.delivery.models import AttemptResult
from invigil.identity import auth
from invigil.identity import service as identity
from invigil.proctoring import reviews
from invigil.results import exam_report, grading, reports
from invigil.results.pseudonyms import code_of
from invigil.results.schemas import CriterionMarkIn, MarkIn
from invigil.security.keys import Keys
from invigil.settings import Settings
from invigil.tenants import branding
from invigil.web.session import COOKIE
from tests.audit.test_records import sit_and_review
from tests.conftest import BoundDatabase, make_tenant, make_user
from tests.delivery.factories import kit_for
from tests.results.factories import graded_exam, submitted
from tests.results.sitting import Cohort, sit


def signed_in(
    app: FastAPI, db: BoundDatabase, tenant_id: uuid.UUID, role: str, language: str | None = None
) -> TestClient:
    user = make_user(db, tenant_id, [role])
    with db.unit_of_work(tenant_id) as uow:
        if language:
            identity.set_language(uow, user.id, language)
        _, secret = auth.open_session(
            uow,
            app.state.settings,
            user,
            kind="web",
            address="test",
            user_agent="pytest",
            enroll_only=False,
        )
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    client.cookies.set(COOKIE, secret)
    return client


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def latest(db: BoundDatabase, c: Cohort, index: int = 0) -> AttemptResult:
    with db.unit_of_work(c.tenant_id) as uow:
        found = uow.scalar(
            select(AttemptResult)
            .where(AttemptResult.attempt_id == c.attempts[index])
            .order_by(AttemptResult.revision.desc())
        )
        assert found is not None
        uow.session.expunge(found)
        return found


@pytest.fixture
def cohort(app: FastAPI, db: BoundDatabase, settings: Settings) -> Cohort:
    return sit(db, app, settings, [10_000, 20_000, 40_000])


def test_the_result_page_shows_names_only_to_candidate_view(
    app: FastAPI, db: BoundDatabase, cohort: Cohort
) -> None:
    aid = cohort.attempts[0]
    result = latest(db, cohort)
    code = code_of(aid)

    viewer = signed_in(app, db, cohort.tenant_id, "results_viewer").get(f"/attempts/{aid}/result")
    assert viewer.status_code == 200, viewer.text
    assert cohort.names[0] in viewer.text and result.document_sha256 in viewer.text
    assert "No human marks." in viewer.text and 'id="marks"' in viewer.text
    assert f'href="/attempts/{aid}/report.pdf"' in viewer.text
    assert "Integrity summary" in viewer.text and "not sealed yet" in viewer.text

    grader = signed_in(app, db, cohort.tenant_id, "grader").get(f"/attempts/{aid}/result")
    assert grader.status_code == 200
    assert cohort.names[0] not in grader.text and f"Candidate {code}" in grader.text

    proctor = signed_in(app, db, cohort.tenant_id, "proctor_reviewer")
    assert proctor.get(f"/attempts/{aid}/result").status_code == 403
    assert proctor.get(f"/attempts/{aid}/report.pdf").status_code == 403

    # the staff attempt page links here
    staff = signed_in(app, db, cohort.tenant_id, "results_viewer")
    assert f'href="/attempts/{aid}/result"' in staff.get(f"/delivery/attempts/{aid}").text


def test_the_attempt_pdf_holds_the_hash_the_score_and_the_candidate(
    app: FastAPI, db: BoundDatabase, cohort: Cohort
) -> None:
    aid = cohort.attempts[0]
    result = latest(db, cohort)
    code = code_of(aid)

    named = signed_in(app, db, cohort.tenant_id, "results_viewer").get(
        f"/attempts/{aid}/report.pdf"
    )
    assert named.status_code == 200 and named.headers["content-type"] == "application/pdf"
    assert named.headers["cache-control"] == "no-store"
    text = pdf_text(named.content)
    assert result.document_sha256 in text.replace(" ", "")
    points = i18n.local_number(result.awarded, "en"), i18n.local_number(result.max_points, "en")
    assert "{} of {} points".format(*points) in text
    assert cohort.names[0] in text and "No human marks." in text
    assert "Page 1 of" in text and "Generated" in text

    blind = signed_in(app, db, cohort.tenant_id, "grader").get(f"/attempts/{aid}/report.pdf")
    text = pdf_text(blind.content)
    assert f"Candidate {code}" in text and cohort.names[0] not in text

    german = signed_in(app, db, cohort.tenant_id, "grader", "de")
    text = pdf_text(german.get(f"/attempts/{aid}/report.pdf").content)
    assert f"Teilnehmende Person {code}" in text and "Seite 1 von" in text
    assert "Keine Bewertungen durch Personen." in text


def test_the_review_decisions_and_a_verified_proof_are_in_the_page_and_the_pdf(
    app: FastAPI, db: BoundDatabase, settings: Settings, tmp_path: Path
) -> None:
    """A proctored attempt whose flag a reviewer confirmed, then whose
    outcome they decided, with a checkpoint over its result's entry."""
    sat = sit_and_review(db, settings, Keys(tmp_path))
    reviewer = make_user(db, sat.tenant_id, ["proctor_reviewer"])
    with db.unit_of_work(sat.tenant_id, Actor("user", str(reviewer.id))) as uow:
        request = reviews.Decide("outcome", "cleared", "Watched the recording: nothing wrong")
        reviews.decide(uow, sat.attempt_id, request)
    client = signed_in(app, db, sat.tenant_id, "results_viewer")
    page = client.get(f"/attempts/{sat.attempt_id}/result").text
    assert "Watched the recording: nothing wrong" in page and reviewer.email in page
    assert "seen on the stream" in page and "Cleared: no violation" in page
    assert "Verify revision 1" in page and "does not verify" not in page
    text = pdf_text(client.get(f"/attempts/{sat.attempt_id}/report.pdf").content)
    assert "Watched the recording: nothing wrong" in text and "seen on the stream" in text
    assert "Cleared: no violation" in text and reviewer.email in text.replace(" ", "")
    assert "Inclusion proof verified" in text and "SHA-256(0x01" in text


def test_the_exam_pdf_sums_up_the_cohort_with_charts_and_their_numbers(
    app: FastAPI, db: BoundDatabase, cohort: Cohort
) -> None:
    client = signed_in(app, db, cohort.tenant_id, "results_viewer")
    exam_page = client.get(f"/authoring/exams/{cohort.exam_id}")
    assert f'href="/exams/{cohort.exam_id}/report.pdf"' in exam_page.text  # linked from the exam
    r = client.get(f"/exams/{cohort.exam_id}/report.pdf")
    assert r.status_code == 200, r.text
    text = pdf_text(r.content)
    assert "Score distribution" in text and "Category breakdown" in text
    assert "Attempts started 3" in text and "Submitted 3" in text and "With a result 3" in text
    # every attempt waits for the essay's grader: no pass or fail yet
    assert "Waiting for a grader 3" in text and "Pass rate —" in text
    assert "Writing" in text  # the essay's category, in the chart and in its table
    assert b"/Subtype /Image" not in r.content  # charts are vector drawings, not pictures

    with db.unit_of_work(cohort.tenant_id) as uow:
        figures = exam_report.build(uow, cohort.exam_id)
    percents = sorted(latest(db, cohort, i).percent for i in range(3))
    assert (figures.started, figures.submitted, figures.scored) == (3, 3, 3)
    assert (figures.passed, figures.failed, figures.pending, figures.pass_rate) == (0, 0, 3, None)
    # options are shuffled per candidate, so the same answers score differently
    by_hand = [sum(1 for p in percents if min(int(p) // 10, 9) == i) for i in range(10)]
    assert [b.count for b in figures.bins] == by_hand
    assert figures.median_percent == percents[1]
    assert figures.mean_percent == (sum(percents) / 3).quantize(Decimal("0.01"))
    writing = next(k for k in figures.categories if k.name == "Writing")
    assert (writing.attempts, writing.pending, writing.awarded) == (3, 3, 0)


def test_another_tenants_ids_are_not_found(
    app: FastAPI, db: BoundDatabase, settings: Settings, cohort: Cohort
) -> None:
    theirs = sit(db, app, settings, [5000])
    client = signed_in(app, db, cohort.tenant_id, "tenant_admin")
    for path in (
        f"/attempts/{theirs.attempts[0]}/result",
        f"/attempts/{theirs.attempts[0]}/report.pdf",
        f"/exams/{theirs.exam_id}/report.pdf",
        f"/attempts/{uuid.uuid4()}/report.pdf",
        "/attempts/not-an-id/report.pdf",
    ):
        assert client.get(path).status_code == 404, path


@pytest.fixture
def listener() -> Iterator[list[str]]:
    """A web server on this machine that records every request it gets."""
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { color: red }")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 8141), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield asked
    finally:
        server.shutdown()
        server.server_close()


def test_the_renderer_fetches_only_invigils_own_files(listener: list[str]) -> None:
    fetcher = reports.OwnFiles()
    served = fetcher.fetch(reports.STYLESHEET)
    assert b"@page" in served.read()
    for url in (
        "http://127.0.0.1:8141/steal.css",
        "https://example.org/x.png",
        "file:///etc/passwd",
        "invigil:static/../../settings.py",
        "invigil:static/reports/../../pages.py",
        "data:text/css,body{}",
        "invigil:logo",  # no logo given
    ):
        with pytest.raises(reports.Refused):
            fetcher.fetch(url)

    page = (
        '<html><head><link rel="stylesheet" href="http://127.0.0.1:8141/a.css">'
        f'<link rel="stylesheet" href="{reports.STYLESHEET}"></head>'
        '<body><img src="http://127.0.0.1:8141/b.png"><p>hello</p></body></html>'
    )
    fetcher = reports.OwnFiles()
    pdf = HTML(string=page, url_fetcher=fetcher).write_pdf()
    assert "hello" in pdf_text(pdf)
    assert listener == []  # nothing reached the network
    assert set(fetcher.refused) == {
        "http://127.0.0.1:8141/a.css",
        "http://127.0.0.1:8141/b.png",
    }
    # the listener does answer: a default fetcher would have reached it
    import urllib.request

    with urllib.request.urlopen("http://127.0.0.1:8141/probe") as answer:
        assert answer.status == 200
    assert listener == ["/probe"]


def test_the_tenants_logo_is_served_from_memory_only_when_given() -> None:
    logo = branding.Logo(b"\x89PNG fake", "image/png", "0" * 64, 1, 1)
    served = reports.OwnFiles(logo).fetch(reports.LOGO)
    assert served.read() == logo.data and served.content_type == "image/png"
    with pytest.raises(reports.Refused):
        reports.OwnFiles().fetch(reports.LOGO)


def test_css_strings_cannot_end_the_style_element() -> None:
    assert str(reports.css_string('a"b</style>')) == '"a\\"b\\3c /style>"'
    assert datetime.now(UTC)  # the footer's time comes from the caller


def test_rubric_marks_and_comments_show_once_the_question_is_settled(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    """The page and the PDF list each mark a settled question rests on (who,
    which level, the comment); while a question waits, no mark is shown, so
    a blind grader cannot read another's mark here first."""
    tenant = make_tenant(db, settings)
    exam = graded_exam(db, tenant.id)
    attempt = submitted(db, tenant.id, kit_for(settings), exam)
    ann = make_user(db, tenant.id, ["grader"])
    essay = MarkIn(
        criteria=[
            CriterionMarkIn(criterion="Argument: structure", level="Strong = clear",
                            comment="a tidy argument"),
            CriterionMarkIn(criterion="Language", level="Good"),
        ]
    )  # fmt: skip
    with db.unit_of_work(tenant.id, Actor("user", str(ann.id))) as uow:
        grading.submit_mark(uow, attempt, 1, essay)
    viewer = signed_in(app, db, tenant.id, "results_viewer")
    waiting = viewer.get(f"/attempts/{attempt}/result").text
    assert "a tidy argument" not in waiting and "wait for a grader" in waiting

    with db.unit_of_work(tenant.id, Actor("user", str(ann.id))) as uow:
        grading.submit_mark(uow, attempt, 2, MarkIn(points=Decimal("1.5"), comment="nearly"))
    page = viewer.get(f"/attempts/{attempt}/result").text
    assert "Question 2: the marks it rests on" in page
    assert "Argument: structure: Strong = clear" in page and "a tidy argument" in page
    assert ann.email in page and "first mark" in page and "nearly" in page
    text = pdf_text(viewer.get(f"/attempts/{attempt}/report.pdf").content)
    assert "a tidy argument" in text and "Strong = clear" in text
