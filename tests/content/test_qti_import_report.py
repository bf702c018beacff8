"""Importing a content package whose items Invigil can carry only in part:
the items it can are imported, every other one is listed with the reason (in
the reader's language on the bank page), and the audit entry names them."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from invigil.audit.models import AuditEvent
from invigil.content.bodies import TYPES
from invigil.content.formats import qti, qti_package
from invigil.content.models import QuestionVersion
from invigil.identity import auth
from invigil.identity import service as identity
from invigil.tenants.models import Tenant
from invigil.web.session import COOKIE, csrf_token
from tests.conftest import BoundDatabase, bearer, make_user
from tests.content.factories import make_bank, sample
from tests.content.test_qti_fidelity import MATCH, NS, choice_decl, choices, item

IMAGE_ITEM = item(
    '<p>Which country? <video src="media/clip.mp4"/></p>'
    '<qti-choice-interaction response-identifier="RESPONSE" max-choices="1">'
    + choices("France", "Spain")
    + "</qti-choice-interaction>",
    choice_decl("A"),
    MATCH,
).replace('identifier="it-1"', 'identifier="with-image"')
FEEDBACK_ITEM = item(
    '<qti-choice-interaction response-identifier="RESPONSE">'
    "<qti-prompt>Dos más dos?</qti-prompt>"
    '<qti-simple-choice identifier="A">4<qti-feedback-inline outcome-identifier="FB" '
    'identifier="A" show-hide="show">¡Bien!</qti-feedback-inline></qti-simple-choice>'
    '<qti-simple-choice identifier="B">5</qti-simple-choice>'
    "</qti-choice-interaction>",
    choice_decl("A"),
    MATCH,
    attrs=' xml:lang="es"',
).replace('identifier="it-1"', 'identifier="with-feedback"')


def package() -> bytes:
    qti.dump([])  # registers the prefixes
    own_item = ET.tostring(qti.item_xml("Q-own", sample("numeric")), encoding="unicode")
    return qti_package.write(
        [
            ("with-image", IMAGE_ITEM.encode()),
            ("with-feedback", FEEDBACK_ITEM.encode()),
            ("Q-own", own_item.encode()),
        ],
        {"media/map.png": b"\x89PNG\r\n\x1a\n"},
    )


def client_for(
    app: FastAPI, db: BoundDatabase, tenant: Tenant, language: str
) -> tuple[TestClient, str]:
    user = make_user(db, tenant.id, ["question_manager"])
    with db.unit_of_work(tenant.id) as uow:
        identity.set_language(uow, user.id, language)
        session, secret = auth.open_session(
            uow, app.state.settings, user, kind="web", address="test", user_agent="pytest",
            enroll_only=False,
        )  # fmt: skip
        csrf = csrf_token(session.token_hash)
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    client.cookies.set(COOKIE, secret)
    return client, csrf


def test_the_package_imports_what_it_can_and_lists_the_rest_in_english_and_german(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    assert NS in IMAGE_ITEM
    bank = make_bank(db, tenant_a.id)
    client, csrf = client_for(app, db, tenant_a, "en")
    page = client.post(
        f"/authoring/banks/{bank}/import",
        data={"csrf": csrf, "format": ""},
        files={"file": ("bank.zip", package(), "application/zip")},
    )
    assert page.status_code == 200, page.text
    assert "Imported 2 questions." in page.text
    assert "1 item was not imported" in page.text
    assert "It plays a video (media/clip.mp4)" in page.text
    assert "Its feedback is not imported" in page.text

    with db.unit_of_work(tenant_a.id) as uow:
        prompts = {v.body["prompt"] for v in uow.session.scalars(select(QuestionVersion))}
        entry = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "question.imported")
        ).one()
    assert "Dos más dos?" in prompts and len(prompts) == 2
    refused = [r["where"] for r in entry.payload["refused"]]
    assert refused == ["items/with-image.xml (item with-image)"]

    german, csrf = client_for(app, db, tenant_a, "de")
    other = make_bank(db, tenant_a.id, "Andere")
    page = german.post(
        f"/authoring/banks/{other}/import",
        data={"csrf": csrf, "format": "qti"},
        files={"file": ("bank.zip", package(), "application/zip")},
    )
    assert page.status_code == 200
    assert "1 Item wurde nicht importiert" in page.text
    assert "Es spielt ein Video ab (media/clip.mp4)" in page.text
    assert "Sein Feedback wird nicht importiert" in page.text


def test_the_api_answers_the_refused_items_and_the_notes(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    bank = make_bank(db, tenant_a.id)
    api_headers_a = bearer(app, db, make_user(db, tenant_a.id, ["question_manager"]))
    client = TestClient(app, raise_server_exceptions=False)
    r = client.post(
        f"/api/v1/banks/{bank}/import?format=qti", content=package(), headers=api_headers_a
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["imported"] == 2
    assert body["refused"] == [
        {
            "where": "items/with-image.xml (item with-image)",
            "message": "it plays a video (media/clip.mp4); audio, video and embedded media in QTI "
            "items are not imported yet",
        }
    ]
    assert [n["where"] for n in body["notes"]] == ["items/with-feedback.xml (item with-feedback)"]

    only_refused = qti_package.write([("with-image", IMAGE_ITEM.encode())])
    r = client.post(
        f"/api/v1/banks/{bank}/import?format=qti", content=only_refused, headers=api_headers_a
    )
    assert r.status_code == 422
    assert r.json()["problems"][0]["message"].startswith("it plays a video")


def test_a_package_export_imports_back_as_the_same_questions(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    headers = bearer(app, db, make_user(db, tenant_a.id, ["question_manager"]))
    client = TestClient(app, raise_server_exceptions=False)
    source, target = make_bank(db, tenant_a.id, "Source"), make_bank(db, tenant_a.id, "Target")
    kinds = list(TYPES)
    for kind in kinds:
        body = {"bank_id": str(source), **sample(kind).model_dump(mode="json")}
        assert client.post("/api/v1/questions", json=body, headers=headers).status_code == 201
    out = client.get(f"/api/v1/banks/{source}/export?format=qti-package", headers=headers)
    assert out.status_code == 200 and out.headers["content-type"] == "application/zip"
    assert out.headers["content-disposition"].endswith('.zip"')
    assert "x-invigil-skipped" not in out.headers  # every type
    assert qti_package.read(out.content).problems == []
    again = client.get(f"/api/v1/banks/{source}/export?format=qti-package", headers=headers)
    assert again.content == out.content  # the same bank, the same bytes

    r = client.post(f"/api/v1/banks/{target}/import?format=qti", content=out.content,
                    headers=headers)  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["imported"] == len(TYPES) and r.json()["refused"] == r.json()["notes"] == []

    def questions(bank: object) -> list[dict[str, object]]:
        found = client.get(f"/api/v1/banks/{bank}/export?format=json", headers=headers).json()
        return sorted(found, key=lambda q: q["body"]["type"])

    assert questions(target) == questions(source)
