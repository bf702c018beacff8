from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    permissions: list[str]


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=10, max_length=200)


class SetPasswordIn(BaseModel):
    token: str = Field(min_length=10, max_length=200, description="the secret from the link")
    password: str = Field(max_length=256)


class ChangePasswordIn(BaseModel):
    current_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)


class CodeIn(BaseModel):
    code: str = Field(min_length=6, max_length=8, pattern=r"^\s*\d{6,8}\s*$")


class TotpSetupOut(BaseModel):
    secret: str
    otpauth_uri: str


class RoleRef(BaseModel):
    id: uuid.UUID
    name: str


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    display_name: str
    status: str
    mfa_enabled: bool
    roles: list[str]
    created_at: datetime
    last_sign_in_at: datetime | None


class MeOut(UserOut):
    tenant: str
    permissions: list[str]


class UserInviteIn(BaseModel):
    email: str = Field(max_length=320)
    display_name: str = Field(default="", max_length=200)
    roles: list[str] = Field(min_length=1, max_length=20)


class InvitedOut(BaseModel):
    user: UserOut
    link: str = Field(
        description="one-time link to set the password (valid 7 days); give it "
        "to the person by a channel you trust"
    )


class LinkOut(BaseModel):
    link: str


class RolesIn(BaseModel):
    roles: list[str] = Field(min_length=1, max_length=20)


class RoleOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    builtin: bool
    permissions: list[str]
    holders: int


class RoleCreateIn(BaseModel):
    name: str = Field(max_length=64)
    description: str = Field(default="", max_length=500)
    permissions: list[str] = Field(max_length=100)


class RoleUpdateIn(BaseModel):
    description: str | None = Field(default=None, max_length=500)
    permissions: list[str] | None = Field(default=None, max_length=100)


class PermissionOut(BaseModel):
    name: str
    resource: str
    action: str


class TenantOut(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    region: str
    require_mfa_for_admins: bool


class SecurityPolicyIn(BaseModel):
    require_mfa_for_admins: bool
