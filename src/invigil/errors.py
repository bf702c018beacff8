"""Domain errors and their RFC 9457 problem+json rendering.

Services raise these; the app turns them into responses with a stable
``type``. Messages say what was wrong and what to do, never secrets or
another tenant's data.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, ClassVar

PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_type(slug: str) -> str:
    return f"urn:invigil:problem:{slug}"


class DomainError(Exception):
    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    page: ClassVar[str | None] = None  # the template people see (default: error.html)

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        return problem(self.status, self.slug, self.detail, instance, **self.extensions)

    def headers(self) -> dict[str, str]:
        return {}


class Invalid(DomainError):
    status = 422
    slug = "invalid"


class Unauthorized(DomainError):
    status = 401
    slug = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class TooManyRequests(DomainError):
    """``retry_after`` (seconds) becomes the Retry-After header too."""

    status = 429
    slug = "too-many-requests"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.extensions.get("retry_after", 60))}


class PaymentRequired(DomainError):
    """Not enough credit: the body names the account and the shortfall, so
    the caller knows what to top up (the ledger's accounts that may not go
    negative)."""

    status = 402
    slug = "payment-required"


class Forbidden(DomainError):
    status = 403
    slug = "forbidden"


class Refused(Forbidden):
    """A refusal that belongs on the record: someone tried to grant or manage
    beyond what they hold. The change it stops rolls back with its
    transaction; the entry point that owns that transaction keeps ``subject``
    and ``payload`` as an ``access.denied`` audit entry in a unit of work
    that commits (see ``invigil.audit.record_refusal``)."""

    def __init__(
        self,
        detail: str,
        *,
        subject: tuple[str, str],
        payload: dict[str, Any],
        **extensions: Any,
    ) -> None:
        super().__init__(detail, **extensions)
        self.subject = subject
        self.payload = payload


class NotFound(DomainError):
    """Also the answer for another tenant's id: the body never says which."""

    status = 404
    slug = "not-found"


class Conflict(DomainError):
    status = 409
    slug = "conflict"


class Gone(DomainError):
    status = 410
    slug = "gone"


class Unavailable(DomainError):
    """``retry_after`` (seconds), when given, becomes the Retry-After header too."""

    status = 503
    slug = "unavailable"

    def headers(self) -> dict[str, str]:
        after = self.extensions.get("retry_after")
        return {} if after is None else {"Retry-After": str(after)}


DATABASE_RETRY_SECONDS = 5


def database_unreachable() -> Unavailable:
    """The answer while the database is unreachable (``db.engine.UNREACHABLE``):
    503 with Retry-After, never a 500 (nothing is wrong with the request)."""
    return Unavailable(
        "the database is not reachable right now; try again in a few seconds",
        retry_after=DATABASE_RETRY_SECONDS,
    )


def problem(
    status: int, slug: str, detail: str, instance: str | None = None, **extensions: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    body.update(extensions)
    return body
