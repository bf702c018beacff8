"""Every certificate as an Open Badges 3.0 credential (docs/formats/open-badges-credential.md).

The credential is a W3C Verifiable Credential (data model 2.0) of type
``OpenBadgeCredential``: the tenant is the issuer (a ``Profile``), the
program version the ``Achievement``, the holder the ``AchievementSubject`` —
named by a salted SHA-256 of their e-mail address (``IdentityObject``), never
the address itself. It is secured as a VC-JWT (JOSE compact serialization,
``RS256``, the ``kid`` a URL of the tenant's public key), the proof format
Open Badges 3.0 describes first and any JOSE library verifies (docs/adr/0043).

Nothing here is stored: the credential is rebuilt from the certificate, its
program version and the tenant whenever asked for, and RS256 (RSASSA-PKCS1
v1.5) is deterministic, so the same certificate signed by the same key gives
the same token every time. Its ``credentialStatus`` points into the tenant's
revocation status list (:mod:`invigil.certification.status_lists`).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt

from invigil.certification import issuer_keys, status_lists
from invigil.certification.definition import Definition
from invigil.certification.models import Certificate, Program, ProgramVersion
from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Candidate
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from invigil.tenants import branding
from invigil.tenants.models import Tenant

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB_SCHEMA = (
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
)
MEDIA_TYPE = "application/jwt"  # typ "JWT", as Open Badges 3.0 requires of the JOSE header


def base_of(settings: Settings) -> str:
    return settings.issuer.rstrip("/")


def issuer_id(settings: Settings, tenant_id: uuid.UUID) -> str:
    return f"{base_of(settings)}/issuers/{tenant_id}"


def credential_id(settings: Settings, certificate_id: uuid.UUID) -> str:
    return f"{base_of(settings)}/credentials/{certificate_id}"


def timestamp(at: datetime) -> str:
    """A DateTimeZ to the second (the JWT's NumericDate has no finer grain,
    and ``nbf`` must equal ``validFrom``)."""
    return at.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def numeric(at: datetime) -> int:
    return int(at.astimezone(UTC).replace(microsecond=0).timestamp())


def profile(uow: UnitOfWork, settings: Settings) -> dict[str, Any]:
    """The tenant as an Open Badges issuer ``Profile`` (name, and its logo
    as a public image URL when it has one)."""
    tenant = uow.get(Tenant, uow.tenant)
    out: dict[str, Any] = {
        "id": issuer_id(settings, tenant.id),
        "type": ["Profile"],
        "name": tenant.name,
    }
    if branding.brand_of(uow).has_logo:
        out["image"] = {
            "id": f"{issuer_id(settings, tenant.id)}/logo",
            "type": "Image",
            "caption": tenant.name,
        }
    return out


def identity_hash(email: str, salt: str) -> str:
    """Open Badges' IdentityHash: ``sha256$`` + hex(SHA-256(identity + salt)),
    the address trimmed and lower-cased first (the form a verifier who
    knows the address will try)."""
    digest = hashlib.sha256((email.strip().lower() + salt).encode()).hexdigest()
    return f"sha256${digest}"


def salt_of(certificate_id: uuid.UUID) -> str:
    """The salt: published with the hash, fixed per certificate (so the
    credential is the same each time it is built) and different for each
    (so two credentials of one holder do not share a hash)."""
    return hashlib.sha256(b"invigil:ob3-identity-salt:" + certificate_id.bytes).hexdigest()[:32]


def achievement(uow: UnitOfWork, version: ProgramVersion) -> dict[str, Any]:
    """The program version as an ``Achievement``; its id names the version,
    so a revised program is a different achievement."""
    program = uow.get(Program, version.program_id)
    definition = Definition.model_validate(version.definition)
    validity = (
        f"valid for {definition.validity_months} months"
        if definition.validity_months is not None
        else "valid without expiry"
    )
    criteria = definition.criteria.strip() or (
        f"Final results that meet {program.name} (version {version.version}); {validity}."
    )
    return {
        "id": f"urn:uuid:{version.id}",
        "type": ["Achievement"],
        "achievementType": "Certification",
        "name": program.name,
        "description": definition.description.strip() or program.name,
        "criteria": {"narrative": criteria},
        "version": str(version.version),
    }


def credential(
    uow: UnitOfWork, box: SecretBox, settings: Settings, certificate: Certificate
) -> dict[str, Any]:
    """The unsigned Open Badges 3.0 credential of ``certificate``. (``box``
    is unused here, kept for the shape every caller shares with
    :func:`signed`.)"""
    del box
    version = uow.get(ProgramVersion, certificate.program_version_id)
    holder = uow.get(Candidate, certificate.holder_id)
    salt = salt_of(certificate.id)
    subject: dict[str, Any] = {
        "id": f"urn:uuid:{certificate.holder_id}",
        "type": ["AchievementSubject"],
        "identifier": [
            {
                "type": "IdentityObject",
                "identityHash": identity_hash(holder.email, salt),
                "identityType": "emailAddress",
                "hashed": True,
                "salt": salt,
            }
        ],
        "achievement": achievement(uow, version),
    }
    out: dict[str, Any] = {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": credential_id(settings, certificate.id),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": subject["achievement"]["name"],
        "issuer": profile(uow, settings),
        "validFrom": timestamp(certificate.issued_at),
        "credentialSubject": subject,
        "credentialStatus": status_lists.entry(
            settings, uow.tenant, "revocation", certificate.status_index
        ),
        "credentialSchema": [{"id": OB_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}],
    }
    if certificate.expires_at is not None:
        out["validUntil"] = timestamp(certificate.expires_at)
    return out


def jwt_claims(document: dict[str, Any]) -> dict[str, Any]:
    """The registered claims Open Badges 3.0 requires beside the credential:
    ``iss`` = issuer.id, ``jti`` = id, ``sub`` = credentialSubject.id,
    ``nbf`` = validFrom and ``exp`` = validUntil when it has one."""
    issuer = document["issuer"]
    claims: dict[str, Any] = {
        "iss": issuer["id"] if isinstance(issuer, dict) else issuer,
        "jti": document["id"],
        "sub": document["credentialSubject"]["id"],
        "nbf": numeric(datetime.fromisoformat(document["validFrom"])),
    }
    if "validUntil" in document:
        claims["exp"] = numeric(datetime.fromisoformat(document["validUntil"]))
    return claims


def sign(
    uow: UnitOfWork,
    box: SecretBox,
    settings: Settings,
    document: dict[str, Any],
    *,
    now: datetime | None = None,
) -> str:
    """``document`` as a VC-JWT signed with the tenant's issuer key: JOSE
    header ``alg`` RS256, ``kid`` the key's URL, ``typ`` JWT (no other
    header: Open Badges 3.0 allows none); the payload is the credential and
    its registered claims."""
    key = issuer_keys.signer(uow, box, base_of(settings), now=now or datetime.now(UTC))
    payload = {**document, **jwt_claims(document)}
    return jwt.encode(
        payload, key.private_key, algorithm=issuer_keys.ALG, headers={"kid": key.kid, "typ": "JWT"}
    )


def signed(
    uow: UnitOfWork,
    box: SecretBox,
    settings: Settings,
    certificate: Certificate,
    *,
    now: datetime | None = None,
) -> str:
    """The certificate's credential as a compact VC-JWT. ``now`` dates the
    issuer key if this is the tenant's first (it is made on first need)."""
    return sign(uow, box, settings, credential(uow, box, settings, certificate), now=now)


def issuer_jwk(
    uow: UnitOfWork,
    box: SecretBox,
    settings: Settings | None = None,
    *,
    now: datetime | None = None,
) -> dict[str, str]:
    """The public JWK of the tenant's signing key (created on first need).
    With ``settings`` its ``kid`` is the key's URL, as in the JWT header;
    without, it carries no ``kid`` (a single key needs none to be chosen)."""
    row = issuer_keys.current(uow, box, now=now or datetime.now(UTC))
    jwk = issuer_keys.public_jwk(base_of(settings) if settings else "", row)
    if settings is None:
        del jwk["kid"]
    return jwk
