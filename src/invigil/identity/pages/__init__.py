"""Server-rendered pages for staff: sign-in, own account, user and role admin.

The pages do what the JSON API does (``identity/api.py``) through the same
services. Every POST form carries the session's CSRF token, checked first.
A successful change redirects (303) back with a fixed notice; a domain error
re-renders the page with the message, what was typed (never passwords) and
the error's status. Each change runs in a savepoint, so a refused change
leaves nothing behind while the request's transaction still commits.
"""

from fastapi import APIRouter

from invigil.identity.pages import account, branding, policy, roles, signin, sso, users
from invigil.identity.pages.common import sentence

router = APIRouter(include_in_schema=False)
for module in (signin, sso, account, users, roles, policy, branding):
    router.include_router(module.router)

__all__ = ["router", "sentence"]
