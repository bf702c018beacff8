"""Each tenant's credential signing keys (``cert_issuer_keys``, migration 0034).

Open Badges 3.0 requires every verifier of a VC-JWT to support ``RS256``, so
that is the one algorithm used: RSA 3072 (a certificate may be valid for
years; 3072 bits are expected to hold beyond 2030, 2048 may not). The
private key is sealed by the secret box with associated data naming the
tenant and the key's id, so a sealed key copied onto another row (or another
tenant's) does not open. It is created the first time a credential is needed,
under a per-tenant lock so two requests never create two.

Rotation retires the signing key and creates the next; retired keys stay in
the published JWKS because credentials they signed live on (revocation is
what withdraws a credential, never the removal of its key). A key that
was stolen is the exception: :func:`withdraw` takes a retired key out of
the JWKS, so everything it signed — forged or genuine — stops verifying
(genuine credentials are signed again, with the new key, when fetched).
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select, text

from invigil import audit
from invigil.certification.models import IssuerKey
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, NotFound
from invigil.security.secretbox import SecretBox

ALG = "RS256"
RSA_BITS = 3072


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _context(tenant_id: uuid.UUID, key_id: uuid.UUID) -> str:
    return f"cert_issuer_key:{tenant_id}:{key_id}"


def key_url(base: str, tenant_id: uuid.UUID, key_id: uuid.UUID) -> str:
    """The key's ``kid``: a URL that dereferences to its public JWK (Open
    Badges 3.0 wants a ``kid`` a verifier can fetch)."""
    return f"{base.rstrip('/')}/issuers/{tenant_id}/keys/{key_id}"


def public_jwk(base: str, key: IssuerKey) -> dict[str, str]:
    """The public JWK as published (never a private member)."""
    return {
        **{k: key.public_jwk[k] for k in ("kty", "n", "e")},
        "kid": key_url(base, key.tenant_id, key.id),
        "alg": key.alg,
        "use": "sig",
    }


@dataclass(frozen=True)
class Signer:
    key_id: uuid.UUID
    kid: str
    private_key: rsa.RSAPrivateKey


def _create(uow: UnitOfWork, box: SecretBox, now: datetime) -> IssuerKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    numbers = private.public_key().public_numbers()
    key_id = uuid.uuid4()
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    row = IssuerKey(
        tenant_id=uow.tenant,
        id=key_id,
        created_at=now,
        alg=ALG,
        public_jwk={"kty": "RSA", "n": _b64(numbers.n), "e": _b64(numbers.e)},
        private_sealed=box.seal(der, _context(uow.tenant, key_id)),
        retired_at=None,
    )
    uow.add(row)
    uow.flush()
    audit.record(uow, "certification.issuer_key_created", ("cert_issuer_key", key_id), {"alg": ALG})
    return row


def _lock(uow: UnitOfWork) -> None:
    uow.session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended('invigil:cert-issuer-key:' || :t, 0))"),
        {"t": str(uow.tenant)},
    )


def _current(uow: UnitOfWork) -> IssuerKey | None:
    return uow.session.scalars(select(IssuerKey).where(IssuerKey.retired_at.is_(None))).first()


def current(uow: UnitOfWork, box: SecretBox, *, now: datetime) -> IssuerKey:
    """The tenant's signing key, created on first need."""
    found = _current(uow)
    if found is not None:
        return found
    _lock(uow)
    found = _current(uow)  # another request may have made it while we waited
    return found if found is not None else _create(uow, box, now)


def signer(uow: UnitOfWork, box: SecretBox, base: str, *, now: datetime) -> Signer:
    """The signing key, opened (the private key lives only in memory)."""
    row = current(uow, box, now=now)
    der = box.open(row.private_sealed, _context(row.tenant_id, row.id))
    private = serialization.load_der_private_key(der, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    return Signer(row.id, key_url(base, row.tenant_id, row.id), private)


def rotate(uow: UnitOfWork, box: SecretBox, *, now: datetime) -> IssuerKey:
    """Retire the signing key (it stays published) and create the next."""
    _lock(uow)
    old = _current(uow)
    if old is not None:
        old.retired_at = now
        uow.flush()
    new = _create(uow, box, now)
    audit.record(
        uow,
        "certification.issuer_key_rotated",
        ("cert_issuer_key", new.id),
        {"retired": str(old.id) if old is not None else None},
    )
    return new


def withdraw(uow: UnitOfWork, key_id: uuid.UUID, *, now: datetime) -> IssuerKey:
    """Take a stolen key out of the JWKS for good. Only a retired key: rotate
    first, so that something signs meanwhile."""
    _lock(uow)
    row = uow.session.scalars(select(IssuerKey).where(IssuerKey.id == key_id)).first()
    if row is None:
        raise NotFound("no such issuer key")
    if row.retired_at is None:
        raise Conflict("this key signs now: rotate first, then withdraw it", field="key_id")
    if row.withdrawn_at is None:
        row.withdrawn_at = now
        uow.flush()
        audit.record(uow, "certification.issuer_key_withdrawn", ("cert_issuer_key", row.id), {})
    return row


def published(uow: UnitOfWork) -> list[IssuerKey]:
    """Every key of the tenant not withdrawn, signing key first, then newest
    retired first."""
    return list(
        uow.session.scalars(
            select(IssuerKey)
            .where(IssuerKey.withdrawn_at.is_(None))
            .order_by(IssuerKey.retired_at.is_not(None), IssuerKey.created_at.desc(), IssuerKey.id)
        )
    )


def jwks(uow: UnitOfWork, base: str) -> dict[str, list[dict[str, str]]]:
    """The tenant's JWK Set: every key it ever signed with."""
    return {"keys": [public_jwk(base, key) for key in published(uow)]}
