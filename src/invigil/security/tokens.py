"""Access tokens (RFC 9068 JWTs, EdDSA) and opaque bearer secrets.

One verifier per token type, each with its own ``typ``, its own key ring and
an algorithm allow-list of one: ``alg: none``, HMAC with the public key, a
token of another type or another purpose's key are all refused (RFC 8725).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from invigil.errors import Unauthorized
from invigil.security.keys import KeyRing

ACCESS_TYP = "at+jwt"
ALGORITHMS = ["EdDSA"]
REQUIRED_CLAIMS = [
    "exp",
    "iat",
    "nbf",
    "iss",
    "aud",
    "sub",
    "jti",
    "tid",
    "sid",
    "roles",
    "permissions",
]


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_slug: str
    session_id: uuid.UUID
    roles: tuple[str, ...]
    permissions: frozenset[str]
    jti: str
    expires_at: datetime
    mfa_enroll_only: bool


class AccessTokens:
    def __init__(self, ring: KeyRing, *, issuer: str, audience: str, minutes: int) -> None:
        self.ring, self.issuer, self.audience = ring, issuer, audience
        self.lifetime = timedelta(minutes=minutes)

    def issue(
        self,
        *,
        user_id: uuid.UUID,
        tenant_id: uuid.UUID,
        tenant_slug: str,
        session_id: uuid.UUID,
        roles: list[str],
        permissions: list[str],
        mfa_enroll_only: bool = False,
        now: datetime | None = None,
    ) -> tuple[str, int]:
        now = now or datetime.now(UTC)
        key = self.ring.current()
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user_id),
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
            "jti": uuid.uuid4().hex,
            "tid": str(tenant_id),
            "tenant": tenant_slug,
            "sid": str(session_id),
            "roles": sorted(roles),
            "permissions": sorted(permissions),
            "client_id": "invigil",
        }
        if mfa_enroll_only:
            claims["mfa_enroll_only"] = True
        token = jwt.encode(
            claims, key.private, algorithm="EdDSA", headers={"kid": key.kid, "typ": ACCESS_TYP}
        )
        return token, int(self.lifetime.total_seconds())

    def verify(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("the access token is malformed") from exc
        if str(header.get("typ", "")).lower() not in (ACCESS_TYP, "application/" + ACCESS_TYP):
            raise Unauthorized("this is not an access token (typ must be at+jwt)")
        if header.get("alg") not in ALGORITHMS:
            raise Unauthorized("the access token's algorithm is not accepted")
        public = self.ring.verifying_key(str(header.get("kid", "")))
        if public is None:
            raise Unauthorized("the access token was signed by an unknown key")
        try:
            claims = jwt.decode(
                token,
                public,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                leeway=5,
                options={"require": REQUIRED_CLAIMS},
            )
            return AccessClaims(
                user_id=uuid.UUID(claims["sub"]),
                tenant_id=uuid.UUID(claims["tid"]),
                tenant_slug=str(claims.get("tenant", "")),
                session_id=uuid.UUID(claims["sid"]),
                roles=tuple(claims["roles"]),
                permissions=frozenset(claims["permissions"]),
                jti=str(claims["jti"]),
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
                mfa_enroll_only=bool(claims.get("mfa_enroll_only", False)),
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("the access token has expired; refresh it or sign in again") from exc
        except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
            raise Unauthorized(f"the access token is not valid ({exc})") from exc


def new_secret(prefix: str, tenant_id: uuid.UUID) -> str:
    """An opaque bearer secret that names its tenant (so it can be looked up
    under RLS) and carries 256 random bits."""
    return f"{prefix}.{tenant_id.hex}.{secrets.token_urlsafe(32)}"


def split_secret(prefix: str, value: str) -> uuid.UUID | None:
    parts = value.split(".")
    if len(parts) != 3 or parts[0] != prefix or len(parts[2]) < 40:
        return None
    try:
        return uuid.UUID(hex=parts[1])
    except ValueError:
        return None


def digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()
