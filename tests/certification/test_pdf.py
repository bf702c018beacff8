"""The printed certificate: its words, its QR code (decoded by OpenCV, not
by the library that drew it) and the staff download."""

from __future__ import annotations

import io
import uuid

import cv2
import numpy as np
from fastapi import FastAPI
from PIL import Image
from pypdf import PdfReader

from invigil import i18n
from invigil.certification import pdf
from invigil.certification.models import Certificate
from invigil.delivery.models import Candidate
from invigil.settings import Settings
from invigil.tenants import branding
from invigil.tenants import service as tenants
from tests.certification.factories import certificate, holder, program
from tests.conftest import BoundDatabase, make_tenant
from tests.delivery.factories import kit_for, make_invitation
from tests.tenants.test_branding import logo_png
from tests.test_pages_matrix import web_client


def _text(data: bytes) -> str:
    words = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    return " ".join(words.split())


def _decoded(data: bytes) -> list[str]:
    """Every QR code OpenCV finds in the PDF's images."""
    found = []
    for page in PdfReader(io.BytesIO(data)).pages:
        for image in page.images:
            picture = image.image
            assert picture is not None
            grey = picture.convert("L")
            # A reader's camera sees the printed code large: scale it up, sharp.
            big = grey.resize((grey.width * 8, grey.height * 8), Image.Resampling.NEAREST)
            text, _points, _ = cv2.QRCodeDetector().detectAndDecode(np.array(big))
            if text:
                found.append(text)
    return found


def _made(
    db: BoundDatabase, settings: Settings, name: str = "Grace Hopper"
) -> tuple[uuid.UUID, uuid.UUID]:
    tenant = make_tenant(db, settings)
    _, version = program(db, tenant.id, name="Crane Operation", validity_months=24)
    return tenant.id, certificate(db, tenant.id, version, holder(db, tenant.id, name))


def test_the_pdf_names_holder_program_number_dates_and_its_verification_url(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant_id, cert_id = _made(db, settings)
    with db.unit_of_work(tenant_id) as uow:
        branding.set_logo(uow, logo_png())
        cert = uow.get(Certificate, cert_id)
        data = pdf.render(uow, settings, cert, locale="en")
        tenant_name = branding.brand_of(uow).name
    assert data.startswith(b"%PDF-") and len(PdfReader(io.BytesIO(data)).pages) == 1
    text = _text(data)
    url = f"{settings.issuer.rstrip('/')}/verify/{cert_id}"
    for expected in ("Grace Hopper", "Crane Operation", cert.number, tenant_name,
                     i18n.local_date(cert.issued_at, "en"), i18n.local_date(cert.expires_at, "en")):  # fmt: skip
        assert expected in text, expected
    assert url in text.replace("\n", "").replace(" ", "")
    assert _decoded(data) == [url]  # the QR code, read by OpenCV, leads to the page


def test_the_pdf_speaks_the_holders_language(db: BoundDatabase, settings: Settings) -> None:
    """The latest invitation's language, else the tenant's default."""
    tenant_id, cert_id = _made(db, settings, "Hans Halter")
    with db.unit_of_work(tenant_id) as uow:
        tenants.set_languages(uow, ["en", "de"], "en")
        cert = uow.get(Certificate, cert_id)
        person = uow.get(Candidate, cert.holder_id)
        assert pdf.holder_language(uow, person.id) == "en"
        assert "Certificate number" in _text(pdf.render(uow, settings, cert))
    make_invitation(db, tenant_id, kit_for(settings), name=person.name, email=person.email,
                    language="de")  # fmt: skip
    with db.unit_of_work(tenant_id) as uow:
        assert pdf.holder_language(uow, person.id) == "de"
        german = _text(pdf.render(uow, settings, uow.get(Certificate, cert_id)))
    assert "Zertifikatsnummer" in german and "Hans Halter" in german


def test_staff_download_the_pdf_with_certificate_view(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant_id, cert_id = _made(db, settings)
    auditor, _ = web_client(app, db, tenant_id, ["auditor"])
    r = auditor.get(f"/certification/certificates/{cert_id}/certificate.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["cache-control"] == "no-store"
    assert "Grace Hopper" in _text(r.content)
    assert 'filename="C-2026-' in r.headers["content-disposition"]
    grader, _ = web_client(app, db, tenant_id, ["grader"])
    assert grader.get(f"/certification/certificates/{cert_id}/certificate.pdf").status_code == 403
    assert (
        auditor.get(f"/certification/certificates/{uuid.uuid4()}/certificate.pdf").status_code
        == 404
    )
    assert auditor.get("/certification/certificates/nope/certificate.pdf").status_code == 404
