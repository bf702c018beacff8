"""The staff pages: invite, upload a CSV (report in place), revoke, rotate, outbox."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi import FastAPI

from invigil.settings import Settings
from tests.conftest import BoundDatabase, make_tenant
from tests.delivery.factories import published_exam
from tests.test_pages_matrix import web_client

LINK = re.compile(r'<span class="link">([^<]+)</span>')


def test_invite_revoke_rotate_and_outbox_on_pages(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    exam = published_exam(db, tenant.id, title="Paged exam")
    client, csrf = web_client(app, db, tenant.id, ["exam_author"])

    empty = client.get("/delivery/invitations")
    assert empty.status_code == 200 and "No one has been invited yet" in empty.text
    assert "Paged exam" in empty.text and 'href="/delivery/invitations"' in empty.text

    form = {"csrf": csrf, "name": "Page Person", "email": "pp@example.org", "exam": str(exam)}
    made = client.post("/delivery/invitations", data=form)
    assert made.status_code == 201, made.text
    links = LINK.findall(made.text)
    assert len(links) == 1 and "/take/gl." in links[0]
    assert client.get("/take/" + links[0].split("/take/")[1]).status_code == 200
    listed = client.get("/delivery/invitations")
    assert "pp@example.org" in listed.text and links[0] not in listed.text  # shown once

    refused = client.post("/delivery/invitations", data=form | {"email": "nope"})
    assert refused.status_code == 422 and "not an email address" in refused.text
    assert 'value="Page Person"' in refused.text  # what was typed stays

    iid = re.search(r"/delivery/invitations/([0-9a-f-]{36})/rotate", listed.text)
    assert iid
    rotated = client.post(f"/delivery/invitations/{iid.group(1)}/rotate", data={"csrf": csrf})
    assert rotated.status_code == 201 and "old one no longer works" in rotated.text
    new = LINK.findall(rotated.text)[0]
    assert client.get("/take/" + links[0].split("/take/")[1]).status_code == 404
    revoked = client.post(f"/delivery/invitations/{iid.group(1)}/revoke", data={"csrf": csrf})
    assert revoked.status_code == 303
    assert "link stopped working" in client.get(revoked.headers["location"]).text
    assert client.get("/take/" + new.split("/take/")[1]).status_code == 404

    outbox = client.get("/delivery/outbox")
    assert outbox.status_code == 200 and outbox.text.count("pp@example.org") == 2
    assert "SMTP not configured" in outbox.text and "/take/gl." not in outbox.text

    no_csrf = client.post("/delivery/invitations", data=form | {"csrf": "x"})
    assert no_csrf.status_code == 403


def test_csv_upload_reports_problems_in_place(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    exam = published_exam(db, tenant.id)
    client, csrf = web_client(app, db, tenant.id, ["tenant_admin"])
    bad = b"name,email\nOk,ok@example.org\nBroken,broken\n"
    r = client.post(
        "/delivery/invitations/import",
        data={"csrf": csrf, "exam": str(exam)},
        files={"file": ("people.csv", bad, "text/csv")},
    )
    assert r.status_code == 422
    assert "Nobody was invited" in r.text and "Line 3:" in r.text and "people.csv" in r.text
    assert "ok@example.org" not in r.text.split("<h2")[0]  # nobody in the list
    good = b"name,email\nOk,ok@example.org\nFine,fine@example.org\n"
    r = client.post(
        "/delivery/invitations/import",
        data={"csrf": csrf, "exam": str(exam)},
        files={"file": ("people.csv", good, "text/csv")},
    )
    assert r.status_code == 201 and "Invited 2 candidates" in r.text
    assert len(LINK.findall(r.text)) == 2


def test_viewers_see_no_invite_controls(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    published_exam(db, tenant.id)
    client, _ = web_client(app, db, tenant.id, ["results_viewer"])
    page = client.get("/delivery/invitations")
    assert page.status_code == 200 and "Invite a candidate" not in page.text
    assert client.get("/delivery/outbox").status_code == 200


def test_resend_on_the_page_mails_the_same_link_again(
    db: BoundDatabase, settings: Settings
) -> None:
    from sqlalchemy import select, update

    from invigil.app import create_app
    from invigil.audit.models import AuditEvent
    from invigil.delivery import mail
    from invigil.delivery.models import OutboxMail
    from tests.delivery.factories import kit_for, make_invitation

    smtp = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": 9})
    app = create_app(smtp, db, run_jobs=False)
    tenant = make_tenant(db, settings)
    made = make_invitation(db, tenant.id, kit_for(smtp, smtp=True, resendable=True))
    client, csrf = web_client(app, db, tenant.id, ["exam_author"])
    listed = client.get("/delivery/invitations")
    assert "Resend link" in listed.text
    path = f"/delivery/invitations/{made.invitation.id}/resend"
    soon = client.post(path, data={"csrf": csrf})  # the invitation's own mail is fresh
    assert soon.status_code == 429 and "wait" in soon.text
    with db.unit_of_work(tenant.id) as uow:  # ten minutes later
        uow.session.execute(
            update(OutboxMail).values(created_at=OutboxMail.created_at - timedelta(minutes=10))
        )
    sent = client.post(path, data={"csrf": csrf})
    assert sent.status_code == 303, sent.text
    assert "on its way to the candidate again" in client.get(sent.headers["location"]).text
    with db.unit_of_work(tenant.id) as uow:
        mails = uow.scalars(select(OutboxMail).order_by(OutboxMail.created_at))
        assert len(mails) == 2 and mails[1].link_sealed is not None
        assert kit_for(smtp).box.open(
            mails[1].link_sealed, mail._context(mails[1].id)
        ).decode() == (made.link)  # the same link, sealed for its send job
        assert uow.scalar(select(AuditEvent).where(AuditEvent.action == "guest_link.resent"))
