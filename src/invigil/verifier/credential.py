"""Verify an Open Badges 3.0 VC-JWT offline (docs/formats/open-badges-credential.md).

Standard library and ``cryptography`` only, nothing of Invigil: an
independent reading of the format, used by the certificate bundle's
checks and by anyone who holds a credential and the issuer's key.

:func:`verify` checks, in this order: the compact form; the JOSE header (``alg``
RS256, ``typ`` JWT if present, no other header than ``alg``/``kid``/``typ``/``jwk``);
the key (the JWK whose ``kid`` the header names, or the only one given); the
RSASSA-PKCS1-v1_5 SHA-256 signature; then the claims Open Badges 3.0 ties to
the credential (``iss`` = issuer.id, ``jti`` = id, ``sub`` =
credentialSubject.id, ``nbf`` = validFrom, ``exp`` = validUntil). It returns
the credential (the payload without those claims). Whether the credential
is still valid at a given time (``at``) is checked only when asked: a bundle
checked years later still proves what was issued.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

CLAIMS = ("iss", "jti", "sub", "nbf", "exp", "iat")
HEADERS = frozenset({"alg", "kid", "typ", "jwk"})


class CredentialError(ValueError):
    """The credential does not verify; the message says which check failed."""


def _b64decode(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as exc:
        raise CredentialError("not base64url") from exc


def _json(part: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(part))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CredentialError(f"the {what} is not JSON") from exc
    if not isinstance(value, dict):
        raise CredentialError(f"the {what} is not a JSON object")
    return value


def _int(value: str) -> int:
    return int.from_bytes(_b64decode(value), "big")


def _pick(keys: dict[str, Any], header: dict[str, Any]) -> dict[str, Any]:
    """The JWK to check with: from a JWK Set by the header's ``kid``, or the
    single JWK given (whose ``kid``, if it has one, must match)."""
    candidates = keys.get("keys", [keys])
    kid = header.get("kid")
    if kid is not None:
        named = [k for k in candidates if k.get("kid") == kid]
        if named:
            return dict(named[0])
        if len(candidates) == 1 and "kid" not in candidates[0]:
            return dict(candidates[0])
        raise CredentialError(f"no key with kid {kid}")
    if len(candidates) != 1:
        raise CredentialError("the header names no kid and more than one key is given")
    return dict(candidates[0])


def _check_signature(jwk: dict[str, Any], signing_input: bytes, signature: bytes) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    if jwk.get("kty") != "RSA" or "d" in jwk:
        raise CredentialError("the key is not a public RSA JWK")
    public = rsa.RSAPublicNumbers(_int(jwk["e"]), _int(jwk["n"])).public_key()
    if public.key_size < 2048:
        raise CredentialError("the RSA key is shorter than 2048 bits")
    try:
        public.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise CredentialError("the signature does not verify") from exc


def _moment(value: Any, what: str) -> int:
    if not isinstance(value, str):
        raise CredentialError(f"{what} is missing")
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CredentialError(f"{what} is not a date-time") from exc
    if at.tzinfo is None:
        raise CredentialError(f"{what} has no time zone")
    return int(at.timestamp())


def verify(token: str, keys: dict[str, Any], *, at: datetime | None = None) -> dict[str, Any]:
    """The credential inside ``token`` once its signature (by a key in
    ``keys``: a JWK or a JWK Set) and its claims check; :class:`CredentialError`
    naming the first check that fails. With ``at``, also that the credential
    is valid at that moment (``nbf`` <= at < ``exp``)."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not all(parts):
        raise CredentialError("not a compact JWS (three base64url parts)")
    header = _json(parts[0], "header")
    if header.get("alg") != "RS256":
        raise CredentialError(f"alg {header.get('alg')!r} is not RS256")
    if "typ" in header and header["typ"] != "JWT":
        raise CredentialError("typ is not JWT")
    if set(header) - HEADERS:
        raise CredentialError(f"headers not allowed: {sorted(set(header) - HEADERS)}")
    # A ``jwk`` in the header is never trusted by itself: the key must be
    # one the caller holds (the issuer's published keys).
    jwk = _pick(keys, header)
    _check_signature(jwk, f"{parts[0]}.{parts[1]}".encode(), _b64decode(parts[2]))
    payload = _json(parts[1], "payload")

    issuer = payload.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    subject = payload.get("credentialSubject")
    expected = {
        "iss": issuer_id,
        "jti": payload.get("id"),
        "sub": subject.get("id") if isinstance(subject, dict) else None,
        "nbf": _moment(payload.get("validFrom"), "validFrom"),
    }
    for claim, value in expected.items():
        if payload.get(claim) != value or value is None:
            raise CredentialError(f"claim {claim} does not match the credential")
    if ("validUntil" in payload or "exp" in payload) and payload.get("exp") != _moment(
        payload.get("validUntil"), "validUntil"
    ):
        raise CredentialError("claim exp does not match the credential")
    if at is not None:
        moment = int(at.astimezone(UTC).timestamp())
        if moment < payload["nbf"]:
            raise CredentialError("the credential is not valid yet")
        if "exp" in payload and moment >= payload["exp"]:
            raise CredentialError("the credential has expired")
    return {k: v for k, v in payload.items() if k not in CLAIMS}


def status_bit(encoded_list: str, index: int) -> bool:
    """Bit ``index`` of a Bitstring Status List's ``encodedList`` (multibase
    base64url, ``u`` prefix, of the GZIP of the bits; bit 0 the left-most)."""
    import gzip

    if not encoded_list.startswith("u"):
        raise CredentialError("encodedList is not multibase base64url")
    bits = gzip.decompress(_b64decode(encoded_list[1:]))
    if not 0 <= index < len(bits) * 8:
        raise CredentialError("the status index is outside the list")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))
