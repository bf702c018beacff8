"""How a route declares who may call it.

Every route declares exactly one permission with ``requires(Permission.X)``
(which also authenticates the caller and opens the request's unit of work,
bound to the caller's tenant), or says it is public with ``Public``. The
test suite walks the app and fails on a route that declares neither.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from invigil import audit
from invigil.db.uow import Actor, UnitOfWork
from invigil.errors import Forbidden, Refused, Unauthorized
from invigil.security import sessions
from invigil.security.permissions import Permission

PUBLIC = "public"
# The candidate's own attempt, through the guest link and the browser binding
# (invigil.delivery.candidate); no staff role holds it, no staff route takes it.
CANDIDATE = "candidate:attempt"
# The platform operator's routes (invigil.ledger.operator_api): a server-side
# operator token, never a tenant user's; no role holds it.
OPERATOR = "operator"
# The metrics scraper (invigil.web.metrics, GET /metrics): a server-side
# token of its own, neither a tenant user's nor the operator's.
SCRAPER = "operator:metrics"


def _public() -> None:
    """No credentials needed: health, metadata, the candidate's own link."""


_public.__permission__ = PUBLIC  # type: ignore[attr-defined]

Public: Any = Depends(_public)


@dataclass(frozen=True)
class RouteInfo:
    path: str
    methods: frozenset[str]
    route: APIRoute
    permissions: tuple[str, ...]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("sign in first: send Authorization: Bearer <access token>")
    return token.strip()


def requires(permission: Permission) -> Any:
    """Authenticate the bearer token, check ``permission``, and yield a unit
    of work bound to the token's tenant. The transaction commits before the
    response is sent (``scope="function"``), so a failed commit is a 500,
    never a false success."""

    def dependency(request: Request) -> Iterator[UnitOfWork]:
        services, db = request.app.state.services, request.app.state.db
        claims = services.tokens.verify(bearer_token(request))
        actor = Actor("user", str(claims.user_id))
        if permission.value not in claims.permissions:
            if claims.mfa_enroll_only:
                raise Forbidden(
                    "your tenant requires a second factor for administrators: set "
                    "it up (POST /api/v1/me/totp), then sign in again"
                )
            refused = route_refusal(request, permission, "your role does not allow this")
            audit.keep_refusal(db, claims.tenant_id, actor, refused)
            raise refused
        try:
            with db.unit_of_work(claims.tenant_id, actor) as uow:
                if not sessions.active(uow, claims.session_id, claims.user_id):
                    raise Unauthorized(
                        "this session has ended (signed out, revoked or the account "
                        "was deactivated); sign in again"
                    )
                uow.claims = claims
                request.state.claims = claims
                yield uow
        except Refused as refused:  # the request rolled back; its refusal is kept
            audit.keep_refusal(db, claims.tenant_id, actor, refused)
            raise

    dependency.__permission__ = permission.value  # type: ignore[attr-defined]
    dependency.__name__ = f"requires_{permission.name.lower()}"
    return Depends(dependency, scope="function")


@dataclass(frozen=True)
class Caller:
    """Who called, once checked: for a route that holds no transaction."""

    tenant_id: uuid.UUID
    actor: Actor
    claims: Any


def requires_caller(permission: Permission) -> Any:
    """Like :func:`requires`, for a route that waits on an outside service
    (an AI provider): the caller is authenticated and checked in a short
    transaction of its own, which ends before the route runs, so no
    transaction (nor pooled connection) is held while the service thinks.
    The route opens its own units of work."""
    inner = requires(permission).dependency

    def dependency(request: Request) -> Caller:
        steps = inner(request)
        uow = next(steps)
        caller = Caller(uow.tenant, uow.actor, uow.claims)
        for _ in steps:  # commits the check's transaction
            pass
        return caller

    dependency.__permission__ = permission.value  # type: ignore[attr-defined]
    dependency.__name__ = f"requires_{permission.name.lower()}_caller"
    return Depends(dependency)


def route_refusal(request: Request, permission: Permission, detail: str) -> Refused:
    """A caller whose roles lack the route's permission: 403, on the record."""
    route = getattr(request.scope.get("route"), "path", "")
    path = "".join(c for c in request.url.path[:300] if c.isprintable())
    return Refused(
        f"{detail} (it needs {permission.value})",
        subject=("route", f"{request.method} {route or path}"),
        payload={"attempted": "route", "missing": [permission.value], "path": path},
        missing=[permission.value],
    )


def iter_routes(
    routes: Iterable[BaseRoute], prefix: str = "", inherited: tuple[str, ...] = ()
) -> Iterator[RouteInfo]:
    """Every API route of an app with the permissions it declares, including
    routes of included routers (which FastAPI may keep as lazy branches)."""
    for route in routes:
        if isinstance(route, APIRoute):
            perms = inherited + tuple(declared_permissions(route))
            yield RouteInfo(prefix + route.path, frozenset(route.methods or ()), route, perms)
            continue
        included = getattr(route, "original_router", None)
        context = getattr(route, "include_context", None)
        if included is not None:
            extra = tuple(_permissions_of(getattr(context, "dependencies", [])))
            yield from iter_routes(
                included.routes, prefix + getattr(context, "prefix", ""), inherited + extra
            )


def _permissions_of(depends: Iterable[Any]) -> Iterator[str]:
    for dep in depends:
        perm = getattr(getattr(dep, "dependency", None), "__permission__", None)
        if perm is not None:
            yield str(perm)


def declared_permissions(route: APIRoute) -> list[str]:
    found: list[str] = []
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        perm = getattr(dep.call, "__permission__", None)
        if perm is not None:
            found.append(str(perm))
        stack.extend(dep.dependencies)
    return found
