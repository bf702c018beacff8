"""The signature a receiver checks: right secret, untouched body, fresh timestamp."""

from __future__ import annotations

from invigil.webhooks import signing

SECRET = "whsec_test-secret"
BODY = b'{"data":{"n":1},"id":"e1","type":"test.happened"}'
NOW = 1_765_000_000


def test_a_receiver_verifies_a_fresh_signature() -> None:
    value = signing.header(SECRET, NOW, BODY)
    assert value.startswith(f"t={NOW},v1=") and len(value.split("v1=")[1]) == 64
    assert signing.verify(SECRET, value, BODY, NOW + 10)


def test_a_wrong_secret_a_tampered_body_or_an_old_timestamp_is_refused() -> None:
    value = signing.header(SECRET, NOW, BODY)
    assert not signing.verify("whsec_other", value, BODY, NOW)
    assert not signing.verify(SECRET, value, BODY.replace(b"1", b"2"), NOW)
    assert not signing.verify(SECRET, value, BODY, NOW + signing.TOLERANCE_SECONDS + 1)
    assert not signing.verify(SECRET, value, BODY, NOW - signing.TOLERANCE_SECONDS - 1)
    # The timestamp is signed: moving it forward breaks the signature.
    moved = value.replace(f"t={NOW}", f"t={NOW + 600}")
    assert not signing.verify(SECRET, moved, BODY, NOW + 600)
    assert not signing.verify(SECRET, "v1=00", BODY, NOW)
    assert not signing.verify(SECRET, "garbage", BODY, NOW)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signing.signature(SECRET, NOW, BODY) == expected
