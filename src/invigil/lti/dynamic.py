"""LTI Dynamic Registration 1.0: an LMS registers Invigil from one URL
(docs/integrations/lti.md, ADR 0075).

A tenant administrator makes a registration URL (``make``): a bearer
secret ``ltireg.<tenant>.<random>`` that names its tenant, kept only as its
hash, spent by its first use, expiring after ``HOURS``; it carries the name
and instructor role the registration gets (the role checked against the
administrator who chose it). Their LMS administrator pastes it into the
LMS, which opens it with ``openid_configuration`` (and maybe
``registration_token``). Invigil then

1. spends the URL (``claim``): unknown, spent or expired URLs are refused;
2. reads the platform's OpenID configuration (``configuration``): its
   ``issuer`` must be the origin of the configuration URL, and it must name
   its registration, key set, authorisation and token endpoints and carry
   the LTI platform configuration;
3. posts the tool's client registration (``tool_registration``) to the
   platform's registration endpoint with the registration token;
4. stores the registration from the answer (``store``): the client id and
   deployment id the platform gave, audited.

No transaction is held while the platform is asked. Every URL goes through
the LTI address rules (``remote``); every answer is size-limited.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from invigil import audit
from invigil.db.uow import UnitOfWork
from invigil.errors import Invalid
from invigil.lti import platforms, remote
from invigil.lti.ags import SCORE_SCOPE
from invigil.lti.models import LtiPlatform, LtiRegistrationUrl
from invigil.lti.remote import LtiError
from invigil.lti.roster import SCOPE as ROSTER_SCOPE
from invigil.security.tokens import digest, new_secret, split_secret
from invigil.settings import Settings

PREFIX = "ltireg"
HOURS = 24
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
ENDPOINTS = ("registration_endpoint", "jwks_uri", "authorization_endpoint", "token_endpoint")
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
RESULT_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
_ORIGIN = re.compile(r"https?://[a-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?")


def tenant_of(token: str) -> uuid.UUID | None:
    return split_secret(PREFIX, token)


def url_of(settings: Settings, token: str) -> str:
    return f"{settings.issuer.rstrip('/')}/lti-registration/{token}"


@dataclass(frozen=True)
class Made:
    row: LtiRegistrationUrl
    url: str


def make(uow: UnitOfWork, settings: Settings, name: str, instructor_role: str | None) -> Made:
    """A new one-time registration URL (audited; the URL is shown once)."""
    name = name.strip()
    if len(name) > 100 or any(not c.isprintable() for c in name):
        raise Invalid("name: at most 100 printable characters", field="name")
    role = platforms.checked_role(uow, instructor_role)
    token = new_secret(PREFIX, uow.tenant)
    row = LtiRegistrationUrl(
        tenant_id=uow.tenant,
        id=uuid.uuid4(),
        token_hash=digest(token),
        name=name,
        instructor_role=role,
        created_by=f"{uow.actor.kind}:{uow.actor.id}"[:200],
        expires_at=datetime.now(UTC) + timedelta(hours=HOURS),
    )
    uow.add(row)
    uow.flush()
    audit.record(
        uow,
        "lti.registration_url_made",
        ("lti_registration_url", str(row.id)),
        {"name": name, "instructor_role": role, "expires_at": row.expires_at.isoformat()},
    )
    return Made(row, url_of(settings, token))


def pending(uow: UnitOfWork) -> list[LtiRegistrationUrl]:
    """Registration URLs not spent and not expired."""
    return uow.scalars(
        select(LtiRegistrationUrl)
        .where(
            LtiRegistrationUrl.used_at.is_(None),
            LtiRegistrationUrl.expires_at > datetime.now(UTC),
        )
        .order_by(LtiRegistrationUrl.created_at)
    )


def claim(uow: UnitOfWork, token: str, *, address: str) -> LtiRegistrationUrl | str:
    """Spend the URL (its first use, successful or not), or the reason it
    cannot be (a spent or expired URL's refusal is audited here)."""
    row = uow.scalar(
        select(LtiRegistrationUrl)
        .where(LtiRegistrationUrl.token_hash == digest(token))
        .with_for_update()
    )
    if row is None:
        return "registration_unknown"
    if row.used_at is not None or row.expires_at <= datetime.now(UTC):
        reason = "registration_used" if row.used_at is not None else "registration_expired"
        return refuse(uow, reason, url_id=row.id, address=address)
    row.used_at = datetime.now(UTC)
    uow.flush()
    return row


def refuse(
    uow: UnitOfWork, reason: str, *, url_id: uuid.UUID | None, detail: str = "", address: str
) -> str:
    audit.record(
        uow,
        "lti.registration_refused",
        ("lti_registration_url", str(url_id) if url_id else "unknown"),
        {"reason": reason, "detail": detail[:200], "address": address},
    )
    return reason


def origin(url: str) -> str:
    """``scheme://host[:port]`` of an http(s) URL, lower case, or "" when it has
    anything else in it (it may go into a header)."""
    try:
        parts = urlsplit(url)
        found = f"{parts.scheme}://{parts.netloc}".lower()
    except ValueError:
        return ""
    return found if _ORIGIN.fullmatch(found) else ""


def configuration(url: str, settings: Settings) -> dict[str, Any]:
    """The platform's OpenID configuration, each check the spec asks, or LtiError."""
    try:
        url = remote.check_url(url, settings, "openid_configuration")
    except Invalid as exc:
        raise LtiError("registration_configuration", exc.detail) from None
    doc = remote.fetch_json(url, settings)
    issuer = doc.get("issuer")
    if not isinstance(issuer, str) or not issuer or len(issuer) > 2000:
        raise LtiError("registration_configuration", "no issuer")
    if not origin(issuer) or origin(issuer) != origin(url):
        raise LtiError("registration_issuer", f"{issuer} is not where {url} is")
    for name in ENDPOINTS:
        value = doc.get(name)
        if not isinstance(value, str) or not value:
            raise LtiError("registration_configuration", f"no {name}")
        try:
            remote.check_url(value[:2000], settings, name)
        except Invalid as exc:
            raise LtiError("registration_configuration", exc.detail) from None
    if not isinstance(doc.get(PLATFORM_CONFIGURATION), dict):
        raise LtiError("registration_configuration", "no LTI platform configuration")
    return doc


def _messages(doc: dict[str, Any]) -> set[str]:
    supported = doc[PLATFORM_CONFIGURATION].get("messages_supported")
    found: set[str] = set()
    if isinstance(supported, list):
        for item in supported[:50]:
            kind = item.get("type") if isinstance(item, dict) else None
            if isinstance(kind, str):
                found.add(kind)
    return found


def tool_registration(
    settings: Settings, public_key: str, doc: dict[str, Any], roster: bool = True
) -> dict[str, Any]:
    """The OpenID Connect client registration with the LTI tool configuration."""
    urls = platforms.ToolUrls.of(settings, public_key)
    domain = urlsplit(settings.issuer).netloc
    messages: list[dict[str, Any]] = [
        {"type": "LtiResourceLinkRequest", "target_link_uri": urls.launch, "label": "Invigil"},
        {"type": "LtiDeepLinkingRequest", "target_link_uri": urls.deep_linking,
         "label": "Invigil"},
    ]  # fmt: skip
    if "LtiStartProctoring" in _messages(doc):
        messages.append({"type": "LtiStartProctoring", "target_link_uri": urls.launch})
    scopes = [LINEITEM_SCOPE, SCORE_SCOPE, RESULT_SCOPE, ROSTER_SCOPE]
    supported = doc.get("scopes_supported")
    if isinstance(supported, list):
        scopes = [s for s in scopes if s in supported] or scopes
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls.login,
        "redirect_uris": [urls.launch],
        "client_name": "Invigil",
        "jwks_uri": urls.jwks,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(scopes),
        TOOL_CONFIGURATION: {
            "domain": domain,
            "target_link_uri": urls.launch,
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "messages": messages,
        },
    }


@dataclass(frozen=True)
class Answer:
    client_id: str
    deployment_id: str


def _text(value: object, most: int) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and 1 <= len(value) <= most and value.isprintable():
        return value
    return None


def post(
    settings: Settings, endpoint: str, body: dict[str, Any], registration_token: str
) -> Answer:
    """Register with the platform; its answer's client id and deployment id."""
    headers = {"Accept": "application/json"}
    if registration_token:
        headers["Authorization"] = f"Bearer {registration_token}"
    response = remote.request("POST", endpoint, settings, json=body, headers=headers)
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code not in (200, 201) or not isinstance(answer, dict):
        error = answer.get("error") if isinstance(answer, dict) else None
        raise LtiError(
            "registration_refused", f"{response.status_code} {str(error or '')[:100]}".strip()
        )
    client_id = _text(answer.get("client_id"), 500)
    tool = answer.get(TOOL_CONFIGURATION)
    deployment = _text(tool.get("deployment_id"), 255) if isinstance(tool, dict) else None
    if client_id is None:
        raise LtiError("registration_answer", "no client_id")
    if deployment is None:
        raise LtiError("registration_answer", "no deployment_id")
    return Answer(client_id, deployment)


def store(
    uow: UnitOfWork,
    settings: Settings,
    url: LtiRegistrationUrl,
    public_key: str,
    doc: dict[str, Any],
    answer: Answer,
) -> LtiPlatform:
    """The registration the platform made (audited), named by the URL's name
    or the platform's product."""
    product = doc[PLATFORM_CONFIGURATION].get("product_family_code")
    name = (
        url.name or (product if isinstance(product, str) else "") or urlsplit(doc["issuer"]).netloc
    )
    values = platforms.Values(
        name=name[:100],
        issuer=doc["issuer"],
        client_id=answer.client_id,
        deployment_ids=[answer.deployment_id],
        jwks_url=doc["jwks_uri"],
        auth_login_url=doc["authorization_endpoint"],
        token_url=doc["token_endpoint"],
        instructor_role=url.instructor_role,
    )
    row = platforms.create(uow, settings, values, public_key=public_key, dynamic=True)
    url.platform_id = row.id
    uow.flush()
    return row
