"""Staff accounts: the minimal part the foundation needs (create, find)."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid
from invigil.identity.models import User
from invigil.identity.roles import BUILTIN_ROLES
from invigil.security.passwords import hash_password

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_email(email: str) -> str:
    email = email.strip()
    if not _EMAIL.match(email) or len(email) > 320:
        raise Invalid(f"{email!r} is not an email address")
    return email


def create_user(
    uow: UnitOfWork,
    *,
    email: str,
    role: str,
    password: str | None = None,
    display_name: str = "",
) -> User:
    email = normalise_email(email)
    if role not in BUILTIN_ROLES:
        raise Invalid(f"unknown role {role!r}; built-in roles are: {', '.join(BUILTIN_ROLES)}")
    if find_by_email(uow, email) is not None:
        raise Conflict(f"a user with email {email} already exists in this tenant")
    user = User(
        tenant_id=uow.tenant,
        email=email,
        role=role,
        display_name=display_name,
        password_hash=hash_password(password) if password is not None else None,
    )
    uow.add(user)
    try:
        with uow.session.begin_nested():
            uow.flush()
    except IntegrityError as exc:  # a concurrent insert won the race
        raise Conflict(f"a user with email {email} already exists in this tenant") from exc
    return user


def find_by_email(uow: UnitOfWork, email: str) -> User | None:
    return uow.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def list_users(uow: UnitOfWork) -> list[User]:
    return uow.scalars(select(User).order_by(User.email))
