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
  the bearer token checked; ``failing_scores`` makes a line item answer 500
  a number of times first).
- ``/memberships``: Names and Role Provisioning Services 2.0: the course's
  ``roster`` as a membership container, ``roster_page`` members a page, the
  next page in a ``Link: <...>; rel="next"`` header; the bearer token and
  the Accept header checked.
- ``/deep-link-return``: verifies the tool's signed deep linking answer.
- Proctoring Services: the platform delivers an assessment of its own.
  ``start_proctoring()`` is the start message it launches; ``/assessment``
  takes the tool's ``LtiStartAssessment`` (verified against the tool's
  JWKS: iss, aud, a nonce never seen before, the session data it sent, the
  attempt number and resource link) and shows its tiny assessment; its
  "Finish" (``/assessment/finish``) launches ``LtiEndAssessment`` to the
  tool (a third-party-initiated login at ``tool_login``).
- LTI Dynamic Registration: ``/openid-configuration`` (its issuer is
  ``config_issuer`` or the platform's, with the LTI platform configuration)
  and ``/register``, which checks the bearer ``registration_token`` and the
  tool's client registration (``registrations`` keeps each body) and
  answers a new client id and ``deployment_id`` (``register_answer``: another
  status plays a refusing platform), the platform from then on using them.
- ``/auth`` answers a browser (Accept: text/html) with the form post that
  carries the id_token to the tool, and a test's client with JSON.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.live import running

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
AP = "https://purl.imsglobal.org/spec/lti-ap/claim/"


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
    tool_login: str = ""
    session_data: dict[str, str] = field(default_factory=dict)  # sent, by attempt key
    seen_nonces: set[str] = field(default_factory=set)
    assessments: list[dict[str, Any]] = field(default_factory=list)  # verified starts
    failing_scores: dict[str, int] = field(default_factory=dict)  # line item -> 500s to answer
    roster: list[dict[str, Any]] = field(default_factory=list)  # the course's members (NRPS)
    roster_page: int = 2  # members per page
    roster_answer: int = 200  # another status plays a failing roster service
    roster_reads: list[dict[str, str]] = field(default_factory=list)  # what each read sent
    registration_token: str = "reg-token"  # the bearer /register wants ("" : none)
    config_issuer: str = ""  # the issuer the OpenID configuration names ("": the platform's)
    register_answer: int = 200  # another status plays a platform refusing the registration
    registrations: list[dict[str, Any]] = field(default_factory=list)  # bodies received

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

    def member(self, sub: str, *roles: str, status: str = "Active") -> dict[str, Any]:
        return {"user_id": sub, "name": f"Member {sub}", "email": f"{sub}@school.test",
                "roles": list(roles) or [LEARNER], "status": status}  # fmt: skip

    def nrps_claim(self) -> dict[str, Any]:
        return {
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": f"{self.base}/memberships",
                "service_versions": ["2.0"],
            }
        }

    def start_proctoring(
        self, link_id: str = "quiz-1", attempt: int = 1, **extra: Any
    ) -> dict[str, Any]:
        data = f"sd-{secrets.token_urlsafe(12)}"
        self.session_data[f"{link_id}:{attempt}"] = data
        return {
            LTI + "message_type": "LtiStartProctoring",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment_id,
            LTI + "resource_link": {"id": link_id, "title": "Quiz the LMS delivers"},
            LTI + "roles": [LEARNER],
            AP + "attempt_number": attempt,
            AP + "start_assessment_url": f"{self.base}/assessment",
            AP + "session_data": data,
            AP + "proctoring_settings": {"data": "webcam"},
        } | extra

    def end_assessment(self, link_id: str = "quiz-1", attempt: int = 1) -> dict[str, Any]:
        return {
            LTI + "message_type": "LtiEndAssessment",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment_id,
            LTI + "resource_link": {"id": link_id},
            LTI + "roles": [LEARNER],
            LTI + "launch_presentation": {"return_url": f"{self.base}/course"},
            AP + "attempt_number": attempt,
        }

    def login_query(self) -> dict[str, str]:
        return {
            "iss": self.issuer, "login_hint": self.person["sub"],
            "target_link_uri": self.redirect_uri, "client_id": self.client_id,
            "lti_deployment_id": self.deployment_id,
        }  # fmt: skip

    def verify_start_assessment(self, token: str) -> dict[str, Any]:
        """The tool's LtiStartAssessment, every check a platform makes, or an error."""
        claims = jwt.decode(token, self._tool_keys(), algorithms=["RS256"]).claims
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": self.client_id},
            aud={"essential": True, "value": self.issuer},
            exp={"essential": True}, iat={"essential": True}, nonce={"essential": True},
        ).validate(claims)  # fmt: skip
        if claims["nonce"] in self.seen_nonces:
            raise ValueError("nonce replayed")
        if claims.get(LTI + "message_type") != "LtiStartAssessment":
            raise ValueError("message type")
        if claims.get(LTI + "version") != "1.3.0":
            raise ValueError("version")
        if claims.get(LTI + "deployment_id") != self.deployment_id:
            raise ValueError("deployment")
        link = claims.get(LTI + "resource_link", {}).get("id")
        number = claims.get(AP + "attempt_number")
        expected = self.session_data.get(f"{link}:{number}")
        if expected is None or claims.get(AP + "session_data") != expected:
            raise ValueError("session_data")
        self.seen_nonces.add(claims["nonce"])
        return claims

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

    def openid_configuration(self, request: Request) -> Response:
        return JSONResponse({
            "issuer": self.config_issuer or self.issuer,
            "authorization_endpoint": f"{self.base}/auth",
            "token_endpoint": f"{self.base}/token",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "jwks_uri": f"{self.base}/jwks",
            "registration_endpoint": f"{self.base}/register",
            "scopes_supported": [
                "openid", "https://purl.imsglobal.org/spec/lti-ags/scope/score",
                "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
            ],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "iss", "name", "email"],
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": "testlms", "version": "1.0",
                "messages_supported": [{"type": "LtiResourceLinkRequest"},
                                       {"type": "LtiDeepLinkingRequest"}],
            },
        })  # fmt: skip

    async def register(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if self.registration_token and auth != f"Bearer {self.registration_token}":
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        if self.register_answer != 200:
            return JSONResponse({"error": "registration refused"}, status_code=self.register_answer)
        body = await request.json()
        tool = body.get("https://purl.imsglobal.org/spec/lti-tool-configuration") or {}
        kinds = {m.get("type") for m in tool.get("messages", [])}
        problems = [
            name
            for name, ok in (
                ("application_type", body.get("application_type") == "web"),
                ("response_types", body.get("response_types") == ["id_token"]),
                ("grant_types", set(body.get("grant_types", []))
                 >= {"implicit", "client_credentials"}),
                ("initiate_login_uri", bool(body.get("initiate_login_uri"))),
                ("redirect_uris", bool(body.get("redirect_uris"))),
                ("jwks_uri", bool(body.get("jwks_uri"))),
                ("client_name", bool(body.get("client_name"))),
                ("token_endpoint_auth_method",
                 body.get("token_endpoint_auth_method") == "private_key_jwt"),
                ("domain", bool(tool.get("domain"))),
                ("target_link_uri", bool(tool.get("target_link_uri"))),
                ("messages", {"LtiResourceLinkRequest", "LtiDeepLinkingRequest"} <= kinds),
            )
            if not ok
        ]  # fmt: skip
        if problems:
            self.refusals.append(f"register: {problems}")
            return JSONResponse({"error": "invalid_client_metadata",
                                 "error_description": ", ".join(problems)}, status_code=400)  # fmt: skip
        self.registrations.append(body)
        self.client_id = f"dyn-{uuid.uuid4().hex[:8]}"
        self.redirect_uri = body["redirect_uris"][0]
        self.tool_login = body["initiate_login_uri"]
        return JSONResponse({
            "client_id": self.client_id, **{k: body[k] for k in (
                "application_type", "response_types", "grant_types", "initiate_login_uri",
                "redirect_uris", "client_name", "jwks_uri", "token_endpoint_auth_method")},
            "https://purl.imsglobal.org/spec/lti-tool-configuration": tool
            | {"deployment_id": self.deployment_id},
        })  # fmt: skip

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
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(
                f"<form id='post' method='post' action='{q['redirect_uri']}'>"
                f"<input type='hidden' name='id_token' value='{token}'>"
                f"<input type='hidden' name='state' value='{q.get('state', '')}'>"
                "<button>Continue</button></form>"
                "<script>document.getElementById('post').submit()</script>"
            )
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
        item = request.path_params["item"]
        if self.failing_scores.get(item, 0) > 0:
            self.failing_scores[item] -= 1
            return JSONResponse({"error": "gradebook unavailable"}, status_code=500)
        body = await request.json()
        self.gradebook.append({"lineitem": request.path_params["item"], **body})
        return Response(status_code=204)

    def memberships(self, request: Request) -> Response:
        accept = request.headers.get("accept", "")
        auth = request.headers.get("authorization", "")
        self.roster_reads.append({"accept": accept, "page": request.query_params.get("page", "")})
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        if accept != "application/vnd.ims.lti-nrps.v2.membershipcontainer+json":
            return JSONResponse({"error": "not acceptable"}, status_code=406)
        if self.roster_answer != 200:
            return JSONResponse({"error": "roster unavailable"}, status_code=self.roster_answer)
        page = int(request.query_params.get("page", "0"))
        chunk = self.roster[page * self.roster_page : (page + 1) * self.roster_page]
        headers = {}
        if (page + 1) * self.roster_page < len(self.roster):
            headers["Link"] = f'<{self.base}/memberships?page={page + 1}>; rel="next"'
        body = {"id": f"{self.base}/memberships", "context": {"id": "course-1"}, "members": chunk}
        return JSONResponse(
            body,
            headers=headers,
            media_type="application/vnd.ims.lti-nrps.v2.membershipcontainer+json",
        )

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

    async def assessment(self, request: Request) -> Response:
        form = await request.form()
        try:
            claims = self.verify_start_assessment(str(form.get("JWT", "")))
        except Exception as exc:
            self.refusals.append(f"start_assessment: {exc}")
            return HTMLResponse("<p id='refused'>Refused</p>", status_code=400)
        self.assessments.append(claims)
        link = claims[LTI + "resource_link"]["id"]
        number = claims[AP + "attempt_number"]
        return HTMLResponse(
            "<h1 id='lms-quiz'>The LMS's own quiz</h1>"
            "<form method='post' action='/assessment/finish'>"
            "<label>2 + 2 = <input name='answer' id='answer'></label>"
            f"<input type='hidden' name='link' value='{link}'>"
            f"<input type='hidden' name='attempt' value='{number}'>"
            "<button id='finish'>Finish</button></form>"
        )

    async def finish(self, request: Request) -> Response:
        """The learner finished: the platform tells the tool (LtiEndAssessment)."""
        form = await request.form()
        self.next_launch = self.end_assessment(str(form["link"]), int(str(form["attempt"])))
        return RedirectResponse(f"{self.tool_login}?{urlencode(self.login_query())}", 303)

    def course(self, request: Request) -> Response:
        return HTMLResponse("<p id='course'>Back in the course</p>")

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/jwks", self.jwks),
                Route("/openid-configuration", self.openid_configuration),
                Route("/register", self.register, methods=["POST"]),
                Route("/auth", self.auth),
                Route("/token", self.token, methods=["POST"]),
                Route("/lineitems/{item}/scores", self.scores, methods=["POST"]),
                Route("/memberships", self.memberships),
                Route("/deep-link-return", self.deep_link_return, methods=["POST"]),
                Route("/assessment", self.assessment, methods=["POST"]),
                Route("/assessment/finish", self.finish, methods=["POST"]),
                Route("/course", self.course),
            ]
        )


@contextmanager
def platform() -> Iterator[Platform]:
    lms = Platform()
    lms.rotate()
    with running(lms.app()) as url:  # type: ignore[arg-type]
        lms.base = url
        yield lms
