"""The retention pages: the policy in force in words (default marked, the
audit log fixed), the form that writes the next version with errors per
field and nothing lost, the history with what changed, legal holds placed
on a candidate found by e-mail, an exam or the organisation and lifted, and
the navigation link for retention:view only."""

from __future__ import annotations

import html
import re
import uuid
from typing import Any

from fastapi import FastAPI

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.identity.models import User
from invigil.retention import holds, policy
from invigil.settings import Settings
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for, make_invitation
from tests.test_pages_matrix import web_client


def form_of(doc: policy.PolicyDocument, csrf: str, **changes: str) -> dict[str, str]:
    """The policy form as the page fills it from ``doc``, with ``changes``."""
    data = {"csrf": csrf, "contest_window_days": str(doc.contest_window_days), "reason": ""}
    for name in policy.CLASSES:
        rule = doc.rule(name)
        data[f"days_{name}"] = "" if rule.keep_days is None else str(rule.keep_days)
        data[f"from_{name}"] = rule.start
        data[f"then_{name}"] = rule.then
    for preset, days in (doc.rule("evidence").by_preset or {}).items():
        data[f"preset_{preset}"] = str(days)
    return data | changes


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_the_policy_page_tells_and_writes_versions(
    app: FastAPI, db: Database, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    admin, csrf = web_client(app, db, tenant.id, ["tenant_admin"])
    page = admin.get("/admin/retention")
    assert page.status_code == 200, page.text
    assert 'href="/admin/retention"' in page.text  # the navigation link
    words = text_of(page.text)
    assert "Default" in words and "Version 0" in words
    assert (
        "Proctoring evidence (snapshots, recordings, ID photos): kept 365 days after the attempt "
        "is submitted (practice: 30, standard: 90, strict: 180, high stakes: 365), then deleted."
    ) in words
    assert "Results: kept for the organisation's lifetime." in words
    assert "Audit log Kept for the organisation's lifetime." in words
    assert 'name="days_evidence"' in page.text

    # Errors per field, in the summary and at the field; nothing typed is lost.
    bad = form_of(
        policy.DEFAULT, csrf, days_answers="ten", preset_strict="0", from_results="attempt_submitted",
        reason="",
    )  # fmt: skip
    refused = admin.post("/admin/retention", data=bad)
    assert refused.status_code == 422
    for anchor in ("f-days_answers", "f-preset_strict", "f-from_results", "f-reason"):
        assert f'href="#{anchor}"' in refused.text, anchor
        assert f'id="{anchor}-err"' in refused.text, anchor
    assert 'value="ten"' in refused.text and "There is a problem" in refused.text
    with db.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        assert policy.current(uow).is_default

    good = form_of(policy.DEFAULT, csrf, preset_strict="120", days_results="keep",
                   reason="Works council agreement 2026")  # fmt: skip
    saved = admin.post("/admin/retention", data=good)
    assert saved.status_code == 303, saved.text
    after = text_of(admin.get("/admin/retention").text)
    assert "Works council agreement 2026" in after and "strict: 120" in after
    assert "Default" not in after
    with db.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        now = policy.current(uow)
    assert now.version == 1 and now.document.rule("evidence").days_for("strict") == 120
    with db.unit_of_work(tenant.id) as uow:
        writer = uow.get(User, uuid.UUID(now.created_by.removeprefix("user:")))
    assert writer is not None and writer.email in after  # who wrote it, by name

    history = text_of(admin.get("/admin/retention/history").text)
    assert history.index("Version 1") < history.index("Version 0: the defaults")
    assert "strict: 180" in history and "strict: 120" in history  # before and after
    assert history.count("Results: kept") == 1  # unchanged: listed with the defaults only

    viewer, _ = web_client(app, db, tenant.id, ["grader"])
    assert viewer.get("/admin/retention").status_code == 403
    assert 'href="/admin/retention"' not in viewer.get("/account").text


def test_holds_are_placed_and_lifted_on_the_page(
    app: FastAPI, db: Database, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    made = make_invitation(
        db, tenant.id, kit_for(settings), name="Zebulon Quartermain", email="zq@example.org"
    )
    admin, csrf = web_client(app, db, tenant.id, ["tenant_admin"])
    found = admin.get("/admin/retention/holds?q=zq@example")
    assert found.status_code == 200
    pick = f"/admin/retention/holds?candidate={made.invitation.candidate_id}"
    assert html.escape(pick) in found.text or pick in found.text
    chosen = admin.get(pick)
    assert "Zebulon Quartermain" in chosen.text

    exam_page = admin.get(f"/authoring/exams/{made.invitation.exam_id}").text
    assert f'href="/admin/retention/holds?exam={made.invitation.exam_id}#place-h"' in exam_page
    preset = admin.get(f"/admin/retention/holds?exam={made.invitation.exam_id}").text
    assert f'<option value="{made.invitation.exam_id}" selected>' in preset

    empty = admin.post("/admin/retention/holds", data={"csrf": csrf, "scope": "exam", "reason": ""})
    assert empty.status_code == 422
    assert 'href="#place-exam"' in empty.text and 'href="#place-reason"' in empty.text
    placed = admin.post(
        "/admin/retention/holds",
        data={"csrf": csrf, "scope": "candidate", "candidate": str(made.invitation.candidate_id),
              "reason": "Employment claim 2026-41"},
    )  # fmt: skip
    assert placed.status_code == 303, placed.text
    exam_hold: dict[str, Any] = {"csrf": csrf, "scope": "exam",
                                 "exam": str(made.invitation.exam_id), "reason": "Regulator"}  # fmt: skip
    assert admin.post("/admin/retention/holds", data=exam_hold).status_code == 303
    page = text_of(admin.get("/admin/retention/holds").text)
    assert "Candidate: Zebulon Quartermain <zq@example.org>" in page
    assert "Employment claim 2026-41" in page and "Regulator" in page

    with db.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        held = next(h for h in holds.history(uow) if h.scope == "candidate")
    lift = f"/admin/retention/holds/{held.id}/lift"
    no_reason = admin.post(lift, data={"csrf": csrf, "reason": ""})
    assert no_reason.status_code == 422 and f'href="#lift-{held.id}"' in no_reason.text
    assert admin.post(lift, data={"csrf": csrf, "reason": "Claim settled"}).status_code == 303
    again = admin.post(lift, data={"csrf": csrf, "reason": "twice"})
    assert again.status_code == 409 and "lifted already" in again.text
    lifted = text_of(admin.get("/admin/retention/holds").text)
    assert "Claim settled" in lifted
    assert admin.post(lift.replace(str(held.id), "nope"), data={"csrf": csrf,
                      "reason": "x"}).status_code == 404  # fmt: skip
    viewer, _ = web_client(app, db, tenant.id, ["grader"])
    assert viewer.get("/admin/retention/holds").status_code == 403
