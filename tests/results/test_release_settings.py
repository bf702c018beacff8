"""The exam page's two release settings: saved from the form, shown, and the
old word "never" refused with the new words named, next to its field."""

from __future__ import annotations

from fastapi import FastAPI

from invigil.content import exams
from invigil.settings import Settings
from tests.conftest import BoundDatabase, make_tenant
from tests.content.factories import make_exam
from tests.test_pages_matrix import web_client


def form(csrf: str, **changes: str) -> dict[str, str]:
    return {
        "csrf": csrf, "time_limit_minutes": "", "attempts_allowed": "1", "navigation": "free",
        "pass_mark_percent": "", "results_release": "after_grading", "result_feedback": "questions",
        "proctoring_preset": "standard", "extra_time_percent": "0", "consent_text": "OK",
    } | changes  # fmt: skip


def test_release_settings_are_saved_and_never_is_refused(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    client, csrf = web_client(app, db, tenant.id, ["exam_author"])
    exam_id = make_exam(db, tenant.id)
    url = f"/authoring/exams/{exam_id}"
    page = client.get(url)
    assert 'name="result_feedback"' in page.text and 'value="after_grading"' in page.text
    assert client.post(f"{url}/settings", data=form(csrf)).status_code == 303
    with db.unit_of_work(tenant.id) as uow:
        saved = exams.require_exam(uow, exam_id).settings
    assert (saved["results_release"], saved["result_feedback"]) == ("after_grading", "questions")
    refused = client.post(f"{url}/settings", data=form(csrf, results_release="never"))
    assert refused.status_code == 422
    assert 'href="#s-results"' in refused.text and "after_review or manual" in refused.text
    odd = client.post(f"{url}/settings", data=form(csrf, result_feedback="answers"))
    assert odd.status_code == 422 and 'href="#s-feedback"' in odd.text
