"""Images in QTI content packages: an item's image becomes one of the
question's images, shown where the item shows it (the question page, the
exam preview, the candidate's player through the attempt's own address) and
exported back in a package that imports identically. What cannot be shown as
authored is refused by name."""

from __future__ import annotations

import hashlib
import io
import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from invigil.audit.models import AuditEvent
from invigil.content import images
from invigil.content.formats import qti_package, qti_read
from invigil.content.images import QuestionImage
from invigil.content.models import Question
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, bearer, make_user
from tests.content.factories import make_bank
from tests.content.test_qti_fidelity import MATCH, choice_decl, choices, item
from tests.delivery.factories import kit_for, make_invitation, published_exam, token_of
from tests.delivery.test_attempts import browser, start
from tests.test_pages_matrix import web_client


def png(colour: str = "red", size: int = 12) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, "PNG")
    return out.getvalue()


MAP = png()
NAME = hashlib.sha256(MAP).hexdigest()


def map_item(src: str = "../media/map.png", *, identifier: str = "with-map") -> bytes:
    body = (
        f'<p>Which country is shaded? <img src="{src}" alt="a map" width="120"/></p>'
        '<qti-choice-interaction response-identifier="RESPONSE" max-choices="1">'
        + choices("France", "Spain")
        + "</qti-choice-interaction>"
    )
    return item(body, choice_decl("A"), MATCH).replace('"it-1"', f'"{identifier}"').encode()


def package(*items: tuple[str, bytes], media: dict[str, bytes] | None = None) -> bytes:
    return qti_package.write(list(items), {"media/map.png": MAP} if media is None else media)


def test_an_items_image_is_carried_and_named_by_its_bytes() -> None:
    parsed = qti_read.parse(package(("with-map", map_item())))
    assert parsed.refused == [] and parsed.problems == []
    body = parsed.questions[0].body
    assert body.prompt_html == (
        f'<p>Which country is shaded? <img src="question-image:{NAME}" alt="a map" width="120"></p>'
    )
    assert body.prompt == "Which country is shaded? [a map]"
    assert parsed.images == {0: [("map.png", MAP)]}


def test_images_that_cannot_be_shown_as_authored_are_refused_by_name() -> None:
    alone = qti_read.parse(map_item("media/map.png"))  # one XML file carries no image
    assert "is not in the file" in str(alone.refused[0][1])
    svg = package(("with-map", map_item()), media={"media/map.png": b"<svg xmlns='x'/>"})
    assert "not a PNG, JPEG, GIF or WebP" in str(qti_read.parse(svg).refused[0][1])
    in_choice = item(
        '<qti-choice-interaction response-identifier="RESPONSE" max-choices="1">'
        "<qti-prompt>Which flag?</qti-prompt>"
        '<qti-simple-choice identifier="A"><img src="../media/map.png" alt="x"/></qti-simple-choice>'
        '<qti-simple-choice identifier="B">None</qti-simple-choice></qti-choice-interaction>',
        choice_decl("A"),
        MATCH,
    ).encode()
    found = qti_read.parse(package(("in-choice", in_choice)))
    assert "a choice shows an image" in str(found.refused[0][1])


def test_imported_images_show_on_the_page_and_come_back_in_a_package(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    headers = bearer(app, db, make_user(db, tenant_a.id, ["question_manager"]))
    api = TestClient(app, raise_server_exceptions=False)
    source, target = make_bank(db, tenant_a.id, "Maps"), make_bank(db, tenant_a.id, "Copy")
    r = api.post(
        f"/api/v1/banks/{source}/import?format=qti",
        content=package(("with-map", map_item())),
        headers=headers,
    )
    assert r.status_code == 201, r.text
    question_id = r.json()["question_ids"][0]
    with db.unit_of_work(tenant_a.id) as uow:
        [image] = uow.scalars(select(QuestionImage))
        [entry] = uow.scalars(select(AuditEvent).where(AuditEvent.action == "question.imported"))
    assert image.sha256.hex() == NAME and image.question_version == 1
    assert entry.payload["images"] == [
        {"question_id": question_id, "image_id": str(image.id), "sha256": NAME}
    ]

    page, _ = web_client(app, db, tenant_a.id, ["question_manager"])
    shown = page.get(f"/authoring/questions/{question_id}")
    address = f"/authoring/questions/{question_id}/images/{image.id}"
    assert f'<img src="{address}" alt="a map" width="120">' in shown.text
    assert page.get(address).content == MAP

    out = api.get(f"/api/v1/banks/{source}/export?format=qti-package", headers=headers)
    back = qti_package.read(out.content)
    assert [sorted(e.media) for e in back.items] == [[f"media/{NAME}.png"]]
    r = api.post(f"/api/v1/banks/{target}/import?format=qti", content=out.content,
                 headers=headers)  # fmt: skip
    assert r.status_code == 201 and r.json()["refused"] == []

    def bank(b: uuid.UUID) -> list[dict[str, object]]:
        found = api.get(f"/api/v1/banks/{b}/export?format=json", headers=headers).json()
        assert isinstance(found, list)
        return found

    assert bank(target) == bank(source)
    # JSON carries the text naming the image, not the image: refused, not shown without it.
    as_json = api.get(f"/api/v1/banks/{source}/export?format=json", headers=headers)
    third = make_bank(db, tenant_a.id, "Third")
    r = api.post(f"/api/v1/banks/{third}/import?format=json", content=as_json.content,
                 headers=headers)  # fmt: skip
    assert r.status_code == 422
    assert r.json()["problems"][0]["where"] == "index 0"
    assert "QTI content package" in r.json()["problems"][0]["message"]
    with db.unit_of_work(tenant_a.id) as uow:
        copies = uow.scalars(select(QuestionImage).order_by(QuestionImage.created_at))
    assert [c.sha256.hex() for c in copies] == [NAME, NAME]


def test_the_candidate_sees_the_image_through_the_attempts_own_address(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant, settings: Settings
) -> None:
    headers = bearer(app, db, make_user(db, tenant_a.id, ["question_manager"]))
    api = TestClient(app, raise_server_exceptions=False)
    bank = make_bank(db, tenant_a.id)
    other = item(
        '<p>Other <img src="../media/blue.png" alt="blue"/></p>'
        '<qti-choice-interaction response-identifier="RESPONSE" max-choices="1">'
        + choices("a", "b")
        + "</qti-choice-interaction>",
        choice_decl("A"),
        MATCH,
    ).replace('"it-1"', '"other"')
    r = api.post(
        f"/api/v1/banks/{bank}/import?format=qti",
        content=package(
            ("with-map", map_item()),
            ("other", other.encode()),
            media={"media/map.png": MAP, "media/blue.png": png("blue")},
        ),
        headers=headers,
    )
    on_paper, off_paper = r.json()["question_ids"]
    with db.unit_of_work(tenant_a.id) as uow:
        pictures = {str(i.question_id): i.id for i in uow.scalars(select(QuestionImage))}
        assert uow.session.get(Question, (tenant_a.id, uuid.UUID(on_paper))) is not None
    exam = published_exam(
        db,
        tenant_a.id,
        sections=[{"kind": "fixed", "title": "", "question_ids": [on_paper]}],
        settings={"proctoring_preset": "practice"},
    )
    token = token_of(make_invitation(db, tenant_a.id, kit_for(settings), exam))
    candidate = browser(app)
    start(candidate, token)
    assert candidate.get(f"/take/{token}/api/images/{pictures[on_paper]}").status_code == 404
    candidate.post(f"/take/{token}/api/begin")
    state = candidate.get(f"/take/{token}/api/state").json()
    html = state["questions"][0]["body"]["prompt_html"]
    address = f"/take/{token}/api/images/{pictures[on_paper]}"
    assert f'<img src="{address}" alt="a map" width="120">' in html
    got = candidate.get(address)
    assert got.status_code == 200 and got.content == MAP
    assert got.headers["content-type"] == "image/png"
    # Not an image of another question, whatever its id; not a malformed id.
    missing = candidate.get(f"/take/{token}/api/images/{pictures[off_paper]}")
    assert missing.status_code == 404
    assert candidate.get(f"/take/{token}/api/images/nope").status_code == 422
    # Nor one attached after the version on the paper (it shows in version 2 only).
    with db.unit_of_work(tenant_a.id) as uow:
        later = images.attach(uow, uuid.UUID(on_paper), "later.png", png("green")).id
    assert candidate.get(f"/take/{token}/api/images/{later}").status_code == 404
