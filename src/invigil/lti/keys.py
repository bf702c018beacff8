"""The tenant's tool keys: RSA key pairs that sign what Invigil sends its
platforms (the client assertion of a service token request, deep linking
answers), published as a JWKS the platforms fetch.

RS256 over RSA 2048 is what LTI 1.3 asks every platform to accept. The
private key is sealed by the secret box, bound to the tenant and key id,
so a sealed key copied onto another row does not open. The first key is
made when first needed, under a per-tenant lock. Rotation makes a new
current key; the retired one stays in the JWKS (a platform may still hold
an assertion it signed, and caches key sets) until an administrator
rotates again, when retired keys older than the newest retired one leave.
Every creation and rotation is audited.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import delete, select, text

from invigil import audit
from invigil.db.uow import UnitOfWork
from invigil.lti.models import LtiToolKey
from invigil.security.secretbox import SecretBox

ALG = "RS256"
BITS = 2048


def _context(tenant: uuid.UUID, kid: str) -> str:
    return f"lti-tool-key:{tenant}:{kid}"


def _lock(uow: UnitOfWork) -> None:
    uow.session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('lti_tool_key:' || :t))"),
        {"t": str(uow.tenant)},
    )


def _create(uow: UnitOfWork, box: SecretBox) -> LtiToolKey:
    kid = uuid.uuid4().hex
    key = RSAKey.generate_key(BITS, parameters={"kid": kid, "alg": ALG, "use": "sig"})
    row = LtiToolKey(
        tenant_id=uow.tenant,
        id=uuid.uuid4(),
        kid=kid,
        public_jwk=key.as_dict(private=False),
        private_sealed=box.seal(key.as_pem(private=True), _context(uow.tenant, kid)),
        status="current",
    )
    uow.add(row)
    uow.flush()
    audit.record(uow, "lti.tool_key_created", ("lti_tool_key", row.id), {"kid": kid})
    return row


def current(uow: UnitOfWork, box: SecretBox) -> LtiToolKey:
    """The key that signs now (made the first time it is needed)."""
    found = uow.scalar(select(LtiToolKey).where(LtiToolKey.status == "current"))
    if found is not None:
        return found
    _lock(uow)
    found = uow.scalar(select(LtiToolKey).where(LtiToolKey.status == "current"))
    return found if found is not None else _create(uow, box)


def rotate(uow: UnitOfWork, box: SecretBox) -> LtiToolKey:
    """A new current key; the previous one stays published, older retired ones go."""
    _lock(uow)
    now = datetime.now(UTC)
    old = uow.scalar(select(LtiToolKey).where(LtiToolKey.status == "current"))
    uow.session.execute(delete(LtiToolKey).where(LtiToolKey.status == "retired"))
    if old is not None:
        old.status, old.retired_at = "retired", now
        uow.flush()
    row = _create(uow, box)
    audit.record(
        uow,
        "lti.tool_key_rotated",
        ("lti_tool_key", row.id),
        {"kid": row.kid, "previous_kid": old.kid if old is not None else None},
    )
    return row


def jwks(uow: UnitOfWork, box: SecretBox) -> dict[str, list[dict[str, Any]]]:
    """The public keys platforms verify Invigil's signatures with."""
    current(uow, box)
    rows = uow.scalars(select(LtiToolKey).order_by(LtiToolKey.created_at))
    return {"keys": [dict(r.public_jwk) for r in rows]}


def sign(uow: UnitOfWork, box: SecretBox, claims: dict[str, Any]) -> str:
    """``claims`` as a JWT signed with the current key (its ``kid`` in the header)."""
    row = current(uow, box)
    pem = box.open(row.private_sealed, _context(uow.tenant, row.kid))
    key = RSAKey.import_key(pem, parameters={"kid": row.kid})
    return jwt.encode({"alg": ALG, "kid": row.kid, "typ": "JWT"}, claims, key)
