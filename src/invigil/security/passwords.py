"""Password hashing with argon2id and a NIST SP 800-63B policy.

Length is what counts (no composition rules); a password is refused when it
is on a list of breached/common passwords, is one character repeated, or
contains the account's own email or name.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib.resources import files

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from invigil.errors import Invalid

_hasher = PasswordHasher()  # argon2id; argon2-cffi's RFC 9106 "low memory" profile

MIN_LENGTH = 12
MAX_LENGTH = 256
# Spent on unknown accounts so that a wrong email takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("invigil-timing-equaliser")


@cache
def _common() -> frozenset[str]:
    text = (files("invigil.security") / "data" / "common-passwords.txt").read_text()
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def check_policy(password: str, context: Iterable[str] = ()) -> None:
    if len(password) < MIN_LENGTH:
        raise Invalid(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise Invalid(f"a password may have at most {MAX_LENGTH} characters")
    lowered = password.lower()
    if lowered in _common() or len(set(lowered)) == 1:
        raise Invalid(
            "this password is too common (it appears in breached-password lists); "
            "choose another, a few unrelated words work well"
        )
    for item in context:
        for word in {item.lower(), item.lower().split("@")[0]}:
            if len(word) >= 4 and word in lowered:
                raise Invalid("a password must not contain your email address or name")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
