"""Password hashing with argon2id and a NIST SP 800-63B policy.

Length is what counts (no composition rules); a password is refused when it
is on a list of breached/common passwords, is one character repeated, or
contains the account's own email or name.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib.resources import files
from typing import Literal

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from invigil.errors import Invalid
from invigil.logs import get_logger

Profile = Literal["rfc9106-low-memory", "test-only-minimal"]
PRODUCTION: Profile = "rfc9106-low-memory"
# argon2id either way. Production: argon2-cffi's RFC 9106 "low memory" profile
# (t=3, m=64 MiB, p=4), about 0.15 s of CPU a hash. The test suite hashes and
# verifies thousands of passwords; it selects the smallest parameters argon2
# accepts (t=1, m=8 KiB, p=1) through settings, and one test holds production
# to its own profile.
_PROFILES: dict[Profile, PasswordHasher] = {
    "rfc9106-low-memory": PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY),
    "test-only-minimal": PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
}

log = get_logger(__name__)

MIN_LENGTH = 12
MAX_LENGTH = 256


class _Current:
    """The hasher in use and its timing equaliser: a hash spent on unknown
    accounts so that a wrong email takes as long as a wrong password (made
    with the same parameters)."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.hasher = _PROFILES[profile]
        self.dummy = self.hasher.hash("invigil-timing-equaliser")


_current: _Current | None = None


def configure(profile: Profile) -> None:
    """Hash with ``profile`` from now on (settings.argon2_profile, applied
    when the app or the CLI starts, which also makes the timing equaliser
    then rather than at the first sign-in). Existing hashes of other
    parameters still verify, and are rehashed at the next sign-in."""
    global _current
    if _current is None or profile != _current.profile:
        _current = _Current(profile)
        if profile != PRODUCTION:  # once per process: it protects nothing
            log.warning("passwords.test_only_hashing", profile=profile)


def _in_use() -> _Current:
    if _current is None:
        configure(PRODUCTION)
    assert _current is not None
    return _current


def profile() -> Profile:
    return _in_use().profile


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
    return _in_use().hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    current = _in_use()
    try:
        return current.hasher.verify(stored or current.dummy, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _in_use().hasher.check_needs_rehash(stored)
