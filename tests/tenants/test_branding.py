"""Tenant branding: the logo (sniffed, bounded, re-encoded without metadata),
the accent colour (format and contrast), the page and the API, the audit
entries, and what candidates see."""

from __future__ import annotations

import io
import re
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from invigil.audit.models import AuditEvent
from invigil.errors import Invalid
from invigil.settings import Settings
from invigil.tenants import branding
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.delivery.factories import kit_for, make_invitation, token_of
from tests.identity.test_pages import csrf_of, signed_in


def logo_png(width: int = 120, height: int = 40, **save: object) -> bytes:
    img = Image.new("RGB", (width, height), (11, 110, 79))
    out = io.BytesIO()
    img.save(out, format="PNG", **save)
    return out.getvalue()


def with_exif_jpeg() -> bytes:
    img = Image.new("RGB", (64, 64), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {1: "N"}  # GPS IFD
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif, comment=b"private comment")
    return out.getvalue()


def test_a_logo_is_re_encoded_without_its_metadata() -> None:
    raw = with_exif_jpeg() + b"<script>alert(1)</script>"  # trailing bytes too
    assert b"SecretCam" in raw
    logo = branding.clean_logo(raw)
    assert logo.content_type == "image/jpeg" and (logo.width, logo.height) == (64, 64)
    assert b"SecretCam" not in logo.data and b"private comment" not in logo.data
    assert b"<script>" not in logo.data
    with Image.open(io.BytesIO(logo.data)) as again:
        assert not again.getexif()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "choose a logo"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>', "SVG"),
        (b"GIF89a" + b"\0" * 100, "PNG, JPEG or WebP"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "could not be read"),
        (logo_png(1025, 10), "at most 1024"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * (branding.MAX_BYTES + 1), "at most 512 KiB"),
    ],
    ids=["empty", "svg", "gif", "broken-png", "too-wide", "too-big"],
)
def test_a_logo_that_is_not_a_small_picture_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(Invalid, match=message) as refused:
        branding.clean_logo(data)
    assert refused.value.extensions["field"] == "logo"


def test_a_picture_claiming_another_format_is_refused() -> None:
    png = logo_png()
    with pytest.raises(Invalid):
        branding.clean_logo(b"\xff\xd8\xff" + png[3:])


@pytest.mark.parametrize(
    ("colour", "ok"),
    [("#1f5fbf", True), ("#0B6E4F", True), ("#000000", True), ("#ffcc00", False),
     ("#767676", True), ("#777777", False), ("1f5fbf", False), ("#12345", False),
     ("red", False), ("#1f5fbg", False)],
)  # fmt: skip
def test_the_accent_is_rrggbb_with_aa_contrast_against_white(colour: str, ok: bool) -> None:
    if ok:
        assert branding.check_accent(colour) == colour.lower()
        assert branding.contrast_with_white(colour.lower()) >= 4.5
    else:
        with pytest.raises(Invalid) as refused:
            branding.check_accent(colour)
        assert refused.value.extensions["field"] == "accent"


def test_contrast_matches_wcag() -> None:
    assert branding.contrast_with_white("#000000") == pytest.approx(21.0)
    assert branding.contrast_with_white("#ffffff") == pytest.approx(1.0)
    assert branding.contrast_with_white("#767676") == pytest.approx(4.54, abs=0.01)


def test_changes_are_audited_and_kept_per_tenant(
    db: BoundDatabase, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with db.unit_of_work(tenant_a.id) as uow:
        branding.set_accent(uow, "#0b6e4f")
        branding.set_logo(uow, logo_png())
        brand = branding.brand_of(uow)
        assert brand.accent == "#0b6e4f" and brand.has_logo and brand.name == tenant_a.name
        kinds = list(uow.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
        assert kinds[-2:] == ["tenant.branding_changed", "tenant.logo_changed"]
    with db.unit_of_work(tenant_b.id) as uow:  # another tenant sees its own (none)
        other = branding.brand_of(uow)
        assert other.accent == branding.DEFAULT_ACCENT and not other.has_logo
        assert branding.logo_of(uow) is None
    with db.unit_of_work(tenant_a.id) as uow:
        branding.remove_logo(uow)
        branding.set_accent(uow, "")
        assert not branding.brand_of(uow).has_logo
        assert branding.brand_of(uow).accent == branding.DEFAULT_ACCENT


def test_the_api_sets_the_accent_and_the_logo(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    admin = make_user(db, tenant.id, ["tenant_admin"])
    client = TestClient(app, raise_server_exceptions=False)
    headers = bearer(app, db, admin)
    low = client.put("/api/v1/tenant/branding", json={"accent": "#ffcc00"}, headers=headers)
    assert low.status_code == 422 and "4.5:1" in low.json()["detail"]
    assert low.json()["field"] == "accent"
    ok = client.put("/api/v1/tenant/branding", json={"accent": "#0B6E4F"}, headers=headers)
    assert ok.status_code == 200 and ok.json()["accent"] == "#0b6e4f"
    svg = client.put("/api/v1/tenant/branding/logo", content=b"<svg/>", headers=headers)
    assert svg.status_code == 422 and svg.json()["field"] == "logo"
    put = client.put("/api/v1/tenant/branding/logo", content=logo_png(), headers=headers)
    assert put.status_code == 200 and put.json()["logo_type"] == "image/png"
    got = client.get("/api/v1/tenant/branding/logo", headers=headers)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    author = make_user(db, tenant.id, ["exam_author"])
    refused = client.get("/api/v1/tenant/branding", headers=bearer(app, db, author))
    assert refused.status_code == 403


def test_the_admin_page_uploads_a_logo_and_names_the_field_on_errors(
    client: TestClient, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    signed_in(client, db, tenant, ["tenant_admin"])
    page = client.get("/admin/branding")
    assert page.status_code == 200 and "Branding" in page.text
    csrf = csrf_of(page.text)
    bad = client.post("/admin/branding", data={"csrf": csrf, "accent": "#ffff00"})
    assert bad.status_code == 422
    assert 'id="accent-error"' in bad.text and 'aria-invalid="true"' in bad.text
    assert 'value="#ffff00"' in bad.text  # what was typed stays
    svg = client.post(
        "/admin/branding/logo",
        data={"csrf": csrf},
        files={"logo": ("logo.png", b"<svg onload='x()'/>", "image/png")},
    )
    assert svg.status_code == 422 and 'id="logo-error"' in svg.text
    up = client.post(
        "/admin/branding/logo",
        data={"csrf": csrf},
        files={"logo": ("logo.png", logo_png(), "image/png")},
        follow_redirects=False,
    )
    assert up.status_code == 303
    shown = client.get(up.headers["location"])
    assert "Logo saved" in shown.text and "/admin/branding/logo?v=" in shown.text
    assert client.get("/admin/branding/logo").headers["content-type"] == "image/png"


def test_candidates_see_the_tenants_name_logo_and_colour(
    client: TestClient, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    with db.unit_of_work(tenant.id) as uow:
        branding.set_accent(uow, "#0b6e4f")
        branding.set_logo(uow, logo_png())
    token = token_of(make_invitation(db, tenant.id, kit_for(settings)))
    landing = client.get(f"/take/{token}")
    assert landing.status_code == 200
    assert tenant.name in landing.text and "#0b6e4f" in landing.text
    logo = re.search(rf'src="(/take/{re.escape(token)}/logo\?v=[0-9a-f]+)"', landing.text)
    assert logo, "the landing page shows the tenant's logo"
    image = client.get(logo.group(1))
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    dead = client.get(f"/take/gl.{uuid.uuid4().hex}.nope/logo")
    assert dead.status_code == 404  # the neutral page, as for any dead link
