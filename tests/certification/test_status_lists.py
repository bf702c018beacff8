"""The W3C Bitstring Status Lists: decoded here with nothing but gzip and
base64 (as the spec describes them), the bits follow the certificates'
states — suspension set and cleared again, revocation set for good — the
list credential verifies with joserfc, and the served list is at most 30 s
old."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from invigil.certification import lifecycle, status_lists
from invigil.certification.models import Certificate
from invigil.context import Services
from invigil.db.engine import Database
from invigil.settings import Settings
from tests.certification.factories import NOW, certificate, get, program
from tests.conftest import make_tenant


def decode_bits(encoded: str) -> bytes:
    """The spec's decoding, written out independently: multibase 'u'
    (base64url, no padding), then GZIP."""
    assert encoded[0] == "u"
    body = encoded[1:]
    return gzip.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def bit(bits: bytes, index: int) -> int:
    return (bits[index // 8] >> (7 - index % 8)) & 1


def payload(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def listed(db: Database, services: Services, tenant: uuid.UUID, purpose: str, number: int = 0,
           minutes: int = 0) -> bytes:  # fmt: skip
    with db.unit_of_work(tenant) as uow:
        token = status_lists.signed_list(
            uow, services.box, services.settings, purpose, number,
            now=NOW + timedelta(minutes=minutes),
        )  # fmt: skip
    subject = payload(token)["credentialSubject"]
    assert subject["statusPurpose"] == purpose
    return decode_bits(subject["encodedList"])


def test_bits_follow_suspend_reinstate_and_revoke(db: Database, settings: Settings) -> None:
    services = Services.build(settings)
    tenant = make_tenant(db, settings).id
    _, version = program(db, tenant, validity_months=12)
    first, second, third = (certificate(db, tenant, version) for _ in range(3))
    index = get(db, tenant, second).status_index
    assert index == 1

    def states() -> tuple[list[int], list[int]]:
        revoked, suspended = (
            listed(db, services, tenant, "revocation"),
            listed(db, services, tenant, "suspension"),
        )
        assert len(revoked) == len(suspended) == 16_384  # 131,072 bits, the spec's minimum
        return [bit(revoked, i) for i in range(3)], [bit(suspended, i) for i in range(3)]

    assert states() == ([0, 0, 0], [0, 0, 0])
    with db.unit_of_work(tenant) as uow:
        lifecycle.change_state(uow, second, "suspended", "under review", now=NOW)
    assert states() == ([0, 0, 0], [0, 1, 0])
    with db.unit_of_work(tenant) as uow:
        lifecycle.change_state(uow, second, "issued", "review closed", now=NOW)
    assert states() == ([0, 0, 0], [0, 0, 0])
    with db.unit_of_work(tenant) as uow:
        lifecycle.change_state(uow, second, "suspended", "again", now=NOW)
        lifecycle.change_state(uow, second, "revoked", "exam fraud", now=NOW)
        lifecycle.change_state(uow, third, "expired", "validity ended", now=NOW)
    # Revoked: revocation bit set, no longer "suspended"; expiry is validUntil's, no bit.
    assert states() == ([0, 1, 0], [0, 0, 0])
    assert get(db, tenant, first).state == "issued"


def test_the_list_credential_verifies_and_says_what_it_is(
    db: Database, settings: Settings, client: TestClient
) -> None:
    tenant = make_tenant(db, settings).id
    _, version = program(db, tenant)
    cert_id = certificate(db, tenant, version)
    credential = client.get(f"/credentials/{cert_id}?format=json").json()
    entry = credential["credentialStatus"]
    url = entry["statusListCredential"]
    base = settings.issuer.rstrip("/")
    assert url == f"{base}/status/{tenant}/revocation/0" and entry["id"] == f"{url}#0"

    status_lists.CACHE.clear()
    served = client.get(url[len(base) :])
    assert served.status_code == 200 and served.headers["content-type"].startswith(
        "application/jwt"
    )
    max_age = int(served.headers["cache-control"].split("max-age=")[1])
    assert 0 <= max_age <= 30 and served.headers["access-control-allow-origin"] == "*"
    keys = client.get(f"/issuers/{tenant}/jwks.json").json()
    claims = jose_jwt.decode(served.text, KeySet.import_key_set(keys), algorithms=["RS256"]).claims
    assert claims["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert claims["@context"] == ["https://www.w3.org/ns/credentials/v2"]
    assert claims["id"] == claims["jti"] == url
    assert claims["issuer"] == claims["iss"] == credential["issuer"]["id"]
    subject = claims["credentialSubject"]
    assert subject["type"] == "BitstringStatusList" and subject["statusPurpose"] == "revocation"
    assert bit(decode_bits(subject["encodedList"]), 0) == 0

    # Revoked: the served list shows it once its 30 s in memory are over (here: emptied).
    with db.unit_of_work(tenant) as uow:
        lifecycle.change_state(uow, cert_id, "revoked", "withdrawn", now=NOW)
    status_lists.CACHE.clear()
    again = client.get(url[len(base) :])
    subject = jose_jwt.decode(again.text, KeySet.import_key_set(keys)).claims["credentialSubject"]
    assert bit(decode_bits(subject["encodedList"]), 0) == 1
    suspension = client.get(f"/status/{tenant}/suspension/0")
    assert suspension.status_code == 200
    assert payload(suspension.text)["credentialSubject"]["statusPurpose"] == "suspension"


def test_the_cache_keeps_a_list_at_most_30_seconds() -> None:
    cache = status_lists.ListCache()
    key = ("http://x", uuid.uuid4(), "revocation", 0)
    assert cache.get(key, NOW) is None
    cache.put(key, "token-1", NOW)
    assert cache.get(key, NOW + timedelta(seconds=29))
    assert cache.get(key, NOW + timedelta(seconds=29)).token == "token-1"  # type: ignore[union-attr]
    assert cache.get(key, NOW + timedelta(seconds=30)) is None
    assert cache.get(key, NOW - timedelta(seconds=1)) is None  # a clock that went back
    other = ("http://x", uuid.uuid4(), "revocation", 0)
    cache.put(other, "token-2", NOW + timedelta(seconds=31))  # the stale entry is dropped
    assert key not in cache._lists and other in cache._lists


def test_a_certificate_past_the_first_list_lands_in_the_next(
    db: Database, settings: Settings, client: TestClient
) -> None:
    services = Services.build(settings)
    assert status_lists.place(131_072 + 7) == (1, 7)
    entry = status_lists.entry(settings, uuid.uuid4(), "suspension", 131_072 + 7)
    assert entry["statusListIndex"] == "7" and entry["statusListCredential"].endswith(
        "/suspension/1"
    )
    tenant = make_tenant(db, settings).id
    _, version = program(db, tenant)
    first = get(db, tenant, certificate(db, tenant, version))
    with db.unit_of_work(tenant) as uow:
        far = Certificate(**{
            c.name: getattr(first, c.name) for c in Certificate.__table__.columns
        })  # fmt: skip
        far.id, far.number = uuid.uuid4(), "C-2026-131080"
        far.status_index, far.state = status_lists.SIZE + 7, "suspended"
        uow.add(far)
        uow.flush()
    bits = listed(db, services, tenant, "suspension", 1)
    assert bit(bits, 7) == 1 and sum(bits) == 1  # that one bit alone: 0x01 in byte 0
    assert bit(listed(db, services, tenant, "suspension", 0), 0) == 0
    status_lists.CACHE.clear()
    assert client.get(f"/status/{tenant}/suspension/1").status_code == 200
    assert client.get(f"/status/{tenant}/suspension/2").status_code == 404
