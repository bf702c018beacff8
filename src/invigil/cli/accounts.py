"""`invigil tenant ...` and `invigil user ...` (operator tooling)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from invigil.cli.base import _settings, cli, emit
from invigil.cli.database import _database

tenant_cli = typer.Typer(no_args_is_help=True, help="Tenants (operator).")
user_cli = typer.Typer(no_args_is_help=True, help="Staff users.")
cli.add_typer(tenant_cli, name="tenant")
cli.add_typer(user_cli, name="user")


@tenant_cli.command("create")
def tenant_create(
    slug: str,
    name: Annotated[str, typer.Option(help="display name")],
    region: Annotated[str, typer.Option(help="region the tenant's data is pinned to")],
) -> None:
    """Create a tenant pinned to a region; prints its id."""
    from invigil.tenants import service

    settings = _settings()
    db = _database()
    tenant = service.create_tenant(
        db, slug=slug, name=name, region=region, regions=settings.regions
    )
    emit({"id": str(tenant.id), "slug": tenant.slug, "region": tenant.region}, str(tenant.id))


@tenant_cli.command("list")
def tenant_list() -> None:
    """List all tenants."""
    from invigil.tenants import service

    rows = [
        {"id": str(t.id), "slug": t.slug, "name": t.name, "region": t.region}
        for t in service.list_tenants(_database())
    ]
    emit(
        {"items": rows},
        "\n".join(f"{r['slug']:<20} {r['region']:<14} {r['id']}  {r['name']}" for r in rows)
        or "no tenants",
    )


@user_cli.command("create")
def user_create(
    tenant: Annotated[str, typer.Option(help="tenant slug")],
    email: Annotated[str, typer.Option()],
    role: Annotated[list[str], typer.Option(help="a role name; repeat for several")],
    name: Annotated[str, typer.Option(help="display name")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Create a staff user. Without --password-stdin the user is invited: the
    command prints a one-time link (valid 7 days) to set the password."""
    from invigil.db.uow import Actor
    from invigil.identity import service as identity
    from invigil.tenants import service as tenants

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    db = _database()
    ref = tenants.require(db, tenant)
    link = None
    with db.unit_of_work(ref.id, Actor.operator()) as uow:
        if password is None:
            user, secret = identity.invite_user(uow, email=email, roles=role, display_name=name)
            link = f"{_settings().issuer}/account/set-password?token={secret}"
        else:
            user = identity.create_user(
                uow, email=email, roles=role, password=password, display_name=name
            )
    emit(
        {
            "id": str(user.id),
            "tenant": ref.slug,
            "email": user.email,
            "roles": role,
            "status": user.status,
            "link": link,
        },
        str(user.id) + (f"\nset-password link (valid 7 days): {link}" if link else ""),
    )
