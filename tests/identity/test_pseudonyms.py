"""The audit log's keyed hashes: equal values match within a tenant, differ
across tenants and kinds, and cannot be recomputed without the server's
secret."""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from invigil.security import pseudonyms
from invigil.security.keyfile import secret_file
from invigil.security.secretbox import SecretBox

TENANT, OTHER = uuid.UUID(int=1), uuid.UUID(int=2)
HASHED = re.compile(r"^hmac-sha256:[0-9a-f]{64}$")


def test_equal_values_match_and_read_as_no_value(tmp_path: Path) -> None:
    box = SecretBox(tmp_path / "secrets.key")
    first = box.pseudonym(TENANT, "address", "203.0.113.7")
    assert HASHED.match(first)
    assert box.pseudonym(TENANT, "address", " 203.0.113.7 ") == first
    assert "203.0.113.7" not in first and "203" not in first.removeprefix("hmac-sha256:")[:3]
    # E-mail addresses compare without case, as sign-in does.
    email = box.pseudonym(TENANT, "email", "Ada.Lovelace@Example.org")
    assert email == box.pseudonym(TENANT, "email", "ada.lovelace@example.org")
    assert email != box.pseudonym(TENANT, "email", "ada.lovelace@example.com")
    # A second process reading the same key file gets the same hashes.
    assert SecretBox(tmp_path / "secrets.key").pseudonym(TENANT, "address", "203.0.113.7") == first


def test_tenants_and_kinds_do_not_match(tmp_path: Path) -> None:
    box = SecretBox(tmp_path / "secrets.key")
    value = "198.51.100.4"
    ours, theirs = box.pseudonym(TENANT, "address", value), box.pseudonym(OTHER, "address", value)
    assert ours != theirs
    assert box.pseudonym(TENANT, "email", value) != ours


def test_another_secret_gives_other_hashes_and_no_plain_hash_matches(tmp_path: Path) -> None:
    ours = SecretBox(tmp_path / "a" / "secrets.key").pseudonym(TENANT, "address", "192.0.2.1")
    other = SecretBox(tmp_path / "b" / "secrets.key").pseudonym(TENANT, "address", "192.0.2.1")
    assert ours != other
    digest = ours.removeprefix(pseudonyms.PREFIX)
    guesses = {
        hashlib.sha256(v.encode()).hexdigest() for v in ("192.0.2.1", "address\x00192.0.2.1")
    }
    assert digest not in guesses  # a plain hash would be found by trying every address


def test_the_hash_is_the_documented_construction(tmp_path: Path) -> None:
    """HMAC-SHA256(HKDF-SHA256(secrets.key, salt=tenant id, info), kind 0x00 value),
    as ADR 0062 and docs/formats/audit-export.md describe it."""
    path = tmp_path / "secrets.key"
    box = SecretBox(path)
    got = box.pseudonym(TENANT, "email", " Someone@Example.org")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=TENANT.bytes,
               info=b"invigil/audit-pseudonym/v1").derive(secret_file(path))  # fmt: skip
    want = hmac.new(key, b"email\x00someone@example.org", hashlib.sha256).hexdigest()
    assert got == "hmac-sha256:" + want
    # The key is not the file's bytes themselves (those seal TOTP seeds).
    plain = hmac.new(secret_file(path), b"email\x00someone@example.org", hashlib.sha256)
    assert got != "hmac-sha256:" + plain.hexdigest()


def test_free_text_goes_by_its_sha256() -> None:
    text = "Rejected: the holder's ID did not match"
    assert pseudonyms.text_sha256(text) == hashlib.sha256(text.encode()).hexdigest()
