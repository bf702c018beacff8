"""Identity over HTTP: tokens, one's own account, users, roles, tenant policy."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from sqlalchemy import func, select

from invigil.db import platform
from invigil.db.uow import Actor, UnitOfWork
from invigil.errors import Invalid, NotFound, TooManyRequests, Unauthorized
from invigil.identity import auth, mfa, service, views
from invigil.identity.models import Role, User
from invigil.identity.schemas import (
    ChangePasswordIn,
    CodeIn,
    InvitedOut,
    LinkOut,
    MeOut,
    PermissionOut,
    RefreshIn,
    RoleCreateIn,
    RoleOut,
    RolesIn,
    RoleUpdateIn,
    SecurityPolicyIn,
    SetPasswordIn,
    TenantOut,
    TokenOut,
    TotpSetupOut,
    UserInviteIn,
    UserOut,
)
from invigil.pagination import Keyset, Page, PageCursor, PageLimit, check_limit
from invigil.security.passwords import verify_password
from invigil.security.permissions import Permission as P
from invigil.security.tokens import split_secret
from invigil.tenants import service as tenants
from invigil.tenants.models import Tenant
from invigil.web.access import Public, requires

router = APIRouter(prefix="/api/v1")
SIGN_IN_FAILED = {"WWW-Authenticate": 'Bearer error="invalid_grant"'}


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def visitor(request: Request, tenant_id: uuid.UUID) -> Actor:
    """Someone not signed in, as the audit log names them: their network
    address as the tenant's keyed hash, never the address itself."""
    box = request.app.state.services.box
    return Actor("anonymous", box.pseudonym(tenant_id, "address", client_address(request)))


def _tokens(request: Request, tenant: str, outcome: auth.Outcome) -> TokenOut:
    assert outcome.user and outcome.session and outcome.refresh_token
    access, expires_in = request.app.state.services.tokens.issue(
        user_id=outcome.user.id,
        tenant_id=outcome.user.tenant_id,
        tenant_slug=tenant,
        session_id=outcome.session.id,
        roles=outcome.roles,
        permissions=outcome.permissions,
        mfa_enroll_only=outcome.session.mfa_enroll_only,
    )
    return TokenOut(
        access_token=access,
        refresh_token=outcome.refresh_token,
        expires_in=expires_in,
        permissions=outcome.permissions,
    )


# -- tokens (public: the credentials are in the body) -------------------------


@router.post(
    "/auth/token",
    response_model=TokenOut,
    tags=["auth"],
    dependencies=[Public],
    responses={
        401: {"description": "Wrong credentials (mfa_required, sso_required say what is missing)."},
        429: {"description": "Too many failed sign-ins for this account or address."},
    },
)
def token(
    request: Request,
    tenant: Annotated[str, Form(max_length=40)],
    username: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=256)],
    otp: Annotated[str | None, Form(max_length=8)] = None,
) -> TokenOut:
    """Sign in with tenant slug, email and password (and a TOTP code when enabled)."""
    services = request.app.state.services
    ref = platform.tenant_by_slug(request.app.state.db, tenant.strip().lower())
    if ref is None:
        verify_password(None, password)  # the same time as a wrong password
        raise Unauthorized(auth.FAILED, **{"mfa_required": False})
    with request.app.state.db.unit_of_work(ref.id, visitor(request, ref.id)) as uow:
        outcome = auth.sign_in(
            uow,
            services.settings,
            services.box,
            email=username,
            password=password,
            otp=otp,
            address=client_address(request),
            user_agent=request.headers.get("user-agent", ""),
        )
        result = _tokens(request, ref.slug, outcome) if outcome.ok else None
    if outcome.throttled:
        raise TooManyRequests(auth.THROTTLED, retry_after=outcome.retry_after)
    if result is None and outcome.sso_required:
        raise Unauthorized(auth.SSO_REQUIRED, mfa_required=False, sso_required=True)
    if result is None:
        raise Unauthorized(auth.FAILED, mfa_required=outcome.mfa_required)
    return result


@router.post(
    "/auth/refresh",
    response_model=TokenOut,
    tags=["auth"],
    dependencies=[Public],
    responses={401: {"description": "The refresh token is not valid, expired or was used."}},
)
def refresh(request: Request, body: RefreshIn) -> TokenOut:
    """Rotate the refresh token. A token used twice revokes its whole family."""
    tenant_id = split_secret("rt", body.refresh_token)
    if tenant_id is None:
        raise Unauthorized("the refresh token is not valid; sign in again")
    services = request.app.state.services
    with request.app.state.db.unit_of_work(tenant_id, visitor(request, tenant_id)) as uow:
        outcome = auth.refresh(uow, services.settings, body.refresh_token)
        slug = uow.get(Tenant, tenant_id).slug if outcome.ok else ""
        result = _tokens(request, slug, outcome) if outcome.ok else None
    if result is None:
        detail = (
            "this refresh token was already used: every session of this sign-in is now "
            "revoked; sign in again"
            if outcome.reused
            else "the refresh token is not valid or has expired; sign in again"
        )
        raise Unauthorized(detail)
    return result


@router.post("/auth/logout", status_code=204, tags=["auth"], dependencies=[Public])
def logout(request: Request, body: RefreshIn) -> Response:
    """End the sign-in this refresh token belongs to (all its tokens stop working)."""
    tenant_id = split_secret("rt", body.refresh_token)
    if tenant_id is not None:
        with request.app.state.db.unit_of_work(tenant_id, visitor(request, tenant_id)) as uow:
            session = auth.session_by_refresh(uow, body.refresh_token)
            if session is not None:
                uow.actor = Actor("user", str(session.user_id))
                auth.end_session(uow, session.id)
    return Response(status_code=204)


@router.post("/auth/password", status_code=204, tags=["auth"], dependencies=[Public])
def set_password(request: Request, body: SetPasswordIn) -> Response:
    """Accept an invitation or finish a password reset with the link's secret."""
    tenant_id = split_secret("ut", body.token)
    if tenant_id is None:
        raise Invalid(
            "this link is not valid: it was used, replaced or has expired; "
            "ask your administrator for a new one"
        )
    with request.app.state.db.unit_of_work(tenant_id, visitor(request, tenant_id)) as uow:
        user = service.use_link(uow, body.token, body.password)
        uow.actor = Actor("user", str(user.id))
    return Response(status_code=204)


# -- one's own account ---------------------------------------------------------


def _me(uow: UnitOfWork) -> User:
    return uow.get(User, uow.claims.user_id)


@router.get("/me", response_model=MeOut, tags=["account"])
def me(uow: UnitOfWork = requires(P.ACCOUNT_SELF)) -> MeOut:
    user = _me(uow)
    roles = service.roles_of(uow, user.id)
    base = views.user_out(user, [r.name for r in roles])
    return MeOut(
        **base.model_dump(),
        tenant=uow.claims.tenant_slug,
        permissions=sorted(uow.claims.permissions),
    )


@router.post("/me/password", status_code=204, tags=["account"])
def change_password(body: ChangePasswordIn, uow: UnitOfWork = requires(P.ACCOUNT_SELF)) -> Response:
    service.change_password(uow, uow.claims.user_id, body.current_password, body.new_password)
    return Response(status_code=204)


@router.post("/me/totp", response_model=TotpSetupOut, tags=["account"])
def totp_begin(request: Request, uow: UnitOfWork = requires(P.ACCOUNT_SELF)) -> TotpSetupOut:
    """Start setting up a TOTP authenticator; confirm with a code to enable it."""
    secret, uri = mfa.begin(uow, request.app.state.services.box, _me(uow))
    return TotpSetupOut(secret=secret, otpauth_uri=uri)


@router.post("/me/totp/confirm", status_code=204, tags=["account"])
def totp_confirm(
    request: Request, body: CodeIn, uow: UnitOfWork = requires(P.ACCOUNT_SELF)
) -> Response:
    mfa.confirm(uow, request.app.state.services.box, _me(uow), body.code)
    return Response(status_code=204)


@router.post("/me/totp/disable", status_code=204, tags=["account"])
def totp_disable(
    request: Request, body: CodeIn, uow: UnitOfWork = requires(P.ACCOUNT_SELF)
) -> Response:
    mfa.disable(uow, request.app.state.services.box, _me(uow), body.code)
    return Response(status_code=204)


@router.get("/tenant", response_model=TenantOut, tags=["account"])
def my_tenant(uow: UnitOfWork = requires(P.ACCOUNT_SELF)) -> TenantOut:
    t = uow.get(Tenant, uow.tenant)
    return TenantOut(
        id=t.id,
        slug=t.slug,
        name=t.name,
        region=t.region,
        require_mfa_for_admins=t.require_mfa_for_admins,
    )


@router.put("/tenant/security", response_model=TenantOut, tags=["tenant"])
def security_policy(
    body: SecurityPolicyIn, uow: UnitOfWork = requires(P.TENANT_MANAGE)
) -> TenantOut:
    """Require a second factor for administrators (roles that manage users, roles or the tenant)."""
    t = tenants.set_mfa_policy(uow, require_for_admins=body.require_mfa_for_admins)
    return TenantOut(
        id=t.id,
        slug=t.slug,
        name=t.name,
        region=t.region,
        require_mfa_for_admins=t.require_mfa_for_admins,
    )


# -- users ---------------------------------------------------------------------


def _link(request: Request, secret: str) -> str:
    return f"{request.app.state.services.settings.issuer}/account/set-password?token={secret}"


@router.get("/users", response_model=Page[UserOut], tags=["users"])
def list_users(
    limit: PageLimit = 50,
    cursor: PageCursor = None,
    uow: UnitOfWork = requires(P.USER_VIEW),
) -> Page[UserOut]:
    check_limit(limit)
    order = Keyset(func.lower(User.email), User.id, parse=(str, uuid.UUID))
    users, nxt = order.page(
        uow.scalars(order.apply(select(User), cursor, limit)),
        limit,
        lambda u: (u.email.lower(), u.id),
    )
    return Page[UserOut](items=views.users_out(uow, users), next=nxt)


@router.post("/users", response_model=InvitedOut, status_code=201, tags=["users"])
def invite_user(
    request: Request, body: UserInviteIn, uow: UnitOfWork = requires(P.USER_MANAGE)
) -> InvitedOut:
    """Invite a staff member: the account exists at once, the password comes with the link."""
    user, secret = service.invite_user(
        uow, email=body.email, roles=body.roles, display_name=body.display_name
    )
    return InvitedOut(user=views.users_out(uow, [user])[0], link=_link(request, secret))


@router.get("/users/{user_id}", response_model=UserOut, tags=["users"])
def get_user(user_id: uuid.UUID, uow: UnitOfWork = requires(P.USER_VIEW)) -> UserOut:
    return views.users_out(uow, [service.require_user(uow, user_id)])[0]


@router.put("/users/{user_id}/roles", response_model=UserOut, tags=["users"])
def set_roles(
    user_id: uuid.UUID, body: RolesIn, uow: UnitOfWork = requires(P.USER_MANAGE)
) -> UserOut:
    """Replace the user's roles; takes effect at the user's next token."""
    service.require_user(uow, user_id)
    service.set_roles(uow, user_id, body.roles)
    return views.users_out(uow, [uow.get(User, user_id)])[0]


@router.post("/users/{user_id}/deactivate", response_model=UserOut, tags=["users"])
def deactivate(user_id: uuid.UUID, uow: UnitOfWork = requires(P.USER_MANAGE)) -> UserOut:
    """Deactivate at once: every session and token of the user stops working."""
    service.require_user(uow, user_id)
    return views.users_out(uow, [service.deactivate_user(uow, user_id)])[0]


@router.post("/users/{user_id}/reactivate", response_model=UserOut, tags=["users"])
def reactivate(user_id: uuid.UUID, uow: UnitOfWork = requires(P.USER_MANAGE)) -> UserOut:
    service.require_user(uow, user_id)
    return views.users_out(uow, [service.reactivate_user(uow, user_id)])[0]


@router.post("/users/{user_id}/reset-password", response_model=LinkOut, tags=["users"])
def reset_password(
    request: Request, user_id: uuid.UUID, uow: UnitOfWork = requires(P.USER_MANAGE)
) -> LinkOut:
    """Clear the password, end every session, and return a one-time link (valid 2 hours)."""
    service.require_user(uow, user_id)
    return LinkOut(link=_link(request, service.reset_password(uow, user_id)))


@router.post("/users/{user_id}/mfa/reset", response_model=UserOut, tags=["users"])
def reset_mfa(
    request: Request, user_id: uuid.UUID, uow: UnitOfWork = requires(P.USER_MANAGE)
) -> UserOut:
    """Remove a user's second factor (a lost phone); audited."""
    service.require_user(uow, user_id)
    user = service.reset_mfa(uow, request.app.state.services.box, user_id)
    return views.users_out(uow, [user])[0]


# -- roles ---------------------------------------------------------------------


@router.get("/permissions", response_model=Page[PermissionOut], tags=["roles"])
def list_permissions(uow: UnitOfWork = requires(P.ROLE_VIEW)) -> Page[PermissionOut]:
    items = [
        PermissionOut(name=p.value, resource=p.value.split(":")[0], action=p.value.split(":")[1])
        for p in P
    ]
    return Page[PermissionOut](items=items, next=None)


@router.get("/roles", response_model=Page[RoleOut], tags=["roles"])
def list_roles(uow: UnitOfWork = requires(P.ROLE_VIEW)) -> Page[RoleOut]:
    return Page[RoleOut](items=views.roles_out(uow, service.list_roles(uow)), next=None)


@router.post("/roles", response_model=RoleOut, status_code=201, tags=["roles"])
def create_role(body: RoleCreateIn, uow: UnitOfWork = requires(P.ROLE_MANAGE)) -> RoleOut:
    """A custom role: any set of permissions."""
    role = service.create_role(
        uow, name=body.name, description=body.description, permissions=body.permissions
    )
    return views.roles_out(uow, [role])[0]


def _role(uow: UnitOfWork, role_id: uuid.UUID) -> Role:
    try:
        return uow.get(Role, role_id)
    except NotFound:
        raise NotFound(f"role {role_id} was not found") from None


@router.get("/roles/{role_id}", response_model=RoleOut, tags=["roles"])
def get_role(role_id: uuid.UUID, uow: UnitOfWork = requires(P.ROLE_VIEW)) -> RoleOut:
    return views.roles_out(uow, [_role(uow, role_id)])[0]


@router.patch("/roles/{role_id}", response_model=RoleOut, tags=["roles"])
def update_role(
    role_id: uuid.UUID, body: RoleUpdateIn, uow: UnitOfWork = requires(P.ROLE_MANAGE)
) -> RoleOut:
    """Change a custom role; its holders get the new permissions at their next token."""
    _role(uow, role_id)
    role = service.update_role(
        uow, role_id, description=body.description, permissions=body.permissions
    )
    return views.roles_out(uow, [role])[0]


@router.delete("/roles/{role_id}", status_code=204, tags=["roles"])
def delete_role(role_id: uuid.UUID, uow: UnitOfWork = requires(P.ROLE_MANAGE)) -> Response:
    _role(uow, role_id)
    service.delete_role(uow, role_id)
    return Response(status_code=204)
