"""The OpenID Connect relying party: discovery, keys, the code exchange and
the ID token's checks (docs/integrations/sso.md, docs/adr/0069).

Nothing here parses or checks a signature by hand: Authlib builds the
authorization request and the PKCE challenge (S256), joserfc verifies the
ID token's signature against the provider's published keys and its claims.

- A provider's URLs are chosen by a tenant administrator and fetched by the
  server, so each fetch goes through the webhook address rules (https, a
  public address; ``INVIGIL_SSO_ALLOW_PRIVATE`` / ``_HTTP`` open them for
  development) and never follows a redirect.
- The discovery document must name exactly the configured issuer.
- Discovery and keys are kept per process for ``sso_cache_seconds``; a
  token signed with a key id the cache does not know fetches the keys
  again at once (a provider's key rotation), at most every few seconds
  (a forged key id cannot make us hammer the provider).
- Only asymmetric algorithms the provider announces are accepted: never
  ``none``, never an HMAC keyed with the client secret.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import KeySet

from invigil.errors import Invalid
from invigil.settings import Settings
from invigil.webhooks import addresses

SCOPE = "openid email profile"
LEEWAY = 60  # seconds of clock difference allowed on exp and iat
REFETCH_AFTER = 5.0  # at most this often, keys fetched again for an unknown key id
MAX_DOCUMENT = 512 * 1024
ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class OidcError(Exception):
    """A sign-in the provider's answer does not allow. ``reason`` is a
    stable code (audited); the person reads a translated sentence chosen by it."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]
    auth_methods: tuple[str, ...]


_lock = threading.Lock()
_providers: dict[str, tuple[float, Provider]] = {}
_keys: dict[str, tuple[float, KeySet]] = {}


def forget() -> None:
    """Drop every cached discovery document and key set (tests, operators)."""
    with _lock:
        _providers.clear()
        _keys.clear()


def _rules(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_allow_private": settings.sso_allow_private,
            "webhook_allow_http": settings.sso_allow_http,
        }
    )


def check_issuer(url: str, settings: Settings) -> str:
    """A provider's issuer URL as a tenant administrator saves it: https on a
    public address (checked now, and again at each fetch), no query."""
    url = url.strip()
    if "?" in url or "#" in url:
        raise Invalid("the issuer URL takes no query or #fragment", field="issuer")
    try:
        checked = addresses.check_on_save(url, _rules(settings))
    except Invalid as exc:
        detail = exc.detail.replace("webhooks go", "identity providers are reached")
        raise Invalid(detail, field="issuer") from None
    return checked  # exactly as the provider names itself (a trailing slash counts)


def _target(url: str, settings: Settings) -> None:
    rules = _rules(settings)
    try:
        target = addresses.parse(url, rules)
        addresses.checked(target, rules)
    except (Invalid, addresses.Refused) as exc:
        raise OidcError("provider_address", str(exc)) from None


def _fetch_json(
    url: str, settings: Settings, *, data: dict[str, str] | None = None, auth: Any = None
) -> dict[str, Any]:
    _target(url, settings)
    try:
        with httpx.Client(timeout=settings.sso_timeout_seconds, follow_redirects=False) as client:
            headers = {"Accept": "application/json"}
            if data is None:
                response = client.get(url, headers=headers)
            else:
                response = client.post(url, data=data, auth=auth, headers=headers)
    except httpx.HTTPError as exc:
        raise OidcError("provider_unreachable", f"{type(exc).__name__} at {url}") from None
    if len(response.content) > MAX_DOCUMENT:
        raise OidcError("provider_answer", f"{url} answered more than {MAX_DOCUMENT} bytes")
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        raise OidcError(
            "provider_answer", f"{url} answered {response.status_code} {error or ''}".strip()
        )
    return body


def discover(issuer: str, settings: Settings) -> Provider:
    """The provider's metadata (``/.well-known/openid-configuration``), cached."""
    now = time.monotonic()
    with _lock:
        found = _providers.get(issuer)
    if found is not None and now - found[0] < settings.sso_cache_seconds:
        return found[1]
    doc = _fetch_json(issuer.rstrip("/") + "/.well-known/openid-configuration", settings)
    if doc.get("issuer") != issuer:
        raise OidcError("issuer_mismatch", "the discovery document names another issuer")
    try:
        announced = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
        provider = Provider(
            issuer=issuer,
            authorization_endpoint=str(doc["authorization_endpoint"]),
            token_endpoint=str(doc["token_endpoint"]),
            jwks_uri=str(doc["jwks_uri"]),
            algorithms=tuple(a for a in announced if a in ASYMMETRIC),
            auth_methods=tuple(
                doc.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
            ),
        )
    except (KeyError, TypeError):
        raise OidcError("provider_answer", "the discovery document lacks an endpoint") from None
    if not provider.algorithms:
        raise OidcError("provider_answer", "the provider signs with no asymmetric algorithm")
    with _lock:
        _providers[issuer] = (now, provider)
    return provider


def key_set(provider: Provider, settings: Settings, *, refresh: bool = False) -> KeySet:
    now = time.monotonic()
    with _lock:
        found = _keys.get(provider.jwks_uri)
    if found is not None:
        age = now - found[0]
        if (not refresh and age < settings.sso_cache_seconds) or (refresh and age < REFETCH_AFTER):
            return found[1]
    doc = _fetch_json(provider.jwks_uri, settings)
    try:
        keys = KeySet.import_key_set(doc)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError):
        raise OidcError("provider_answer", "the provider's key set cannot be read") from None
    with _lock:
        _keys[provider.jwks_uri] = (now, keys)
    return keys


@dataclass(frozen=True)
class Request:
    """What one sign-in sends the provider, and keeps to check its answer."""

    url: str
    state: str
    nonce: str
    verifier: str


def authorization_request(
    provider: Provider, *, client_id: str, redirect_uri: str, state: str, scope: str = SCOPE
) -> Request:
    """The authorization code request with PKCE (S256) and a fresh nonce."""
    nonce, verifier = generate_token(32), generate_token(64)
    url = prepare_grant_uri(
        provider.authorization_endpoint,
        client_id,
        "code",
        redirect_uri=redirect_uri,
        scope=scope,
        state=state,
        nonce=nonce,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    return Request(url, state, nonce, verifier)


def exchange(
    provider: Provider,
    settings: Settings,
    *,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    verifier: str,
) -> dict[str, Any]:
    """The token endpoint's answer for ``code`` (client_secret_basic, or
    client_secret_post when that is all the provider takes)."""
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    auth: Any = None
    if "client_secret_basic" in provider.auth_methods or not provider.auth_methods:
        from urllib.parse import quote

        auth = httpx.BasicAuth(quote(client_id, safe=""), quote(client_secret, safe=""))
    else:
        data |= {"client_id": client_id, "client_secret": client_secret}
    answer = _fetch_json(provider.token_endpoint, settings, data=data, auth=auth)
    if not isinstance(answer.get("id_token"), str):
        raise OidcError("provider_answer", "the token endpoint gave no ID token")
    return answer


def validate_id_token(
    provider: Provider,
    settings: Settings,
    id_token: str,
    *,
    client_id: str,
    nonce: str,
    now: int | None = None,
) -> dict[str, Any]:
    """The ID token's claims once its signature, issuer, audience, authorised
    party, times and nonce hold (OpenID Connect Core 3.1.3.7)."""
    try:
        header = jws.extract_compact(id_token.encode()).headers()
    except (JoseError, ValueError):
        raise OidcError("token_malformed") from None
    if header.get("alg") not in provider.algorithms:
        raise OidcError("token_algorithm", str(header.get("alg"))[:20])
    keys = key_set(provider, settings)
    kid = header.get("kid")
    if kid is not None and not any(k.kid == kid for k in keys.keys):
        keys = key_set(provider, settings, refresh=True)  # the provider rotated its keys
    try:
        token = jwt.decode(id_token, keys, algorithms=list(provider.algorithms))
    except InvalidKeyIdError:
        raise OidcError("token_unknown_key") from None
    except (BadSignatureError, UnsupportedAlgorithmError):
        raise OidcError("token_signature") from None
    except (JoseError, ValueError):
        raise OidcError("token_malformed") from None
    claims = dict(token.claims)
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=LEEWAY,
        iss={"essential": True, "value": provider.issuer},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise OidcError("token_expired") from None
    except (InvalidClaimError, MissingClaimError) as exc:
        name = str(getattr(exc, "claim", "") or "claim")
        raise OidcError(f"token_{name}" if name in ("iss", "aud", "nonce") else "token_claims",
                        name) from None  # fmt: skip
    except JoseError:
        raise OidcError("token_claims") from None
    issued = claims["iat"]
    if not isinstance(issued, int | float) or issued > (now or time.time()) + LEEWAY:
        raise OidcError("token_claims", "iat")
    audience = claims["aud"]
    several = isinstance(audience, list) and len(audience) > 1
    if (several or "azp" in claims) and claims.get("azp") != client_id:
        raise OidcError("token_azp")
    if not isinstance(claims["sub"], str) or not 1 <= len(claims["sub"]) <= 255:
        raise OidcError("token_claims", "sub")
    return claims
