"""The platform operator's billing over HTTP: top up a tenant, read and set
its price list (docs/operations.md, "Operator API").

The operator is not a tenant user: these routes take one bearer token, the
operator token, whose secret lives in a file on the server
(``INVIGIL_OPERATOR_TOKEN_FILE``). A tenant user's access token never
passes, whatever its roles: it is compared with the operator token, not
verified as a user's. The file is read on each request, so replacing it
rotates the token without a restart; only its sha256 is compared, in
constant time. With no file configured the routes answer 404, exactly like
an address nothing is served at.

Failures are limited per client address (a token bucket that counts only
failed attempts): over the limit every request of that address is a 429,
the right token included, so guessing stays at a few tries a minute. What
the operator changes is on the record: each transfer and price list
version writes its audit entry, with the actor ``operator:api:<token
fingerprint>`` (the first 12 hex digits of the token's sha256), so a
rotated token is told apart.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from invigil.db import platform
from invigil.db.uow import Actor
from invigil.errors import NotFound, Unauthorized
from invigil.ledger import prices, service
from invigil.logs import get_logger
from invigil.web.access import OPERATOR
from invigil.web.public_limits import RateLimiter, client_key

log = get_logger(__name__)
router = APIRouter(prefix="/api/v1/operator", tags=["operator"])
MIN_TOKEN = 32  # characters of the secret: a random one (`openssl rand -hex 32`)
MAX_FILE = 4096
_made = threading.Lock()


def operator_token_sha256(settings: Any) -> bytes | None:
    """The sha256 of the configured operator token; None when there is none
    (unset, unreadable or too short: the last two are logged)."""
    path = settings.operator_token_file
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            secret = f.read(MAX_FILE + 1).strip()
    except OSError as exc:
        log.error("operator.token_unreadable", error=type(exc).__name__)
        return None
    if len(secret) < MIN_TOKEN or len(secret) > MAX_FILE:
        log.error("operator.token_unusable", detail=f"it must hold {MIN_TOKEN}+ characters")
        return None
    return hashlib.sha256(secret).digest()


def _limiter(app: Any) -> RateLimiter:
    found: RateLimiter | None = getattr(app.state, "operator_limiter", None)
    if found is None:
        with _made:
            found = getattr(app.state, "operator_limiter", None)
            if found is None:
                s = app.state.settings
                found = RateLimiter(
                    s.operator_failures_per_minute, s.operator_failures_burst, 10_000
                )
                app.state.operator_limiter = found
    return found


def _too_many(wait: float) -> HTTPException:
    return HTTPException(
        429,
        "too many failed operator sign-ins from this address; wait, then try again",
        headers={"Retry-After": str(max(1, math.ceil(wait)))},
    )


def _operator(request: Request) -> Actor:
    """The operator, from the bearer token; see the module docstring."""
    expected = operator_token_sha256(request.app.state.settings)
    if expected is None:
        raise HTTPException(404, "Not Found")  # as if nothing were served here
    limiter = _limiter(request.app)
    who = client_key(request.client.host if request.client else None)
    wait = limiter.waiting(who)
    if wait > 0:
        raise _too_many(wait)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    given = hashlib.sha256(token.strip().encode("utf-8", "replace")).digest()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given, expected):
        log.warning("operator.refused", client=who, path=request.url.path[:200])
        wait = limiter.hit(who)
        if wait > 0:
            raise _too_many(wait)
        raise Unauthorized("send Authorization: Bearer <operator token>")
    return Actor.operator(f"api:{expected.hex()[:12]}")


_operator.__permission__ = OPERATOR  # type: ignore[attr-defined]
# Absent (404) without an operator token on the server; failed sign-ins limited.
_operator.__answers__ = (404, 429)  # type: ignore[attr-defined]  # web/contract.py
Operator: Any = Depends(_operator)


def _tenant(request: Request, slug: str) -> platform.TenantRef:
    found = platform.tenant_by_slug(request.app.state.db, slug) if len(slug) <= 63 else None
    if found is None:
        raise NotFound(f"no tenant {slug}")
    return found


class CreditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(ge=1, le=service.MAX_AMOUNT, strict=True, description="whole credits")
    reference: str = Field(
        min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]{1,100}$",
        description="the payment or invoice it is for: once each",
    )  # fmt: skip


class PriceListIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prices: dict[str, Any] = Field(description="docs/formats/price-list.md")
    reason: str = Field(min_length=1, max_length=service.MAX_REASON)
    effective_from: datetime | None = Field(default=None, description="with a time zone")


@router.post("/tenants/{slug}/credits")
def top_up(
    request: Request, slug: str, body: Annotated[CreditIn, Body()], actor: Actor = Operator
) -> JSONResponse:
    """Top up a tenant's credits once per reference: 201 when credited, 200
    when that reference was credited already with the same amount, 409 with
    another amount."""
    ref = _tenant(request, slug)
    with request.app.state.db.unit_of_work(ref.id, actor) as uow:
        done = service.credit(uow, body.amount, body.reference, now=datetime.now(UTC))
        available = service.balance(uow)
    out = {"tenant": ref.slug, "transfer": done.as_dict(), "credits_available": available}
    return JSONResponse(out, status_code=200 if done.replayed else 201)


@router.get("/tenants/{slug}/price-list")
def read_price_list(request: Request, slug: str, actor: Actor = Operator) -> dict[str, Any]:
    """The tenant's price list in force and every version, newest first."""
    ref = _tenant(request, slug)
    with request.app.state.db.unit_of_work(ref.id, actor) as uow:
        now = datetime.now(UTC)
        found = prices.in_force(uow, now)
        return {
            "tenant": ref.slug,
            "in_force": found.as_dict() if found else None,
            "versions": [v.as_dict() for v in prices.versions(uow)],
        }


@router.put("/tenants/{slug}/price-list", status_code=201)
def set_price_list(
    request: Request, slug: str, body: Annotated[PriceListIn, Body()], actor: Actor = Operator
) -> dict[str, Any]:
    """Write the tenant's next price list version (never effective in the past)."""
    ref = _tenant(request, slug)
    with request.app.state.db.unit_of_work(ref.id, actor) as uow:
        version = prices.set_price_list(
            uow, body.prices, reason=body.reason, now=datetime.now(UTC),
            effective_from=body.effective_from,
        )  # fmt: skip
    return {"tenant": ref.slug, **version.as_dict()}
