"""The platform's id_token: every check LTI 1.3 (1EdTech Security Framework
5.1.3) asks of a tool, with joserfc doing the signature and the standard
claims (nothing here parses or verifies a JWT by hand).

Signature: RS256 (or RS384/RS512) against the platform's published key
set, fetched again when the token names a key id the cache lacks. Claims:
``iss`` is the registered issuer, ``aud`` holds the client id (``azp`` is
the client id when present or when there are several audiences), ``exp``
and ``iat`` hold (a minute of clock difference), ``nonce`` is the one this
launch sent (spent with its state), the deployment is registered, the
version is 1.3.0 and the message type one Invigil handles, with its own
required claims.
"""

from __future__ import annotations

import time
from typing import Any

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

from invigil.lti import remote
from invigil.lti.models import LtiPlatform
from invigil.lti.remote import LtiError
from invigil.settings import Settings

LEEWAY = 60
ALGORITHMS = ["RS256", "RS384", "RS512"]
LTI = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = LTI + "message_type"
VERSION = LTI + "version"
DEPLOYMENT = LTI + "deployment_id"
TARGET = LTI + "target_link_uri"
RESOURCE_LINK = LTI + "resource_link"
ROLES = LTI + "roles"
CONTEXT = LTI + "context"
CUSTOM = LTI + "custom"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
DL_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
DL_DATA = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
START_PROCTORING = "LtiStartProctoring"
START_ASSESSMENT = "LtiStartAssessment"
END_ASSESSMENT = "LtiEndAssessment"
MESSAGE_TYPES = frozenset(
    {RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST, START_PROCTORING, END_ASSESSMENT}
)
# LTI Proctoring Services 1.0 (docs/integrations/lti.md, ADR 0073).
AP = "https://purl.imsglobal.org/spec/lti-ap/claim/"
ATTEMPT_NUMBER = AP + "attempt_number"
START_ASSESSMENT_URL = AP + "start_assessment_url"
SESSION_DATA = AP + "session_data"
END_ASSESSMENT_RETURN = AP + "end_assessment_return"
VERIFIED_USER = AP + "verified_user"
PROCTORING_SETTINGS = AP + "proctoring_settings"
MAX_ATTEMPT = 10_000

_V = "http://purl.imsglobal.org/vocab/lis/v2/"
STAFF_ROLES = frozenset(
    {
        _V + "membership#Instructor",
        _V + "membership#ContentDeveloper",
        _V + "membership#Administrator",
        _V + "institution/person#Instructor",
        _V + "institution/person#Faculty",
        _V + "institution/person#Administrator",
        _V + "system/person#Administrator",
        "Instructor",  # the short forms LTI allows for context roles
        "ContentDeveloper",
        "Administrator",
    }
)


def is_staff(claims: dict[str, Any]) -> bool:
    roles = claims.get(ROLES)
    return isinstance(roles, list) and any(r in STAFF_ROLES for r in roles if isinstance(r, str))


def _text(claims: dict[str, Any], name: str, most: int = 255) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not 1 <= len(value) <= most:
        raise LtiError("token_claims", name.rsplit("/", 1)[-1])
    return value


def validate(
    platform: LtiPlatform, settings: Settings, id_token: str, *, nonce: str, now: int | None = None
) -> dict[str, Any]:
    """The id_token's claims once every check holds, else :class:`LtiError`."""
    try:
        header = jws.extract_compact(id_token.encode()).headers()
    except (JoseError, ValueError):
        raise LtiError("token_malformed") from None
    if header.get("alg") not in ALGORITHMS:
        raise LtiError("token_algorithm", str(header.get("alg"))[:20])
    keys = remote.key_set(platform.jwks_url, settings)
    kid = header.get("kid")
    if kid is not None and not any(k.kid == kid for k in keys.keys):
        keys = remote.key_set(platform.jwks_url, settings, refresh=True)  # key rotation
    try:
        token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
    except InvalidKeyIdError:
        raise LtiError("token_unknown_key") from None
    except (BadSignatureError, UnsupportedAlgorithmError):
        raise LtiError("token_signature") from None
    except (JoseError, ValueError):
        raise LtiError("token_malformed") from None
    claims = dict(token.claims)
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=LEEWAY,
        iss={"essential": True, "value": platform.issuer},
        aud={"essential": True, "value": platform.client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise LtiError("token_expired") from None
    except (InvalidClaimError, MissingClaimError) as exc:
        name = str(getattr(exc, "claim", "") or "claim")
        reason = f"token_{name}" if name in ("iss", "aud", "nonce") else "token_claims"
        raise LtiError(reason, name) from None
    except JoseError:
        raise LtiError("token_claims") from None
    issued = claims["iat"]
    if not isinstance(issued, int | float) or issued > (now or time.time()) + LEEWAY:
        raise LtiError("token_claims", "iat")
    audience = claims["aud"]
    several = isinstance(audience, list) and len(audience) > 1
    if (several or "azp" in claims) and claims.get("azp") != platform.client_id:
        raise LtiError("token_azp")
    _text(claims, "sub")
    if claims.get(VERSION) != "1.3.0":
        raise LtiError("token_version", str(claims.get(VERSION))[:20])
    if claims.get(MESSAGE_TYPE) not in MESSAGE_TYPES:
        raise LtiError("message_type", str(claims.get(MESSAGE_TYPE))[:40])
    if claims.get(DEPLOYMENT) not in platform.deployment_ids:
        raise LtiError("deployment_unknown", str(claims.get(DEPLOYMENT))[:100])
    if not isinstance(claims.get(ROLES), list):
        raise LtiError("token_claims", "roles")
    kind = claims[MESSAGE_TYPE]
    if kind in (RESOURCE_LINK_REQUEST, START_PROCTORING, END_ASSESSMENT):
        link = claims.get(RESOURCE_LINK)
        if not isinstance(link, dict):
            raise LtiError("token_claims", "resource_link")
        _text(link, "id")
    if kind == RESOURCE_LINK_REQUEST:
        _text(claims, TARGET, 2000)
    elif kind in (START_PROCTORING, END_ASSESSMENT):
        _proctoring_claims(claims)
    else:
        dl = claims.get(DL_SETTINGS)
        if not isinstance(dl, dict):
            raise LtiError("token_claims", "deep_linking_settings")
        _text(dl, "deep_link_return_url", 2000)
    return claims


def _proctoring_claims(claims: dict[str, Any]) -> None:
    """LTI Proctoring Services 1.0: every message names the attempt; a
    start also says where the assessment starts and may carry the
    platform's opaque session data (echoed back unchanged)."""
    number = claims.get(ATTEMPT_NUMBER)
    if isinstance(number, str) and number.isdigit():  # some platforms send it as text
        number = int(number)
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= MAX_ATTEMPT:
        raise LtiError("token_claims", "attempt_number")
    claims[ATTEMPT_NUMBER] = number
    if claims[MESSAGE_TYPE] != START_PROCTORING:
        return
    url = _text(claims, START_ASSESSMENT_URL, 2000)
    if not url.startswith(("https://", "http://")):
        raise LtiError("token_claims", "start_assessment_url")
    data = claims.get(SESSION_DATA, "")
    if not isinstance(data, str) or len(data) > 4000:
        raise LtiError("token_claims", "session_data")
