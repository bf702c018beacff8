"""What the API promises beyond its routes' own declarations: the error
answers each operation can give, in the OpenAPI document, and the ``Allow``
header of a 405.

Every error a program gets is RFC 9457 problem+json (``invigil.errors``,
rendered by the app's handlers). Rather than each route listing them, the
document is completed in one place, when it is first built, from what the
route declares (docs/adr/0072-central-problem-responses.md):

- every operation: 422 (the request does not match; ``errors`` names each
  field) and 503 (admission control or an unreachable database);
- a route with a permission other than ``public``: 401 and, for a staff
  permission, 403; it also gets the bearer ``security`` requirement;
- a path with parameters, or an id (a uuid) among the query's or the body's
  fields: 404 (an unknown id, or another tenant's);
- POST, PUT, PATCH and DELETE: 409 (the object's state forbids it);
- an operation with a body: 400 (a body that cannot be read) and 413 (over
  its ``invigil.limits`` cap);
- what a dependency says it can answer (``__answers__`` on the dependency
  function, beside its ``__permission__``: a rate limit's 429, say);
- what the route itself declares in ``responses=`` (a 401 of sign-in, a
  402 of a charge): the status is the route's, the body the problem.

Routes added later are covered without anyone editing this module.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from starlette.routing import compile_path

from invigil.errors import PROBLEM_MEDIA_TYPE
from invigil.web.access import CANDIDATE, OPERATOR, PUBLIC, SCRAPER, RouteInfo, iter_routes

PROBLEM = "Problem"
_REF = {"$ref": f"#/components/schemas/{PROBLEM}"}
_NON_STAFF = {PUBLIC, CANDIDATE, OPERATOR, SCRAPER}
_CHANGES = {"post", "put", "patch", "delete"}
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_CONVERTER = re.compile(r"{(\w+):[^}]*}")

WHY = {
    400: "The body cannot be read: not UTF-8, not JSON, or broken multipart.",
    401: "No valid access token: sign in (or refresh) and send it as a bearer token.",
    402: "Not enough credit: the body names the account and the shortfall.",
    403: "The caller's roles do not allow this (``missing`` names the permission).",
    404: "Nothing of that id here: unknown, or another tenant's (never said which).",
    405: "The path does not take this method; ``Allow`` lists those it does.",
    409: "The object's current state does not allow this change.",
    410: "It existed and is gone (expired, withdrawn or purged).",
    413: "The body is larger than this route takes.",
    415: "The body's media type is not one this route reads.",
    422: "The request is not valid: ``errors`` names each field and what is wrong.",
    429: "Too many requests: try again after ``Retry-After`` seconds.",
    503: "Not now (busy, or the database is unreachable); ``Retry-After`` says when to retry.",
}

HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The scheme to authenticate with: Bearer.",
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    },
    503: {
        "Retry-After": {
            "description": "Seconds to wait before trying again, when known.",
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    },
}


def problem_schema() -> dict[str, Any]:
    """RFC 9457's members and Invigil's extension members."""
    return {
        "title": PROBLEM,
        "description": (
            "An error, as RFC 9457 problem details (application/problem+json). "
            "``type`` is stable and names the kind of error; ``detail`` says what "
            "was wrong and what to do. Other members extend it for some errors."
        ),
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {
                "type": "string",
                "description": "urn:invigil:problem:<kind>, e.g. urn:invigil:problem:not-found",
                "examples": ["urn:invigil:problem:not-found"],
            },
            "title": {"type": "string", "description": "The HTTP status' phrase."},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "instance": {"type": "string", "description": "The path that was asked for."},
            "errors": {
                "type": "array",
                "description": "422 for a request that does not match: each field and why.",
                "items": {
                    "type": "object",
                    "required": ["location", "message"],
                    "properties": {
                        "location": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "Where: body, query, path or header, then the field.",
                        },
                        "message": {"type": "string"},
                    },
                },
            },
            "missing": {
                "type": "array",
                "items": {"type": "string"},
                "description": "403: the permissions the caller lacks.",
            },
            "mfa_required": {
                "type": "boolean",
                "description": "401 of sign-in: a second factor (otp) is needed.",
            },
            "sso_required": {
                "type": "boolean",
                "description": "401 of sign-in: this account signs in through single sign-on.",
            },
            "max_size": {
                "type": "integer",
                "description": "413: the most this route takes, in bytes.",
            },
            "retry_after": {
                "type": "integer",
                "description": "429 and 503: seconds to wait, as in Retry-After.",
            },
        },
        "additionalProperties": True,
    }


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description or WHY.get(status) or HTTPStatus(status).phrase,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": dict(_REF)}},
    }
    if status in HEADERS:
        response["headers"] = HEADERS[status]
    return response


def declared_answers(dependant: Dependant) -> set[int]:
    """The statuses that the route's dependencies say they can answer."""
    found: set[int] = set()
    stack = list(dependant.dependencies)
    while stack:
        dep = stack.pop()
        found.update(getattr(dep.call, "__answers__", ()))
        stack.extend(dep.dependencies)
    return found


def _openapi_path(path: str) -> str:
    return _CONVERTER.sub(r"{\1}", path)


def _routes(app: FastAPI) -> dict[tuple[str, str], RouteInfo]:
    return {
        (_openapi_path(info.path), method.lower()): info
        for info in iter_routes(app.routes)
        for method in info.methods
    }


def _names_an_id(schema: Any, schemas: dict[str, Any], seen: set[str]) -> bool:
    """Whether a parameter or body schema holds an id (a uuid), refs followed."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name in seen:
                return False
            seen.add(name)
            return _names_an_id(schemas.get(name), schemas, seen)
        if schema.get("format") == "uuid":
            return True
        return any(_names_an_id(v, schemas, seen) for v in schema.values())
    if isinstance(schema, list):
        return any(_names_an_id(v, schemas, seen) for v in schema)
    return False


def standard_answers(
    info: RouteInfo | None,
    method: str,
    operation: dict[str, Any],
    schemas: dict[str, Any] | None = None,
) -> set[int]:
    """The error statuses ``operation`` can answer, from what its route declares."""
    statuses = {422, 503}
    if "requestBody" in operation:
        statuses |= {400, 413}  # 400: a body that cannot be read (not UTF-8, broken JSON)
    parameters = operation.get("parameters", ())
    if any(p.get("in") == "path" for p in parameters) or _names_an_id(
        [parameters, operation.get("requestBody")], schemas or {}, set()
    ):
        statuses.add(404)  # an id the tenant does not have
    if method in _CHANGES:
        statuses.add(409)
    if info is None:
        return statuses
    permission = info.permissions[0] if info.permissions else PUBLIC
    if permission != PUBLIC:
        statuses.add(401)
    if permission not in _NON_STAFF:
        statuses.add(403)
    statuses |= declared_answers(info.route.dependant)
    return statuses


def _is_problem_content(response: dict[str, Any]) -> bool:
    """Whether the route left its error answer's body to us: no content, or
    FastAPI's placeholder (JSON of any shape, or its validation error)."""
    content = response.get("content")
    if not content:
        return True
    if set(content) - {"application/json", PROBLEM_MEDIA_TYPE}:
        return False
    schema = next(iter(content.values())).get("schema") or {}
    return not schema or schema.get("$ref", "").endswith(("/HTTPValidationError", f"/{PROBLEM}"))


def complete(document: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    """Add the problem responses, the Problem schema and the bearer security
    scheme to a document FastAPI built for ``app`` (in place; returned)."""
    routes = _routes(app)
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas[PROBLEM] = problem_schema()
    components.setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": (
            "A staff access token (POST /api/v1/auth/token); the operator's "
            "routes take the operator token instead."
        ),
    }
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            info = routes.get((path, method))
            responses = operation.setdefault("responses", {})
            for status in standard_answers(info, method, operation, schemas):
                responses.setdefault(str(status), {"description": ""})
            for code, response in responses.items():
                if code.isdigit() and int(code) >= 400 and _is_problem_content(response):
                    described = response.get("description") or None
                    if described in ("Validation Error", "Successful Response"):
                        described = None
                    responses[code] = {
                        **problem_response(int(code), described),
                        **{k: v for k, v in response.items() if k == "headers"},
                    }
            operation["responses"] = dict(sorted(responses.items()))
            if info is not None and info.permissions and info.permissions[0] != PUBLIC:
                operation["security"] = [{"bearer": []}]
    used = repr(document.get("paths"))
    for name in ("HTTPValidationError", "ValidationError"):
        if f"/{name}'" not in used and name in schemas:
            del schemas[name]
    return document


def install(app: FastAPI) -> None:
    """Build ``app``'s OpenAPI document with :func:`complete`, once, on first use."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if not getattr(app.state, "openapi_completed", False):
            complete(build(), app)
            app.state.openapi_completed = True
        return build()

    app.openapi = openapi  # type: ignore[method-assign]


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route serves at ``path`` (the ``Allow`` of a 405:
    Starlette names only the first matching route's, one of several)."""
    table: list[tuple[re.Pattern[str], int, frozenset[str]]] | None = getattr(
        app.state, "allow_table", None
    )
    if table is None:
        table = [
            (compile_path(info.path)[0], info.path.count("{"), info.methods)
            for info in iter_routes(app.routes)
        ]
        app.state.allow_table = table
    matching = [(params, served) for pattern, params, served in table if pattern.match(path)]
    # The path's own templates: /groups/import, not /groups/{group_id} with
    # "import" for an id (which only answers that it is not one).
    fewest = min((params for params, _ in matching), default=0)
    methods: set[str] = set()
    for params, served in matching:
        if params == fewest:
            methods |= served
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)
