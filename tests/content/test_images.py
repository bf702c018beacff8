"""Question images: the service (sniffing, limits, versions, audit, tenants),
the API (multipart upload, list, bytes with ETag) and the question page."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from invigil.audit.models import AuditEvent
from invigil.content import exams, images, questions
from invigil.content.images import MAX_SIZE, QuestionImage
from invigil.content.models import ExamVersion, Question, QuestionVersion
from invigil.content.schemas import QuestionPatchIn
from invigil.errors import Conflict, Invalid, NotFound
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.content.factories import make_exam, make_question
from tests.content.image_factories import gif, jpeg, make_image, png, webp
from tests.test_pages_matrix import web_client

TEXT = b"just some notes, definitely not an image\n"


def attach(db: BoundDatabase, tenant: Tenant, qid: uuid.UUID, name: str, data: bytes) -> uuid.UUID:
    with db.unit_of_work(tenant.id) as uow:
        return images.attach(uow, qid, name, data).id


def version_of(db: BoundDatabase, tenant: Tenant, qid: uuid.UUID) -> int:
    with db.unit_of_work(tenant.id) as uow:
        return uow.get(Question, qid).current_version


# -- service ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,make,kind",
    [
        ("diagram.png", png, "image/png"),
        ("photo.jpg", jpeg, "image/jpeg"),
        ("anim.gif", gif, "image/gif"),
        ("pic.webp", webp, "image/webp"),
    ],
)
def test_each_image_type_is_accepted_and_sniffed(
    db: BoundDatabase, tenant_a: Tenant, name: str, make: object, kind: str
) -> None:
    data = make()  # type: ignore[operator]
    qid = make_question(db, tenant_a.id)
    with db.unit_of_work(tenant_a.id) as uow:
        img = images.attach(uow, qid, name, data)
        assert (img.content_type, img.size, img.filename) == (kind, len(data), name)
        assert img.sha256 == hashlib.sha256(data).digest()
        assert img.question_version == 2
    with db.unit_of_work(tenant_a.id) as uow:
        assert images.get(uow, qid, img.id).data == data


def test_the_type_comes_from_the_bytes_not_the_name(db: BoundDatabase, tenant_a: Tenant) -> None:
    qid = make_question(db, tenant_a.id)
    data = jpeg()
    iid = attach(db, tenant_a, qid, "looks-like.png", data)
    with db.unit_of_work(tenant_a.id) as uow:
        assert images.get(uow, qid, iid).content_type == "image/jpeg"


@pytest.mark.parametrize(
    "name,data,words",
    [
        ("notes.png", TEXT, "not a PNG, JPEG, GIF or WebP image"),
        ("vector.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>', "not a PNG"),
        ("fake.png", b"\x89PNG\r\n\x1a\n" + TEXT, "not a PNG"),  # signature without IHDR
        ("empty.png", b"", "is empty"),
        ("huge.png", png() + bytes(MAX_SIZE), "larger than 2 MiB"),
    ],
)
def test_refused_files_change_nothing(
    db: BoundDatabase, tenant_a: Tenant, name: str, data: bytes, words: str
) -> None:
    qid = make_question(db, tenant_a.id)
    with pytest.raises(Invalid) as err, db.unit_of_work(tenant_a.id) as uow:
        images.attach(uow, qid, name, data)
    assert words in err.value.detail
    assert version_of(db, tenant_a, qid) == 1
    with db.unit_of_work(tenant_a.id) as uow:
        assert images.list_for(uow, qid) == []


def test_exactly_two_mib_is_accepted(db: BoundDatabase, tenant_a: Tenant) -> None:
    data = png()
    data += bytes(MAX_SIZE - len(data))
    qid = make_question(db, tenant_a.id)
    iid = attach(db, tenant_a, qid, "big.png", data)
    with db.unit_of_work(tenant_a.id) as uow:
        assert images.get(uow, qid, iid).size == MAX_SIZE == 2 * 1024 * 1024


def test_attaching_is_audited_with_hash_size_and_type(db: BoundDatabase, tenant_a: Tenant) -> None:
    qid = make_question(db, tenant_a.id)
    data = png()
    iid = attach(db, tenant_a, qid, "diagram.png", data)
    with db.unit_of_work(tenant_a.id) as uow:
        ev = uow.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "question.image_attached")
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
        v2 = uow.scalar(
            select(QuestionVersion).where(
                QuestionVersion.question_id == qid, QuestionVersion.version == 2
            )
        )
    assert ev is not None and v2 is not None
    assert (ev.subject_type, ev.subject_id) == ("question", str(qid))
    assert ev.payload == {
        "image_id": str(iid),
        "filename": "diagram.png",
        "content_type": "image/png",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "version": 2,
        "version_id": str(v2.id),
    }


def test_attaching_writes_a_version_with_the_same_content(
    db: BoundDatabase, tenant_a: Tenant
) -> None:
    qid = make_question(db, tenant_a.id)
    attach(db, tenant_a, qid, "a.png", png())
    with db.unit_of_work(tenant_a.id) as uow:
        v1, v2 = questions.history(uow, uow.get(Question, qid))
        same = ("body", "points", "category", "tags", "difficulty")
        assert [getattr(v1, f) for f in same] == [getattr(v2, f) for f in same]
        assert v2.version == 2


def test_a_published_exam_keeps_the_images_it_was_published_with(
    db: BoundDatabase, tenant_a: Tenant
) -> None:
    qid = make_question(db, tenant_a.id)
    first = attach(db, tenant_a, qid, "first.png", png())
    exam_id = make_exam(db, tenant_a.id, [{"kind": "fixed", "question_ids": [str(qid)]}])
    with db.unit_of_work(tenant_a.id) as uow:
        published = exams.publish_exam(uow, exam_id)
        pinned = uuid.UUID(published.sections[0]["questions"][0]["version_id"])
    second = attach(db, tenant_a, qid, "second.png", png())

    def shown(version_id: uuid.UUID) -> list[uuid.UUID]:
        with db.unit_of_work(tenant_a.id) as uow:
            version = questions.versions_by_id(uow, [version_id])[version_id]
            return [i.id for i in images.for_version(uow, version)]

    assert shown(pinned) == [first]  # the later attachment does not reach the exam
    with db.unit_of_work(tenant_a.id) as uow:
        q = uow.get(Question, qid)
        assert [i.id for i in images.list_for(uow, qid)] == [first, second]
        assert [i.id for i in images.for_version(uow, questions.current(uow, q))] == [
            first,
            second,
        ]
        # An edit keeps every image; publishing again picks the new version up.
        questions.update_question(uow, qid, QuestionPatchIn(points=4))
        again = exams.publish_exam(uow, exam_id)
        repinned = uuid.UUID(again.sections[0]["questions"][0]["version_id"])
        old = uow.scalar(
            select(ExamVersion).where(ExamVersion.exam_id == exam_id, ExamVersion.version == 1)
        )
        assert old is not None and old.sections == published.sections
    assert shown(repinned) == [first, second]
    assert shown(pinned) == [first]


def test_archived_questions_and_duplicates_are_refused(db: BoundDatabase, tenant_a: Tenant) -> None:
    qid = make_question(db, tenant_a.id)
    data = png()
    attach(db, tenant_a, qid, "a.png", data)
    with pytest.raises(Conflict, match="already attached"), db.unit_of_work(tenant_a.id) as uow:
        images.attach(uow, qid, "again.png", data)
    with db.unit_of_work(tenant_a.id) as uow:
        questions.archive_question(uow, qid)
    with pytest.raises(Conflict, match="archived"), db.unit_of_work(tenant_a.id) as uow:
        images.attach(uow, qid, "b.png", png())


def test_file_names_are_reduced_to_a_plain_name(db: BoundDatabase, tenant_a: Tenant) -> None:
    assert images.clean_filename("C:\\fakepath\\ev\r\nil.png", "image/png") == "evil.png"
    assert images.clean_filename("../../etc/passwd", "image/png") == "passwd"
    assert images.clean_filename("  \x00 ", "image/gif") == "image.gif"
    long = images.clean_filename("x" * 300 + ".jpeg", "image/jpeg")
    assert len(long) == 200 and long.endswith(".jpeg")


def test_another_tenants_images_are_not_found(
    db: BoundDatabase, tenant_a: Tenant, settings: Settings
) -> None:
    qid = make_question(db, tenant_a.id)
    iid = uuid.UUID(make_image(db, tenant_a.id, qid))
    other = make_question(db, tenant_a.id)
    with db.unit_of_work(tenant_a.id) as uow, pytest.raises(NotFound):
        images.get(uow, other, iid)  # the image of another question
    tenant_b = make_tenant(db, settings)
    with db.unit_of_work(tenant_b.id) as uow:
        with pytest.raises(NotFound):
            images.get(uow, qid, iid)
        with pytest.raises(NotFound):
            images.list_for(uow, qid)
        with pytest.raises(NotFound):
            images.attach(uow, qid, "x.png", png())
        assert uow.scalars(select(QuestionImage)) == []  # RLS: not even by scanning


# -- API ----------------------------------------------------------------------------


def api(app: FastAPI, db: BoundDatabase, tenant: Tenant, role: str) -> dict[str, str]:
    return bearer(app, db, make_user(db, tenant.id, [role]))


def upload(
    client: TestClient,
    h: dict[str, str],
    qid: object,
    name: str,
    data: bytes,
    declared: str = "image/png",
) -> tuple[int, dict[str, object]]:
    r = client.post(
        f"/api/v1/questions/{qid}/images", files={"file": (name, data, declared)}, headers=h
    )
    return r.status_code, r.json()


def test_api_upload_list_and_serve(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = api(app, db, tenant_a, "question_manager")
    qid = make_question(db, tenant_a.id)
    pic, photo = png(), jpeg()
    status, made = upload(client, h, qid, "diagram.png", pic)
    assert status == 201, made
    assert made["content_type"] == "image/png" and made["size"] == len(pic)
    assert made["sha256"] == hashlib.sha256(pic).hexdigest() and made["question_version"] == 2
    status, second = upload(client, h, qid, "photo.png", photo, declared="image/png")
    assert status == 201 and second["content_type"] == "image/jpeg"  # the bytes, not the header

    listed = client.get(f"/api/v1/questions/{qid}/images", headers=h).json()
    assert [i["id"] for i in listed["items"]] == [made["id"], second["id"]]
    assert listed["next"] is None

    r = client.get(str(made["url"]), headers=h)
    assert r.status_code == 200 and r.content == pic
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"].startswith('inline; filename="diagram.png"')
    etag = f'"{hashlib.sha256(pic).hexdigest()}"'
    assert r.headers["etag"] == etag
    again = client.get(str(made["url"]), headers=h | {"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    r = client.get(str(second["url"]), headers=h)
    assert r.content == photo and r.headers["content-type"] == "image/jpeg"

    question = client.get(f"/api/v1/questions/{qid}", headers=h).json()
    assert question["version"] == 3


def test_api_refuses_what_is_not_an_image_or_too_big(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = api(app, db, tenant_a, "question_manager")
    qid = make_question(db, tenant_a.id)
    status, body = upload(client, h, qid, "notes.png", TEXT)
    assert status == 422 and "not a PNG, JPEG, GIF or WebP" in str(body["detail"])
    status, body = upload(client, h, qid, "huge.png", png() + bytes(MAX_SIZE))
    assert status == 422 and body["max_size"] == MAX_SIZE
    r = client.post(f"/api/v1/questions/{qid}/images", json={}, headers=h)
    assert r.status_code == 422 and "field named 'file'" in r.json()["detail"]
    assert client.get(f"/api/v1/questions/{qid}/images", headers=h).json()["items"] == []


def test_api_permissions_and_tenants(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, settings: Settings
) -> None:
    qid = make_question(db, tenant_a.id)
    iid = make_image(db, tenant_a.id, qid)
    grader = api(app, db, tenant_a, "grader")  # question:view only
    assert upload(client, grader, qid, "a.png", png())[0] == 403
    assert client.get(f"/api/v1/questions/{qid}/images/{iid}", headers=grader).status_code == 200
    tenant_b = make_tenant(db, settings)
    intruder = api(app, db, tenant_b, "tenant_admin")
    for path in (f"/api/v1/questions/{qid}/images/{iid}", f"/api/v1/questions/{qid}/images"):
        assert client.get(path, headers=intruder).status_code == 404
    assert upload(client, intruder, qid, "a.png", png())[0] == 404


# -- page ----------------------------------------------------------------------------


def test_page_shows_images_and_attaches_with_csrf(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    client, csrf = web_client(app, db, tenant_a.id, ["question_manager"])
    qid = make_question(db, tenant_a.id)
    page = client.get(f"/authoring/questions/{qid}")
    assert page.status_code == 200 and "No images attached." in page.text
    assert f'action="/authoring/questions/{qid}/images#images"' in page.text

    pic = png()
    r = client.post(
        f"/authoring/questions/{qid}/images",
        data={"csrf": csrf},
        files={"file": ("chart.png", pic, "image/png")},
    )
    assert r.status_code == 303 and "notice" not in r.headers["location"]
    with db.unit_of_work(tenant_a.id) as uow:
        (img,) = images.list_for(uow, qid)
    page = client.get(f"/authoring/questions/{qid}")
    src = f"/authoring/questions/{qid}/images/{img.id}"
    assert f'<img src="{src}" alt="chart.png"' in page.text
    assert "Version 2 (current)" in page.text and "image added: chart.png" in page.text
    served = client.get(src)
    assert served.status_code == 200 and served.content == pic
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"

    forged = client.post(
        f"/authoring/questions/{qid}/images",
        data={"csrf": "nope"},
        files={"file": ("x.png", png(), "image/png")},
    )
    assert forged.status_code == 403


def test_page_shows_a_refused_image_in_place(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    client, csrf = web_client(app, db, tenant_a.id, ["question_manager"])
    qid = make_question(db, tenant_a.id)
    r = client.post(
        f"/authoring/questions/{qid}/images",
        data={"csrf": csrf},
        files={"file": ("notes.png", TEXT, "image/png")},
    )
    assert r.status_code == 422
    assert 'id="image-err"' in r.text and "not a PNG, JPEG, GIF or WebP image" in r.text
    r = client.post(f"/authoring/questions/{qid}/images", data={"csrf": csrf})
    assert r.status_code == 422 and "choose an image file" in r.text
    assert version_of(db, tenant_a, qid) == 1


def test_page_images_of_another_tenant_are_not_found(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant, settings: Settings
) -> None:
    qid = make_question(db, tenant_a.id)
    iid = make_image(db, tenant_a.id, qid)
    viewer, _ = web_client(app, db, tenant_a.id, ["grader"])
    assert viewer.get(f"/authoring/questions/{qid}/images/{iid}").status_code == 200
    page = viewer.get(f"/authoring/questions/{qid}")
    assert "<img src=" in page.text and 'id="image-file"' not in page.text  # no upload form
    tenant_b = make_tenant(db, settings)
    intruder, csrf = web_client(app, db, tenant_b.id, ["tenant_admin"])
    assert intruder.get(f"/authoring/questions/{qid}/images/{iid}").status_code == 404
    r = intruder.post(
        f"/authoring/questions/{qid}/images",
        data={"csrf": csrf},
        files={"file": ("a.png", png(), "image/png")},
    )
    assert r.status_code == 404


def test_the_preview_shows_the_images_of_the_pinned_version(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    """An author's preview is the candidate's paper: images included, and only
    those of the question version the exam pins."""
    h = bearer(app, db, make_user(db, tenant_a.id, ["tenant_admin"]))
    qid = make_question(db, tenant_a.id)
    first = attach(db, tenant_a, qid, "first.png", png())
    exam_id = make_exam(db, tenant_a.id, [{"kind": "fixed", "question_ids": [str(qid)]}])
    draft = client.post(f"/api/v1/exams/{exam_id}/preview", headers=h, json={"seed": 7}).json()
    assert draft["items"][0]["images"] == [str(first)]
    with db.unit_of_work(tenant_a.id) as uow:
        exams.publish_exam(uow, exam_id)
    attach(db, tenant_a, qid, "second.png", png())
    published = client.post(f"/api/v1/exams/{exam_id}/preview", headers=h, json={"seed": 7})
    assert published.json()["items"][0]["images"] == [str(first)]
    client_page, _ = web_client(app, db, tenant_a.id, ["exam_author"])
    page = client_page.get(f"/authoring/exams/{exam_id}/preview?seed=7")
    assert f"/authoring/questions/{qid}/images/{first}" in page.text
