"""TOTP second factor (RFC 6238) for staff, with the seed encrypted at rest."""

from __future__ import annotations

from datetime import UTC, datetime

import pyotp

from invigil import audit
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid
from invigil.identity.models import User
from invigil.security.secretbox import SecretBox

ISSUER = "Invigil"


def _context(user: User) -> str:
    return f"totp:{user.tenant_id}:{user.id}"


def _totp(box: SecretBox, user: User) -> pyotp.TOTP | None:
    if user.totp_secret is None:
        return None
    return pyotp.TOTP(box.open(user.totp_secret, _context(user)).decode())


def verify_code(uow: UnitOfWork, box: SecretBox, user: User, code: str) -> bool:
    totp = _totp(box, user)
    return bool(totp and code.strip().isdigit() and totp.verify(code.strip(), valid_window=1))


def begin(uow: UnitOfWork, box: SecretBox, user: User) -> tuple[str, str]:
    """A new, not yet enabled seed: returns it and its otpauth:// URI."""
    if user.totp_enabled_at is not None:
        raise Conflict("a second factor is already enabled; disable it first to replace it")
    secret = pyotp.random_base32()
    user.totp_secret = box.seal(secret.encode(), _context(user))
    uow.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return secret, uri


def confirm(uow: UnitOfWork, box: SecretBox, user: User, code: str) -> None:
    if user.totp_secret is None:
        raise Conflict("start the set-up first (POST /api/v1/me/totp)")
    if user.totp_enabled_at is not None:
        raise Conflict("the second factor is already enabled")
    if not verify_code(uow, box, user, code):
        raise Invalid("that code is not valid; check the device's clock and try the next code")
    user.totp_enabled_at = datetime.now(UTC)
    audit.record(uow, "user.mfa_enabled", user, {"method": "totp"})


def disable(
    uow: UnitOfWork, box: SecretBox, user: User, code: str | None, *, by_admin: bool = False
) -> None:
    if user.totp_enabled_at is None and user.totp_secret is None:
        raise Conflict("no second factor is set up")
    if not by_admin and not (code and verify_code(uow, box, user, code)):
        raise Invalid("that code is not valid")
    user.totp_secret, user.totp_enabled_at = None, None
    audit.record(uow, "user.mfa_disabled", user, {"by_admin": by_admin})
