"""Password hashing with argon2id (RFC 9106 parameters via argon2-cffi)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from invigil.errors import Invalid

_hasher = PasswordHasher()  # argon2id, 64 MiB, t=3, p=4: argon2-cffi's RFC 9106 low-memory profile

MIN_LENGTH = 12
MAX_LENGTH = 256


def check_policy(password: str) -> None:
    """NIST SP 800-63B: length is what counts; no composition rules."""
    if len(password) < MIN_LENGTH:
        raise Invalid(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise Invalid(f"a password may have at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_policy(password)
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
