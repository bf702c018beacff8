"""Keyed hashes: values the audit log must match but must not show.

The audit log is kept for the tenant's lifetime, so it holds ids and hashes,
never a person's e-mail or network address (docs/adr/0062). Some entries must
still say "the same address again" about something that has no id: throttled
sign-ins from one address, failures for an e-mail that belongs to no account.
Those values go in as HMAC-SHA256 under a key that never leaves the server:
two throttles of one address carry the same hash, and nobody holding only the
log (an export, a backup) can read the address back or test guesses against
it. A plain SHA-256 would not do: there are only 2^32 IPv4 addresses, and
e-mail addresses are guessable.

The key is derived with HKDF-SHA256 from the platform's secrets key file
(``$INVIGIL_HOME/keys/secrets.key``, the one that seals TOTP seeds) with the
tenant's id as context, so the same address has unrelated hashes in two
tenants' logs and one tenant's export cannot be joined with another's. The
file is never rotated (rotating it would make later hashes stop matching
earlier ones, which is the point of keeping them).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# HKDF's info names the use, so no other key derived from the same file can
# equal this one; bump the version only with a new ADR (hashes would stop matching).
INFO = b"invigil/audit-pseudonym/v1"
PREFIX = "hmac-sha256:"


def tenant_key(secret: bytes, tenant: uuid.UUID) -> bytes:
    """The 256-bit key for one tenant's hashes."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=tenant.bytes, info=INFO).derive(secret)


def normalised(value: str) -> str:
    """E-mail addresses and network addresses compare without case or spaces."""
    return value.strip().lower()


def keyed_hash(key: bytes, kind: str, value: str) -> str:
    """``hmac-sha256:<hex>`` of ``value`` as a ``kind`` (``email``, ``address``):
    equal for equal values, unreadable without the key."""
    message = f"{kind}\x00{normalised(value)}".encode()
    return PREFIX + hmac.new(key, message, hashlib.sha256).hexdigest()


def text_sha256(text: str) -> str:
    """The SHA-256 of a free text (a reason typed by staff), hex, for an entry
    whose text stays in the row it belongs to: the entry proves the text, the
    row shows it, and erasing the row leaves nothing readable in the log."""
    return hashlib.sha256(text.encode()).hexdigest()
