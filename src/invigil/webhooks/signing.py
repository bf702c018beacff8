"""The signature of a delivery, as receivers check it (docs/formats/webhooks.md).

``Invigil-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``.
The timestamp is inside the signed text, so a receiver that refuses old
timestamps refuses a replayed request too, and the body is signed as the exact
bytes sent (no re-serialisation on either side). The secret is the text shown
to the administrator (``whsec_`` and 43 URL-safe characters), used as UTF-8 bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX = "whsec_"
HEADER = "Invigil-Signature"
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(
    secret: str, value: str, body: bytes, now: int, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """What a receiver does (the doc's snippet is the same rule, standard library only)."""
    parts: dict[str, list[str]] = {}
    for item in value.split(","):
        key, _, val = item.strip().partition("=")
        parts.setdefault(key, []).append(val)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, v) for v in parts.get("v1", []))
