"""Every model, imported once so ``metadata`` knows all tables."""

from __future__ import annotations

from invigil.db.base import Base
from invigil.identity.models import User
from invigil.tenants.models import Tenant

metadata = Base.metadata

__all__ = ["Tenant", "User", "metadata"]
