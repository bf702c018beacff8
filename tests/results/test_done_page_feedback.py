"""The confirmation page of an exam released immediately shows what the
exam's result_feedback allows: the category breakdown only from
``categories`` up."""

from __future__ import annotations

from fastapi import FastAPI

from invigil.settings import Settings
from tests.conftest import BoundDatabase, make_tenant
from tests.delivery.factories import kit_for, make_invitation, token_of
from tests.delivery.test_attempts import begun
from tests.results.helpers import make_release_exam


def test_the_done_page_shows_categories_only_when_allowed(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    shown = {}
    for level in ("score", "categories"):
        exam = make_release_exam(
            db, tenant.id, results_release="immediately", result_feedback=level
        )
        token = token_of(make_invitation(db, tenant.id, kit_for(settings), exam))
        client, _ = begun(app, token)
        assert client.post(f"/take/{token}/api/submit", json={"items": []}).status_code == 200
        page = client.get(f"/take/{token}/done").text
        assert "Your result" in page
        shown[level] = "By category" in page
    assert shown == {"score": False, "categories": True}
