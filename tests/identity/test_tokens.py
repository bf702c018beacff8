"""RFC 8725 / RFC 9068: what the access-token verifier must refuse."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from invigil.errors import Unauthorized
from invigil.security.keys import Keys
from invigil.security.tokens import AccessTokens


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return Keys(tmp_path / "keys")


@pytest.fixture
def tokens(keys: Keys) -> AccessTokens:
    return AccessTokens(
        keys.access, issuer="https://invigil.test", audience="invigil-api", minutes=10
    )


def issue(tokens: AccessTokens, **kw: object) -> str:
    args: dict[str, object] = dict(
        user_id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        tenant_slug="acme",
        session_id=uuid.uuid4(),
        roles=["grader"],
        permissions=["attempt:view"],
    )
    args.update(kw)
    return tokens.issue(**args)[0]  # type: ignore[arg-type]


def b64(data: dict[str, object] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


def test_a_good_token_verifies(tokens: AccessTokens) -> None:
    tenant = uuid.uuid4()
    claims = tokens.verify(issue(tokens, tenant_id=tenant))
    assert claims.tenant_id == tenant and claims.permissions == {"attempt:view"}
    header = jwt.get_unverified_header(issue(tokens))
    assert header["typ"] == "at+jwt" and header["alg"] == "EdDSA" and header["kid"]


def test_lifetime_is_at_most_fifteen_minutes(tokens: AccessTokens) -> None:
    c = claims_of(issue(tokens))
    assert int(c["exp"]) - int(c["iat"]) <= 15 * 60  # type: ignore[call-overload]


def test_alg_none_is_refused(tokens: AccessTokens, keys: Keys) -> None:
    body = claims_of(issue(tokens))
    forged = (
        f"{b64({'alg': 'none', 'typ': 'at+jwt', 'kid': keys.access.current().kid})}.{b64(body)}."
    )
    with pytest.raises(Unauthorized):
        tokens.verify(forged)


def test_hs256_signed_with_the_public_key_is_refused(tokens: AccessTokens, keys: Keys) -> None:
    public_pem = keys.access.current().public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    body = claims_of(issue(tokens))
    header = {"alg": "HS256", "typ": "at+jwt", "kid": keys.access.current().kid}
    signing_input = f"{b64(header)}.{b64(body)}".encode()
    import hashlib
    import hmac

    for secret in (
        public_pem,
        keys.access.current().public.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        ),
    ):
        sig = hmac.new(secret, signing_input, hashlib.sha256).digest()
        with pytest.raises(Unauthorized):
            tokens.verify(f"{signing_input.decode()}.{b64(sig)}")


@pytest.mark.parametrize("typ", ["JWT", "rt+jwt", "guest+jwt", None])
def test_a_token_of_another_type_is_refused(
    tokens: AccessTokens, keys: Keys, typ: str | None
) -> None:
    key = keys.access.current()
    body = claims_of(issue(tokens))
    headers = {"kid": key.kid} | ({"typ": typ} if typ else {})
    token = jwt.encode(body, key.private, algorithm="EdDSA", headers=headers)
    if typ is None:  # PyJWT adds typ=JWT by default; strip it entirely
        _, p, s = token.split(".")
        token = f"{b64({'alg': 'EdDSA', 'kid': key.kid})}.{p}.{s}"
    with pytest.raises(Unauthorized):
        tokens.verify(token)


@pytest.mark.parametrize("claim,value", [("aud", "someone-else"), ("iss", "https://evil.test")])
def test_wrong_audience_or_issuer_is_refused(
    tokens: AccessTokens, keys: Keys, claim: str, value: str
) -> None:
    key = keys.access.current()
    body = claims_of(issue(tokens)) | {claim: value}
    token = jwt.encode(
        body, key.private, algorithm="EdDSA", headers={"kid": key.kid, "typ": "at+jwt"}
    )
    with pytest.raises(Unauthorized):
        tokens.verify(token)


def test_an_expired_token_is_refused(tokens: AccessTokens) -> None:
    old = issue(tokens, now=datetime.now(UTC) - timedelta(minutes=30))
    with pytest.raises(Unauthorized, match="expired"):
        tokens.verify(old)


@pytest.mark.parametrize("missing", ["jti", "sub", "tid", "sid", "exp", "permissions"])
def test_a_token_missing_a_required_claim_is_refused(
    tokens: AccessTokens, keys: Keys, missing: str
) -> None:
    key = keys.access.current()
    body = {k: v for k, v in claims_of(issue(tokens)).items() if k != missing}
    token = jwt.encode(
        body, key.private, algorithm="EdDSA", headers={"kid": key.kid, "typ": "at+jwt"}
    )
    with pytest.raises(Unauthorized):
        tokens.verify(token)


def test_an_unknown_kid_is_refused(tokens: AccessTokens) -> None:
    body = claims_of(issue(tokens))
    stranger = Ed25519PrivateKey.generate()
    token = jwt.encode(
        body, stranger, algorithm="EdDSA", headers={"kid": "not-a-known-key", "typ": "at+jwt"}
    )
    with pytest.raises(Unauthorized, match="unknown key"):
        tokens.verify(token)


def test_a_forged_signature_under_a_known_kid_is_refused(tokens: AccessTokens, keys: Keys) -> None:
    body = claims_of(issue(tokens)) | {"permissions": ["user:manage"]}
    token = jwt.encode(
        body,
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": keys.access.current().kid, "typ": "at+jwt"},
    )
    with pytest.raises(Unauthorized):
        tokens.verify(token)


def test_the_audit_key_cannot_sign_access_tokens(tokens: AccessTokens, keys: Keys) -> None:
    audit_key = keys.audit.current()
    token = jwt.encode(
        claims_of(issue(tokens)),
        audit_key.private,
        algorithm="EdDSA",
        headers={"kid": audit_key.kid, "typ": "at+jwt"},
    )
    with pytest.raises(Unauthorized, match="unknown key"):
        tokens.verify(token)


def test_rotation_keeps_old_tokens_valid_until_the_key_is_retired(
    tokens: AccessTokens, keys: Keys
) -> None:
    before = issue(tokens)
    old_kid = keys.access.current().kid
    new_kid = keys.access.rotate()
    after = issue(tokens)
    assert jwt.get_unverified_header(after)["kid"] == new_kid != old_kid
    tokens.verify(before)
    tokens.verify(after)
    published = {k["kid"] for k in keys.jwks()["keys"]}
    assert {old_kid, new_kid} <= published
    keys.access.retire(old_kid)
    with pytest.raises(Unauthorized):
        tokens.verify(before)
    tokens.verify(after)
    assert old_kid not in {k["kid"] for k in keys.jwks()["keys"]}


def test_jwks_endpoint_publishes_public_keys_only(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/.well-known/jwks.json")
    assert r.status_code == 200
    for key in r.json()["keys"]:
        assert set(key) >= {"kty", "crv", "x", "kid", "alg"} and "d" not in key
    assert {k["invigil_purpose"] for k in r.json()["keys"]} == {"access-token"}
