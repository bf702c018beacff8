"""An LTI 1.3 platform for the tests (1EdTech Core 1.3, Security Framework,
AGS 2.0, Deep Linking 2.0): a Starlette app with its own RSA keys, served
on a loopback port.

- ``/jwks``: the platform's public keys (``rotate()`` replaces them).
- ``/auth``: the OIDC authorisation endpoint of the third-party-initiated
  login: it checks the tool's client id and redirect URI and answers a
  form-post (``id_token`` and ``state``) for the learner in ``person``,
  signing the launch it was asked for (``next_launch``); tests may bend
  the next token (``bend``) to play an attacker.
- ``/token``: client credentials, the tool authenticated by a JWT assertion
  verified against the tool's JWKS (fetched from the tool).
- ``/lineitems/<id>/scores``: the gradebook (``gradebook`` records posts,
  the bearer token checked).
- ``/deep-link-return``: verifies the tool's signed deep linking answer.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.live import running

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


@dataclass
class Platform:
    base: str = ""
    client_id: str = "invigil-tool"
    deployment_id: str = "dep-1"
    keys: list[RSAKey] = field(default_factory=list)
    redirect_uri: str = ""
    tool_jwks: Callable[[], dict[str, Any]] | None = None  # how the platform reads the tool's keys
    person: dict[str, Any] = field(default_factory=dict)
    next_launch: dict[str, Any] = field(default_factory=dict)
    bend: dict[str, Any] = field(default_factory=dict)
    gradebook: list[dict[str, Any]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    deep_link_answers: list[dict[str, Any]] = field(default_factory=list)
    last_auth: dict[str, str] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return self.base

    def rotate(self) -> None:
        self.keys = [RSAKey.generate_key(2048, parameters={"kid": uuid.uuid4().hex}, private=True)]

    def registration(self) -> dict[str, Any]:
        return {
            "name": "Test LMS",
            "issuer": self.issuer,
            "client_id": self.client_id,
            "deployment_ids": [self.deployment_id],
            "jwks_url": f"{self.base}/jwks",
            "auth_login_url": f"{self.base}/auth",
            "token_url": f"{self.base}/token",
        }

    def lineitem(self, name: str = "1") -> str:
        return f"{self.base}/lineitems/{name}"

    def resource_launch(self, link_id: str = "rl-1", **extra: Any) -> dict[str, Any]:
        return {
            LTI + "message_type": "LtiResourceLinkRequest",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment_id,
            LTI + "target_link_uri": self.redirect_uri,
            LTI + "resource_link": {"id": link_id, "title": "Final exam"},
            LTI + "roles": [LEARNER],
            LTI + "context": {"id": "course-1", "title": "Course"},
            "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"],
                "lineitem": self.lineitem(link_id),
            },
        } | extra

    def id_token(self, nonce: str, claims: dict[str, Any]) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer, "aud": self.client_id, "azp": self.client_id,
            "iat": now, "exp": now + 300, "nonce": nonce, **claims,
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
        if tamper:
            head, body, sig = token.split(".")
            body = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
            token = f"{head}.{body}.{sig}"
        return token

    # -- endpoints ------------------------------------------------------------

    def jwks(self, request: Request) -> Response:
        return JSONResponse(KeySet(list(self.keys)).as_dict(private=False))

    def auth(self, request: Request) -> Response:
        q = request.query_params
        self.last_auth = dict(q)
        if q.get("client_id") != self.client_id or q.get("redirect_uri") != self.redirect_uri:
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        if (q.get("scope"), q.get("response_type"), q.get("response_mode"), q.get("prompt")) != (
            "openid", "id_token", "form_post", "none",
        ):  # fmt: skip
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        if q.get("login_hint") != self.person.get("sub"):
            return JSONResponse({"error": "login_required"}, status_code=400)
        token = self.id_token(q["nonce"], self.person | self.next_launch)
        self.bend = {}
        return JSONResponse(
            {"id_token": token, "state": q.get("state", ""), "to": q["redirect_uri"]}
        )

    def _tool_keys(self) -> KeySet:
        assert self.tool_jwks is not None
        return KeySet.import_key_set(self.tool_jwks())  # type: ignore[arg-type]

    async def token(self, request: Request) -> Response:
        form = await request.form()
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_assertion_type")
            != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        try:
            claims = jwt.decode(str(form.get("client_assertion", "")), self._tool_keys()).claims
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.client_id},
                sub={"essential": True, "value": self.client_id},
                aud={"essential": True, "value": f"{self.base}/token"},
                exp={"essential": True}, jti={"essential": True},
            ).validate(claims)  # fmt: skip
        except Exception as exc:
            self.refusals.append(f"token: {exc}")
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": 3600,
             "scope": form.get("scope", "")}
        )  # fmt: skip

    async def scores(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        if request.headers.get("content-type") != "application/vnd.ims.lis.v1.score+json":
            return JSONResponse({"error": "unsupported media type"}, status_code=415)
        body = await request.json()
        self.gradebook.append({"lineitem": request.path_params["item"], **body})
        return Response(status_code=204)

    async def deep_link_return(self, request: Request) -> Response:
        form = await request.form()
        claims = jwt.decode(str(form.get("JWT", "")), self._tool_keys()).claims
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": self.client_id},
            aud={"essential": True, "value": self.issuer},
            exp={"essential": True}, nonce={"essential": True},
        ).validate(claims)  # fmt: skip
        self.deep_link_answers.append(claims)
        return HTMLResponse("<p id='done'>Added</p>")

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/jwks", self.jwks),
                Route("/auth", self.auth),
                Route("/token", self.token, methods=["POST"]),
                Route("/lineitems/{item}/scores", self.scores, methods=["POST"]),
                Route("/deep-link-return", self.deep_link_return, methods=["POST"]),
            ]
        )


@contextmanager
def platform() -> Iterator[Platform]:
    lms = Platform()
    lms.rotate()
    with running(lms.app()) as url:  # type: ignore[arg-type]
        lms.base = url
        yield lms
