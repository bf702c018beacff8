"""Certificates as Open Badges 3.0 credentials: the JSON satisfies 1EdTech's
published schema (which the specification's own examples also satisfy, and
broken copies of them do not), the VC-JWT verifies with an independent JOSE
library (joserfc) against the key served at the public JWKS, and a tampered
token does not. Keys are sealed, created once, rotated with the old one
still published."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt as jose_jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError
from joserfc.jwk import KeySet
from jsonschema import Draft201909Validator, FormatChecker
from sqlalchemy import select

from invigil.certification import credentials, issuer_keys
from invigil.certification.models import Certificate, IssuerKey
from invigil.context import Services
from invigil.db.engine import Database
from invigil.errors import Conflict, NotFound, Unavailable
from invigil.settings import Settings
from invigil.verifier.credential import CredentialError, verify
from tests.certification.factories import NOW, certificate, program
from tests.conftest import make_tenant

SCHEMAS = Path(__file__).parent / "schemas"
SCHEMA = json.loads((SCHEMAS / "ob_v3p0_achievementcredential_schema.json").read_text())
VALIDATOR = Draft201909Validator(SCHEMA, format_checker=FormatChecker())
EXAMPLES = sorted((SCHEMAS / "spec-examples").glob("*.json"))


def schema_errors(document: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(document)]


def issued(db: Database, settings: Settings, **definition: Any) -> tuple[uuid.UUID, uuid.UUID]:
    """(tenant id, certificate id): a fresh tenant with one certificate."""
    tenant = make_tenant(db, settings).id
    _, version = program(db, tenant, name="Forklift Safety", validity_months=24,
                         description="Operates a forklift safely.", **definition)  # fmt: skip
    return tenant, certificate(db, tenant, version)


def build(db: Database, services: Services, tenant: uuid.UUID, cert_id: uuid.UUID,
          *, now: datetime = NOW) -> tuple[dict[str, Any], str]:  # fmt: skip
    with db.unit_of_work(tenant) as uow:
        cert = uow.session.get(Certificate, (tenant, cert_id))
        assert cert is not None
        document = credentials.credential(uow, services.box, services.settings, cert)
        token = credentials.signed(uow, services.box, services.settings, cert, now=now)
    return document, token


def local(settings: Settings, url: str) -> str:
    """The path of one of our public URLs, to GET through the test client."""
    base = settings.issuer.rstrip("/")
    assert url.startswith(base + "/")
    return url[len(base) :]


def b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


# -- the schema, and that the schema test means something --------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_the_specifications_examples_satisfy_the_schema(path: Path) -> None:
    assert schema_errors(json.loads(path.read_text())) == []


def test_the_schema_refuses_broken_credentials() -> None:
    good = json.loads((SCHEMAS / "spec-examples" / "basicOpenBadgeCredential.json").read_text())
    breakages = {
        "no achievement": lambda d: d["credentialSubject"].pop("achievement"),
        "no validFrom": lambda d: d.pop("validFrom"),
        "validFrom not a date-time": lambda d: d.update(validFrom="2026-13-01T00:00:00Z"),
        "not an OpenBadgeCredential": lambda d: d.update(type=["VerifiableCredential"]),
        "VC 1.1 context": lambda d: d.update(
            {"@context": ["https://www.w3.org/2018/credentials/v1", d["@context"][1]]}
        ),
        "achievement without criteria": lambda d: d["credentialSubject"]["achievement"].pop(
            "criteria"
        ),
        "identifier not an IdentityObject": lambda d: d["credentialSubject"].update(
            identifier=[{"type": "Email", "identityHash": "x", "hashed": False}]
        ),
    }
    assert len(EXAMPLES) >= 5
    for name, breaking in breakages.items():
        broken = copy.deepcopy(good)
        breaking(broken)
        assert schema_errors(broken), name


def test_a_certificates_credential_satisfies_the_schema(db: Database, settings: Settings) -> None:
    services = Services.build(settings)
    tenant, cert_id = issued(db, settings)
    document, _ = build(db, services, tenant, cert_id)
    assert schema_errors(document) == []
    assert document["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert document["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert document["id"] == f"{settings.issuer.rstrip('/')}/credentials/{cert_id}"
    assert document["issuer"]["id"] == f"{settings.issuer.rstrip('/')}/issuers/{tenant}"
    assert document["validFrom"] == "2026-03-01T09:00:00Z"
    assert document["validUntil"] == "2028-03-01T09:00:00Z"
    achievement = document["credentialSubject"]["achievement"]
    assert (achievement["name"], achievement["description"]) == (
        "Forklift Safety", "Operates a forklift safely."
    )  # fmt: skip
    status = document["credentialStatus"]
    assert status["type"] == "BitstringStatusListEntry"
    assert (status["statusPurpose"], status["statusListIndex"]) == ("revocation", "0")


def test_the_holder_is_named_by_a_salted_hash_never_the_address(
    db: Database, settings: Settings
) -> None:
    services = Services.build(settings)
    tenant, cert_id = issued(db, settings)
    document, token = build(db, services, tenant, cert_id)
    with db.unit_of_work(tenant) as uow:
        from invigil.delivery.models import Candidate

        cert = uow.session.get(Certificate, (tenant, cert_id))
        assert cert is not None
        email = uow.get(Candidate, cert.holder_id).email
    [identity] = document["credentialSubject"]["identifier"]
    assert identity["hashed"] is True and identity["identityType"] == "emailAddress"
    import hashlib

    expected = hashlib.sha256((email.lower() + identity["salt"]).encode()).hexdigest()
    assert identity["identityHash"] == f"sha256${expected}"
    assert email not in json.dumps(document) and email.encode() not in b64(token.split(".")[1])


# -- the proof, checked by an independent library -----------------------------


def test_the_vc_jwt_verifies_with_joserfc_against_the_served_jwks(
    db: Database, settings: Settings, client: TestClient
) -> None:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    tenant, cert_id = issued(db, settings)
    served = client.get(f"/credentials/{cert_id}")
    assert served.status_code == 200, served.text
    assert served.headers["content-type"].startswith("application/jwt")
    token = served.text
    header = json.loads(b64(token.split(".")[0]))
    assert set(header) == {"alg", "kid", "typ"}
    assert (header["alg"], header["typ"]) == ("RS256", "JWT")

    jwks = client.get(f"/issuers/{tenant}/jwks.json")
    assert jwks.status_code == 200
    assert all("d" not in key and "p" not in key for key in jwks.json()["keys"])
    decoded = jose_jwt.decode(token, KeySet.import_key_set(jwks.json()), algorithms=["RS256"])
    claims = decoded.claims
    registry = jose_jwt.JWTClaimsRegistry(
        now=int(NOW.timestamp()) + 60,
        iss={"essential": True, "value": f"{settings.issuer.rstrip('/')}/issuers/{tenant}"},
        jti={"essential": True, "value": f"{settings.issuer.rstrip('/')}/credentials/{cert_id}"},
        sub={"essential": True},
        nbf={"essential": True},
    )
    registry.validate(claims)
    assert claims["sub"] == claims["credentialSubject"]["id"]
    assert claims["nbf"] == int(datetime(2026, 3, 1, 9, tzinfo=UTC).timestamp())
    assert claims["exp"] == int(datetime(2028, 3, 1, 9, tzinfo=UTC).timestamp())
    unsigned = {k: v for k, v in claims.items() if k not in ("iss", "jti", "sub", "nbf", "exp")}
    assert schema_errors(unsigned) == []

    # The kid dereferences to the same public key (Open Badges' "dereference").
    single = client.get(local(settings, header["kid"]))
    assert single.status_code == 200 and single.json()["kid"] == header["kid"]
    assert jose_jwt.decode(token, KeySet.import_key_set({"keys": [single.json()]})).claims == claims
    # The JSON download is the same credential.
    download = client.get(f"/credentials/{cert_id}?format=json")
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    assert download.json() == unsigned
    assert client.get(f"/credentials/{cert_id}", headers={"Accept": "application/json"}).json() == (
        unsigned
    )
    del services


def test_a_tampered_credential_fails_verification(db: Database, settings: Settings) -> None:
    services = Services.build(settings)
    tenant, cert_id = issued(db, settings)
    _, token = build(db, services, tenant, cert_id)
    with db.unit_of_work(tenant) as uow:
        keys = issuer_keys.jwks(uow, credentials.base_of(settings))
    head, body, sig = token.split(".")
    payload = json.loads(b64(body))
    payload["validUntil"] = "2099-01-01T00:00:00Z"
    payload["exp"] = int(datetime(2099, 1, 1, tzinfo=UTC).timestamp())
    forged_body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    forged = f"{head}.{forged_body}.{sig}"
    with pytest.raises(BadSignatureError):
        jose_jwt.decode(forged, KeySet.import_key_set(keys), algorithms=["RS256"])
    with pytest.raises(CredentialError, match="signature"):
        verify(forged, keys)
    # The untouched token verifies with both.
    assert verify(token, keys)["id"].endswith(str(cert_id))
    jose_jwt.decode(token, KeySet.import_key_set(keys), algorithms=["RS256"])


# -- the offline verifier (invigil.verifier.credential) ----------------------


def test_the_offline_verifier_checks_signature_claims_and_dates(
    db: Database, settings: Settings
) -> None:
    services = Services.build(settings)
    tenant, cert_id = issued(db, settings)
    document, token = build(db, services, tenant, cert_id)
    with db.unit_of_work(tenant) as uow:
        keys = issuer_keys.jwks(uow, credentials.base_of(settings))
        bare = credentials.issuer_jwk(uow, services.box)
    assert verify(token, keys) == document
    assert verify(token, bare) == document  # a single JWK without kid
    assert verify(token, keys, at=NOW + timedelta(days=1)) == document
    with pytest.raises(CredentialError, match="expired"):
        verify(token, keys, at=NOW + timedelta(days=3 * 365))
    with pytest.raises(CredentialError, match="not valid yet"):
        verify(token, keys, at=NOW - timedelta(days=1))

    # A key it was not signed with, a claim that disagrees, a header Open
    # Badges forbids, another algorithm: each refused, naming the check.
    other_tenant, other_cert = issued(db, settings)
    build(db, services, other_tenant, other_cert)
    with db.unit_of_work(other_tenant) as uow:
        other_keys = issuer_keys.jwks(uow, credentials.base_of(settings))
    with pytest.raises(CredentialError, match="no key with kid"):
        verify(token, other_keys)
    with db.unit_of_work(tenant) as uow:
        cert = uow.session.get(Certificate, (tenant, cert_id))
        assert cert is not None
        doc = credentials.credential(uow, services.box, settings, cert)
        doc["credentialSubject"]["id"] = "urn:uuid:" + str(uuid.uuid4())
        signer = issuer_keys.signer(uow, services.box, credentials.base_of(settings), now=NOW)
    import jwt as pyjwt

    claims = {**credentials.jwt_claims(document), **{k: v for k, v in doc.items()}}
    mismatched = pyjwt.encode(claims, signer.private_key, "RS256", headers={"kid": signer.kid})
    with pytest.raises(CredentialError, match="claim sub"):
        verify(mismatched, keys)
    extra = pyjwt.encode({**document, **credentials.jwt_claims(document)}, signer.private_key,
                         "RS256", headers={"kid": signer.kid, "cty": "x"})  # fmt: skip
    with pytest.raises(CredentialError, match="not allowed"):
        verify(extra, keys)
    hs = pyjwt.encode({"a": 1}, "k" * 32, "HS256", headers={"kid": signer.kid})
    with pytest.raises(CredentialError, match="not RS256"):
        verify(hs, keys)
    with pytest.raises(CredentialError, match="compact"):
        verify("a.b", keys)


# -- keys: sealed, made once, rotated -----------------------------------------


def test_the_private_key_is_sealed_and_bound_to_its_row(db: Database, settings: Settings) -> None:
    services = Services.build(settings)
    tenant, cert_id = issued(db, settings)
    build(db, services, tenant, cert_id)
    build(db, services, tenant, cert_id)
    with db.unit_of_work(tenant) as uow:
        rows = list(uow.session.scalars(select(IssuerKey)))
        assert len(rows) == 1  # made on first need, once
        [row] = rows
        from cryptography.hazmat.primitives import serialization

        signer = issuer_keys.signer(uow, services.box, "", now=NOW)
        der = signer.private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        assert der not in row.private_sealed and len(row.private_sealed) > len(der)
        assert signer.private_key.key_size == 3072
        with pytest.raises(Unavailable):  # sealed for this row: another id does not open it
            services.box.open(row.private_sealed, f"cert_issuer_key:{tenant}:{uuid.uuid4()}")


def test_rotation_signs_with_the_new_key_and_keeps_the_old_published(
    db: Database, settings: Settings
) -> None:
    services = Services.build(settings)
    tenant, cert_id = issued(db, settings)
    _, old_token = build(db, services, tenant, cert_id)
    with db.unit_of_work(tenant) as uow:
        issuer_keys.rotate(uow, services.box, now=NOW + timedelta(days=1))
    _, new_token = build(db, services, tenant, cert_id)
    old_kid = json.loads(b64(old_token.split(".")[0]))["kid"]
    new_kid = json.loads(b64(new_token.split(".")[0]))["kid"]
    assert old_kid != new_kid
    with db.unit_of_work(tenant) as uow:
        keys = issuer_keys.jwks(uow, credentials.base_of(settings))
        actions = [
            a for (a,) in uow.session.execute(
                select(__import__("invigil.audit.models", fromlist=["AuditEvent"]).AuditEvent.action)
            )
        ]  # fmt: skip
    assert [k["kid"] for k in keys["keys"]] == [new_kid, old_kid]
    for token in (old_token, new_token):
        jose_jwt.decode(token, KeySet.import_key_set(keys), algorithms=["RS256"])
    assert actions.count("certification.issuer_key_created") == 2
    assert actions.count("certification.issuer_key_rotated") == 1


def test_a_withdrawn_key_leaves_the_jwks_and_what_it_signed_fails(
    db: Database, settings: Settings, client: TestClient
) -> None:
    services = Services.build(settings)
    tenant, cert_id = issued(db, settings)
    _, old_token = build(db, services, tenant, cert_id)
    old_kid = json.loads(b64(old_token.split(".")[0]))["kid"]
    old_id = uuid.UUID(old_kid.rsplit("/", 1)[1])
    with db.unit_of_work(tenant) as uow, pytest.raises(Conflict, match="rotate first"):
        issuer_keys.withdraw(uow, old_id, now=NOW)  # it signs now
    with db.unit_of_work(tenant) as uow:
        issuer_keys.rotate(uow, services.box, now=NOW + timedelta(days=1))
        issuer_keys.withdraw(uow, old_id, now=NOW + timedelta(days=1))
    keys = client.get(f"/issuers/{tenant}/jwks.json").json()
    assert old_kid not in [k["kid"] for k in keys["keys"]] and len(keys["keys"]) == 1
    assert client.get(local(settings, old_kid)).status_code == 404
    with pytest.raises(CredentialError, match="no key with kid"):
        verify(old_token, keys)
    with pytest.raises(InvalidKeyIdError):
        jose_jwt.decode(old_token, KeySet.import_key_set(keys), algorithms=["RS256"])
    # Fetched again, the genuine credential is signed with the new key and verifies.
    fresh = client.get(f"/credentials/{cert_id}").text
    assert verify(fresh, keys)["id"].endswith(str(cert_id))
    with db.unit_of_work(tenant) as uow, pytest.raises(NotFound):
        issuer_keys.withdraw(uow, uuid.uuid4(), now=NOW)


# -- the public routes ---------------------------------------------------------


def test_unknown_ids_answer_one_identical_404(
    db: Database, settings: Settings, client: TestClient
) -> None:
    tenant, cert_id = issued(db, settings)
    empty = make_tenant(db, settings).id  # a tenant that never issued
    assert client.get(f"/issuers/{tenant}").status_code == 200
    profile = client.get(f"/issuers/{tenant}").json()
    assert profile["type"] == ["Profile"] and profile["id"].endswith(str(tenant))
    answers = [
        client.get(f"/credentials/{uuid.uuid4()}"),
        client.get(f"/issuers/{uuid.uuid4()}"),
        client.get(f"/issuers/{empty}"),
        client.get(f"/issuers/{empty}/jwks.json"),
        client.get(f"/issuers/{tenant}/keys/{uuid.uuid4()}"),
        client.get(f"/issuers/{tenant}/logo"),  # no logo
        client.get(f"/status/{tenant}/revocation/1"),  # past the last list
        client.get(f"/status/{empty}/revocation/0"),
        client.get(f"/status/{uuid.uuid4()}/suspension/0"),
    ]
    for answer in answers:
        assert answer.status_code == 404, answer.request.url
        assert answer.headers["content-type"] == "application/problem+json"
        body = answer.json()
        assert body["detail"] == "no such credential, issuer or list"
        assert body["instance"] == answer.request.url.path
    # A person's browser gets the error page instead, the same for each.
    pages = {
        client.get(path, headers={"Accept": "text/html"}).text
        for path in (
            f"/credentials/{uuid.uuid4()}",
            f"/issuers/{empty}",
            f"/status/{empty}/revocation/0",
        )
    }
    assert len(pages) == 1
    assert "no such credential, issuer or list" in pages.pop().lower()
    assert client.get(f"/status/{tenant}/other/0").status_code == 422
    assert client.get(f"/status/{tenant}/revocation/99999999").status_code == 422
    assert client.get("/credentials/not-a-uuid").status_code == 422
    assert client.get(f"/credentials/{cert_id}?format=xml").status_code == 422


def test_the_offline_verifier_runs_copied_alone(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    """Copied out of the tree and run under ``python -I``, it verifies a real
    credential against the served JWKS and refuses a tampered one."""
    import shutil
    import subprocess
    import sys

    services = Services.build(settings)
    tenant, cert_id = issued(db, settings)
    _, token = build(db, services, tenant, cert_id)
    with db.unit_of_work(tenant) as uow:
        keys = issuer_keys.jwks(uow, credentials.base_of(settings))
    package = Path(__file__).parents[2] / "src" / "invigil" / "verifier"
    root = tmp_path / "alone"
    shutil.copytree(package, root / "invigil" / "verifier",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    (root / "invigil" / "__init__.py").write_text("")
    (tmp_path / "keys.json").write_text(json.dumps(keys))
    head, body, sig = token.split(".")
    forged = f"{head}.{body[:-4]}AAAA.{sig}"
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); "
        "from invigil.verifier.credential import verify, CredentialError\n"
        "keys = json.load(open(sys.argv[2]))\n"
        "try: print(verify(sys.argv[3], keys)['id'])\n"
        "except CredentialError as e: print('refused:', e); sys.exit(1)\n"
    )
    for candidate, code, said in ((token, 0, str(cert_id)), (forged, 1, "refused")):
        ran = subprocess.run(
            [sys.executable, "-I", "-c", script, str(root), str(tmp_path / "keys.json"), candidate],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert ran.returncode == code, ran.stdout + ran.stderr
        assert said in ran.stdout


def test_the_worked_example_in_the_docs_verifies() -> None:
    """docs/formats/open-badges-credential.md walks through these files: the
    JWT verifies with joserfc against the JWKS, its payload is the JSON
    beside it plus the registered claims, the JSON satisfies the schema, and
    the status list's bit 0 is clear."""
    root = Path(__file__).parents[2] / "docs" / "formats" / "examples" / "open-badges"
    keys = KeySet.import_key_set(json.loads((root / "jwks.json").read_text()))
    token = (root / "credential.jwt").read_text().strip()
    document = json.loads((root / "credential.json").read_text())
    claims = jose_jwt.decode(token, keys, algorithms=["RS256"]).claims
    assert {k: v for k, v in claims.items() if k not in ("iss", "jti", "sub", "nbf", "exp")} == (
        document
    )
    assert schema_errors(document) == []
    assert verify(token, json.loads((root / "jwks.json").read_text())) == document
    listed = jose_jwt.decode((root / "status-revocation-0.jwt").read_text().strip(), keys).claims
    import gzip

    encoded = listed["credentialSubject"]["encodedList"][1:]
    bits = gzip.decompress(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    assert len(bits) == 16_384 and bits[0] & 0x80 == 0


def test_two_first_requests_make_one_key(database: Database, settings: Settings) -> None:
    """The key is made on first need under a per-tenant lock: a second
    request that arrives meanwhile waits, then finds the first one's key."""
    import threading

    from sqlalchemy import text

    services = Services.build(settings)
    tenant = make_tenant(database, settings).id
    made: dict[str, uuid.UUID] = {}
    second_started = threading.Event()

    def second() -> None:
        with database.unit_of_work(tenant) as uow:
            second_started.set()
            made["second"] = issuer_keys.current(uow, services.box, now=NOW).id

    with database.unit_of_work(tenant) as uow:
        made["first"] = issuer_keys.current(uow, services.box, now=NOW).id
        waiter = threading.Thread(target=second)
        waiter.start()
        second_started.wait(10)
        # Hold the transaction (and the lock) until the second request is
        # seen waiting for that advisory lock in pg_stat_activity.
        with database.engine.connect() as watch:
            for _ in range(500):
                waiting = watch.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                        " AND database = (SELECT oid FROM pg_database"
                        " WHERE datname = current_database())"
                    )
                ).scalar()
                if waiting:
                    break
                watch.rollback()
                threading.Event().wait(0.01)
            assert waiting, "the second request never waited for the lock"
    waiter.join(10)
    assert made["first"] == made["second"]
    with database.unit_of_work(tenant) as uow:
        assert len(list(uow.session.scalars(select(IssuerKey)))) == 1


def test_the_issuers_logo_is_its_profile_image(
    db: Database, settings: Settings, client: TestClient
) -> None:
    from invigil.tenants import branding
    from tests.tenants.test_branding import logo_png

    tenant, cert_id = issued(db, settings)
    with db.unit_of_work(tenant) as uow:
        branding.set_logo(uow, logo_png())
    document = client.get(f"/credentials/{cert_id}?format=json").json()
    image = document["issuer"]["image"]
    assert image == {
        "id": f"{settings.issuer.rstrip('/')}/issuers/{tenant}/logo",
        "type": "Image",
        "caption": document["issuer"]["name"],
    }
    assert schema_errors(document) == []
    assert client.get(f"/issuers/{tenant}").json()["image"] == image
    logo = client.get(local(settings, image["id"]))
    assert logo.status_code == 200 and logo.headers["content-type"].startswith("image/")
    assert logo.headers["access-control-allow-origin"] == "*"
