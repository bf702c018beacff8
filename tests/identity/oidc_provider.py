"""An OpenID Provider for the tests: a small ASGI app (Starlette) that signs
ID tokens with joserfc, served by uvicorn on a loopback port in a thread.

It behaves as a real one: discovery, a JWKS, an authorization endpoint that
binds the code to the client, redirect URI, nonce and PKCE challenge, and a
token endpoint that checks the client's secret (HTTP Basic), the code (once)
and the PKCE verifier (S256). Tests set who "signs in" (``op.person``) and
may bend what the next ID token says (``op.bend``) to play an attacker or a
misconfigured provider; ``op.rotate()`` replaces the signing key (a new kid).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.live import running


@dataclass
class Client:
    secret: str
    redirect_uris: list[str]


@dataclass
class Provider:
    base: str = ""
    clients: dict[str, Client] = field(default_factory=dict)
    person: dict[str, Any] = field(default_factory=dict)
    bend: dict[str, Any] = field(default_factory=dict)  # claims/headers for the next token
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: list[RSAKey] = field(default_factory=list)
    jwks_fetches: int = 0
    token_requests: int = 0

    @property
    def issuer(self) -> str:
        return self.base

    def rotate(self) -> None:
        """A new signing key (a new kid); the old one leaves the JWKS."""
        self.keys = [RSAKey.generate_key(2048, parameters={"kid": uuid.uuid4().hex}, private=True)]

    def register(self, client_id: str, secret: str, redirect_uri: str) -> None:
        self.clients[client_id] = Client(secret, [redirect_uri])

    def id_token(self, client_id: str, nonce: str | None, claims: dict[str, Any]) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer, "aud": client_id, "iat": now, "exp": now + 300,
            "auth_time": now, **({"nonce": nonce} if nonce is not None else {}), **claims,
        }  # fmt: skip
        bend = dict(self.bend)
        key = bend.pop("_key", None) or self.keys[0]
        header = {"alg": "RS256", "kid": bend.pop("_kid", key.kid)}
        tamper = bend.pop("_tamper", False)
        for name, value in bend.items():
            if value is None:
                payload.pop(name, None)
            else:
                payload[name] = value
        token = jwt.encode(header, payload, key)
        if tamper:  # flip one character of the payload: the signature no longer holds
            head, body, sig = token.split(".")
            body = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
            token = f"{head}.{body}.{sig}"
        return token

    # -- the endpoints ----------------------------------------------------------

    def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.base}/authorize",
                "token_endpoint": f"{self.base}/token",
                "jwks_uri": f"{self.base}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                "code_challenge_methods_supported": ["S256"],
                "scopes_supported": ["openid", "email", "profile"],
            }
        )

    def jwks(self, request: Request) -> Response:
        self.jwks_fetches += 1
        return JSONResponse(KeySet(list(self.keys)).as_dict(private=False))

    def authorize(self, request: Request) -> Response:
        q = request.query_params
        client = self.clients.get(q.get("client_id", ""))
        if client is None or q.get("redirect_uri") not in client.redirect_uris:
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        if q.get("response_type") != "code" or "openid" not in q.get("scope", "").split():
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        if self.person.get("_deny"):
            target = f"{q['redirect_uri']}?{urlencode({'error': 'access_denied', 'state': q.get('state', '')})}"
            return RedirectResponse(target, status_code=302)
        code = secrets.token_urlsafe(24)
        self.codes[code] = {
            "client_id": q["client_id"], "redirect_uri": q["redirect_uri"],
            "nonce": q.get("nonce"), "challenge": q["code_challenge"],
            "claims": {k: v for k, v in self.person.items() if not k.startswith("_")},
        }  # fmt: skip
        target = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}"
        return RedirectResponse(target, status_code=302)

    async def token(self, request: Request) -> Response:
        self.token_requests += 1
        form = await request.form()
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Basic "):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        client = self.clients.get(client_id)
        if client is None or not secrets.compare_digest(client.secret, secret):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self.codes.pop(str(form.get("code", "")), None)  # a code works once
        if (
            grant is None
            or form.get("grant_type") != "authorization_code"
            or grant["client_id"] != client_id
            or grant["redirect_uri"] != form.get("redirect_uri")
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        verifier = str(form.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if challenge.rstrip(b"=").decode() != grant["challenge"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        id_token = self.id_token(client_id, grant["nonce"], grant["claims"])
        self.bend = {}
        return JSONResponse(
            {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
             "expires_in": 300, "id_token": id_token}
        )  # fmt: skip

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
            ]
        )


@contextmanager
def provider(host: str = "127.0.0.1") -> Iterator[Provider]:
    """A running provider; ``host`` names it (``localhost``: another site
    than the app on 127.0.0.1, as a real provider is)."""
    op = Provider()
    op.rotate()
    with running(op.app()) as url:  # type: ignore[arg-type]
        op.base = url.replace("127.0.0.1", host)
        yield op
