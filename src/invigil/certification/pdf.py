"""The printed certificate (PDF): what the holder gets by mail and staff
download.

One A4 landscape page in the tenant's branding (name, logo, accent colour):
the holder's name, the program's name, the certificate's number, the issue
and expiry dates, and a QR code to the public verification page
(``{settings.issuer}/verify/{id}``) with that address printed beside it, so a
reader without a phone can type it.

Rendered like the results' reports (:mod:`invigil.results.reports`): a
Jinja template to HTML, WeasyPrint to PDF, with the reports' URL fetcher
that serves Invigil's own files and the tenant's logo and refuses every
other URL. The QR code is a PNG made by ``segno`` (one pixel per module,
scaled by the page with ``image-rendering: pixelated``, so its edges stay
sharp), handed to WeasyPrint through that fetcher: an image in the PDF that
any reader, and the tests, can take out and decode.

The words are in the holder's language: their latest invitation's, else
the tenant's default (:func:`holder_language`).
"""

from __future__ import annotations

import io
import uuid
from typing import Any

import segno
from sqlalchemy import select
from weasyprint import HTML  # type: ignore[import-untyped]
from weasyprint.urls import URLFetcherResponse  # type: ignore[import-untyped]

from invigil.certification.models import Certificate, Program
from invigil.db.uow import UnitOfWork
from invigil.delivery import language
from invigil.delivery.models import Candidate, Invitation
from invigil.results.reports import LOGO, STYLESHEET, OwnFiles
from invigil.settings import Settings
from invigil.tenants import branding
from invigil.web.pages import templates

TEMPLATE = "certification/certificate_pdf.html"
QR = "invigil:qr"


def verification_url(settings: Settings, certificate_id: uuid.UUID) -> str:
    """The public page a certificate's QR code and printed address lead to."""
    return f"{settings.issuer.rstrip('/')}/verify/{certificate_id}"


def qr_png(url: str) -> bytes:
    """The QR code of ``url`` (error correction M, the quiet zone of 4
    modules), one pixel per module."""
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="png", scale=1, border=4)
    return out.getvalue()


def holder_language(uow: UnitOfWork, holder_id: uuid.UUID) -> str:
    """The language of what goes to a holder: their latest invitation's,
    else the tenant's default (among the tenant's languages)."""
    latest = uow.scalar(
        select(Invitation)
        .where(Invitation.candidate_id == holder_id)
        .order_by(Invitation.created_at.desc(), Invitation.id.desc())
        .limit(1)
    )
    return language.of_invitation(uow, latest)


class _Files(OwnFiles):
    """The reports' fetcher, plus the QR code's image."""

    def __init__(self, logo: branding.Logo | None, qr: bytes) -> None:
        super().__init__(logo)
        self.qr = qr

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        if url == QR:
            return URLFetcherResponse(url, self.qr, {"Content-Type": "image/png"})
        return super().fetch(url, headers)


def html(
    uow: UnitOfWork, settings: Settings, certificate: Certificate, locale: str
) -> tuple[str, branding.Logo | None, bytes]:
    """The certificate's HTML, its logo and its QR image (what :func:`render` prints)."""
    brand = branding.brand_of(uow)
    logo = branding.logo_of(uow) if brand.has_logo else None
    holder = uow.get(Candidate, certificate.holder_id)
    program = uow.get(Program, certificate.program_id)
    url = verification_url(settings, certificate.id)
    page = templates.env.get_template(TEMPLATE).render(
        locale=locale,
        brand=brand,
        logo_url=LOGO if logo is not None else None,
        stylesheet=STYLESHEET,
        qr_url=QR,
        holder=holder.name,
        program=program.name,
        number=certificate.number,
        issued_at=certificate.issued_at,
        expires_at=certificate.expires_at,
        verify_url=url,
    )
    return page, logo, qr_png(url)


def render(
    uow: UnitOfWork, settings: Settings, certificate: Certificate, *, locale: str | None = None
) -> bytes:
    """The certificate as a PDF, in ``locale`` (default: the holder's language)."""
    code = locale or holder_language(uow, certificate.holder_id)
    page, logo, qr = html(uow, settings, certificate, code)
    pdf: bytes = HTML(string=page, url_fetcher=_Files(logo, qr)).write_pdf()
    return pdf


def filename(certificate: Certificate) -> str:
    return f"{certificate.number}.pdf"
