"""Staff download of a printed certificate:
``GET /certification/certificates/{id}/certificate.pdf`` (``certificate:view``).

The same PDF the holder gets by mail (:mod:`invigil.certification.pdf`), in
the holder's language. Another tenant's id is simply not found (RLS).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from invigil.certification import pdf
from invigil.certification.models import Certificate
from invigil.identity.pages.common import _parse_id
from invigil.security.permissions import Permission as P
from invigil.web.session import PageContext, requires_page

router = APIRouter(include_in_schema=False)


@router.get("/certification/certificates/{certificate_id}/certificate.pdf")
def certificate_pdf(
    request: Request, certificate_id: str, ctx: PageContext = requires_page(P.CERTIFICATE_VIEW)
) -> Response:
    cert = ctx.uow.get(Certificate, _parse_id(certificate_id, "certificate"), label="certificate")
    data = pdf.render(ctx.uow, request.app.state.settings, cert)
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{pdf.filename(cert)}"',
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )
