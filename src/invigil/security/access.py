"""How a route declares who may call it.

Every route declares exactly one permission, or says it is public with the
``Public`` dependency. The test suite walks the app and fails on a route
that declares neither (the identity issue adds ``requires(Permission.X)``,
whose dependency carries ``__permission__`` the same way).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import Depends
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

PUBLIC = "public"


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
