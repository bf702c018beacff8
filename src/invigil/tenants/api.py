"""The tenant's branding over the API: ``/api/v1/tenant/branding`` (the
accent colour), ``.../logo`` (the logo: the raw picture as the body), and
``/api/v1/tenant/languages`` (the candidates' languages).
One permission for all of it: ``tenant:manage``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from invigil import i18n
from invigil.db.uow import UnitOfWork
from invigil.errors import NotFound
from invigil.security.permissions import Permission as P
from invigil.tenants import branding
from invigil.tenants import service as tenants
from invigil.tenants.models import Tenant
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1", tags=["tenant"])


class BrandingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accent: Annotated[str | None, Field(max_length=7, description="#rrggbb; null: the default")]


class BrandingOut(BaseModel):
    name: str
    accent: str
    custom_accent: bool
    accent_contrast: float
    logo: bool
    logo_type: str | None
    logo_sha256: str | None
    logo_width: int | None
    logo_height: int | None


def _out(b: branding.Brand) -> BrandingOut:
    return BrandingOut(
        name=b.name,
        accent=b.accent,
        custom_accent=b.custom_accent,
        accent_contrast=round(branding.contrast_with_white(b.accent), 2),
        logo=b.has_logo,
        logo_type=b.logo_type,
        logo_sha256=b.logo_sha256,
        logo_width=b.logo_width,
        logo_height=b.logo_height,
    )


async def _raw_body(request: Request) -> bytes:
    return await request.body()


@router.get("/tenant/branding", response_model=BrandingOut)
def get_branding(uow: UnitOfWork = requires(P.TENANT_MANAGE)) -> BrandingOut:
    return _out(branding.brand_of(uow))


@router.put("/tenant/branding", response_model=BrandingOut)
def put_branding(body: BrandingIn, uow: UnitOfWork = requires(P.TENANT_MANAGE)) -> BrandingOut:
    """Set the accent colour (refused below 4.5:1 contrast against white), or
    null for the default."""
    return _out(branding.set_accent(uow, body.accent))


@router.put("/tenant/branding/logo", response_model=BrandingOut)
def put_logo(
    uow: UnitOfWork = requires(P.TENANT_MANAGE),
    *,
    content: Annotated[bytes, Depends(_raw_body)],  # after the permission
) -> BrandingOut:
    """The logo as the raw body: PNG, JPEG or WebP (sniffed), at most 512 KiB
    and 1024 pixels a side; stored re-encoded, without metadata."""
    return _out(branding.set_logo(uow, content))


@router.delete("/tenant/branding/logo", response_model=BrandingOut)
def delete_logo(uow: UnitOfWork = requires(P.TENANT_MANAGE)) -> BrandingOut:
    return _out(branding.remove_logo(uow))


@router.get(
    "/tenant/branding/logo",
    response_class=Response,
    responses={404: {"description": "The tenant has no logo."}},
)
def get_logo(uow: UnitOfWork = requires(P.TENANT_MANAGE)) -> Response:
    logo = branding.logo_of(uow)
    if logo is None:
        raise NotFound("this tenant has no logo")
    return logo_response(logo)


def logo_response(logo: branding.Logo) -> Response:
    """A stored logo as an answer: the type it was re-encoded to, never sniffed
    again by the browser, never run as a document."""
    return Response(
        logo.data,
        media_type=logo.content_type,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=300",
            "ETag": f'"{logo.sha256}"',
        },
    )


class LanguagesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    languages: Annotated[
        list[Annotated[str, Field(max_length=16)]],
        Field(min_length=1, max_length=40, description="the languages candidates may read"),
    ]
    default_language: Annotated[
        str | None,
        Field(max_length=16, description="one of `languages`; null: the browser decides"),
    ] = None


class LanguagesOut(BaseModel):
    languages: list[str]
    default_language: str | None
    available: list[str] = Field(description="every language Invigil has a catalog for")


def _languages_out(t: Tenant) -> LanguagesOut:
    return LanguagesOut(
        languages=list(t.languages),
        default_language=t.default_language,
        available=list(i18n.AVAILABLE),
    )


@router.get("/tenant/languages", response_model=LanguagesOut)
def get_languages(uow: UnitOfWork = requires(P.TENANT_MANAGE)) -> LanguagesOut:
    return _languages_out(uow.get(Tenant, uow.tenant))


@router.put("/tenant/languages", response_model=LanguagesOut)
def put_languages(body: LanguagesIn, uow: UnitOfWork = requires(P.TENANT_MANAGE)) -> LanguagesOut:
    """Set the languages candidates may read and the default (audited)."""
    return _languages_out(tenants.set_languages(uow, body.languages, body.default_language))
