"""A tenant's branding: its logo and accent colour, shown to its candidates
(landing page, system check, player, confirmation) and in its mails.

Everything that shows a tenant's brand reads it through :func:`brand_of`,
which later code (PDF reports, certificates) calls the same way.

A logo is refused unless its bytes are a PNG, JPEG or WebP picture (the
name and the declared type are never trusted; SVG can carry script and is
refused), at most :data:`MAX_BYTES` uploaded and :data:`MAX_SIDE` pixels a
side. It is decoded and written again by Pillow, so what is stored and
served is a picture Pillow produced: metadata (EXIF, GPS, comments, ICC
text) and anything appended to the file are gone. The accent colour is
``#rrggbb`` and must reach WCAG AA contrast (4.5:1) against white, since
buttons put white text on it.
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from invigil import audit
from invigil.db.base import Base, TenantScoped
from invigil.db.uow import UnitOfWork
from invigil.errors import Invalid
from invigil.tenants.models import Tenant

MAX_BYTES = 512 * 1024  # what may be uploaded
MAX_STORED = 256 * 1024  # what is kept after re-encoding
MAX_SIDE = 1024  # pixels, either side
MIN_CONTRAST = 4.5  # WCAG 2.x AA for normal text
DEFAULT_ACCENT = "#1f5fbf"
ACCENT_PATTERN = re.compile(r"^#[0-9a-f]{6}$")
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


class TenantBranding(TenantScoped, Base):
    __tablename__ = "tenant_branding"
    __table_args__ = (
        UniqueConstraint("tenant_id", name="uq_tenant_branding_tenant_id"),
        CheckConstraint("accent IS NULL OR accent ~ '^#[0-9a-f]{6}$'", name="accent"),
    )

    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    accent: Mapped[str | None] = mapped_column(String(7), nullable=True)
    logo: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    logo_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    logo_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    logo_width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    logo_height: Mapped[int | None] = mapped_column(Integer, nullable=True)


@dataclass(frozen=True)
class Logo:
    data: bytes
    content_type: str
    sha256: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        return self.content_type.split("/")[1].replace("jpeg", "jpg")


@dataclass(frozen=True)
class Brand:
    """What a page, a mail or a document shows of a tenant."""

    tenant_id: uuid.UUID
    name: str
    accent: str  # #rrggbb, contrast >= 4.5:1 against white
    logo_sha256: str | None  # None: no logo
    logo_type: str | None
    logo_width: int | None
    logo_height: int | None
    custom_accent: bool

    @property
    def has_logo(self) -> bool:
        return self.logo_sha256 is not None


def sniff(data: bytes) -> str | None:
    """The picture type the bytes are (PNG, JPEG, WebP), else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def clean_logo(data: bytes) -> Logo:
    """Check an uploaded logo and re-encode it (see the module docstring)."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise Invalid("choose a logo file", field="logo")
    if len(data) > MAX_BYTES:
        raise Invalid(
            f"the logo is {len(data) // 1024} KiB; at most {MAX_BYTES // 1024} KiB", field="logo"
        )
    declared = sniff(data)
    if declared is None:
        raise Invalid(
            "the logo must be a PNG, JPEG or WebP picture (SVG is not accepted)", field="logo"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as img:
                if FORMATS.get(img.format or "") != declared:
                    raise Invalid("the logo's contents do not match its format", field="logo")
                width, height = img.size
                if width > MAX_SIDE or height > MAX_SIDE:
                    raise Invalid(
                        f"the logo is {width}x{height} pixels; at most {MAX_SIDE} on each side",
                        field="logo",
                    )
                img.load()
                keep_alpha = img.mode in ("RGBA", "LA", "P", "PA")
                pixels = img.convert("RGBA" if keep_alpha else "RGB")
                pixels.info = {}  # no comment, ICC profile or EXIF carried over to the copy
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:  # fmt: skip
        raise Invalid("the logo could not be read as a picture", field="logo") from exc
    out = io.BytesIO()
    if declared == "image/jpeg" and not keep_alpha:
        pixels.save(out, format="JPEG", quality=90, optimize=True)
    elif declared == "image/webp":
        pixels.save(out, format="WEBP", quality=90)
    else:
        pixels.save(out, format="PNG", optimize=True)
        declared = "image/png"
    cleaned = out.getvalue()
    if len(cleaned) > MAX_STORED:
        raise Invalid(
            f"the logo is too detailed to keep ({len(cleaned) // 1024} KiB once re-encoded; "
            f"at most {MAX_STORED // 1024} KiB): use a smaller or simpler picture",
            field="logo",
        )
    return Logo(cleaned, declared, hashlib.sha256(cleaned).hexdigest(), width, height)


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_with_white(colour: str) -> float:
    """WCAG 2.x contrast ratio of ``colour`` against white (1 to 21)."""
    return 1.05 / (luminance(colour) + 0.05)


def check_accent(value: str) -> str:
    colour = value.strip().lower()
    if not ACCENT_PATTERN.match(colour):
        raise Invalid("give the accent colour as #rrggbb, for example #1f5fbf", field="accent")
    ratio = contrast_with_white(colour)
    if ratio < MIN_CONTRAST:
        raise Invalid(
            f"the accent colour {colour} has a contrast of {ratio:.1f}:1 against white; "
            f"white text on it needs at least {MIN_CONTRAST}:1 (WCAG AA): choose a darker colour",
            field="accent",
            contrast=round(ratio, 2),
        )
    return colour


def _row(uow: UnitOfWork) -> TenantBranding | None:
    return uow.scalar(select(TenantBranding))


def _row_for_change(uow: UnitOfWork) -> TenantBranding:
    row = uow.scalar(select(TenantBranding).with_for_update())
    if row is None:
        row = TenantBranding(tenant_id=uow.tenant, id=uuid.uuid4())
        uow.add(row)
    row.updated_at = datetime.now(UTC)
    return row


def brand_of(uow: UnitOfWork) -> Brand:
    """The unit of work's tenant's brand (the platform's defaults where it set none)."""
    tenant = uow.get(Tenant, uow.tenant)
    row = _row(uow)
    accent = row.accent if row is not None and row.accent else None
    return Brand(
        tenant_id=tenant.id,
        name=tenant.name,
        accent=accent or DEFAULT_ACCENT,
        logo_sha256=row.logo_sha256 if row is not None else None,
        logo_type=row.logo_type if row is not None else None,
        logo_width=row.logo_width if row is not None else None,
        logo_height=row.logo_height if row is not None else None,
        custom_accent=accent is not None,
    )


def logo_of(uow: UnitOfWork) -> Logo | None:
    """The stored (re-encoded) logo, or None."""
    row = _row(uow)
    if row is None or row.logo is None or row.logo_type is None or row.logo_sha256 is None:
        return None
    return Logo(row.logo, row.logo_type, row.logo_sha256, row.logo_width or 0, row.logo_height or 0)


def set_accent(uow: UnitOfWork, value: str | None) -> Brand:
    """Set (or with None / "" clear) the accent colour; audited when it changes."""
    colour = check_accent(value) if value and value.strip() else None
    row = _row_for_change(uow)
    if row.accent != colour:
        before = row.accent
        row.accent = colour
        uow.flush()
        audit.record(uow, "tenant.branding_changed", ("tenant", uow.tenant),
                     {"accent": colour, "accent_before": before})  # fmt: skip
    return brand_of(uow)


def set_logo(uow: UnitOfWork, data: bytes) -> Brand:
    """Check, re-encode and keep a logo; audited with its hash and size."""
    logo = clean_logo(data)
    row = _row_for_change(uow)
    before = row.logo_sha256
    row.logo, row.logo_type, row.logo_sha256 = logo.data, logo.content_type, logo.sha256
    row.logo_width, row.logo_height = logo.width, logo.height
    uow.flush()
    audit.record(
        uow,
        "tenant.logo_changed",
        ("tenant", uow.tenant),
        {"sha256": logo.sha256, "sha256_before": before, "type": logo.content_type,
         "bytes": len(logo.data), "uploaded_bytes": len(data),
         "width": logo.width, "height": logo.height},
    )  # fmt: skip
    return brand_of(uow)


def remove_logo(uow: UnitOfWork) -> Brand:
    row = _row_for_change(uow)
    if row.logo_sha256 is not None:
        before = row.logo_sha256
        row.logo = row.logo_type = row.logo_sha256 = None
        row.logo_width = row.logo_height = None
        uow.flush()
        audit.record(uow, "tenant.logo_removed", ("tenant", uow.tenant), {"sha256_before": before})
    return brand_of(uow)
