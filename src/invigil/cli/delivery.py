"""`invigil invite` (README.md): invite a candidate, print the guest link."""

from __future__ import annotations

from typing import Annotated

import typer

from invigil.cli.base import _settings, cli, emit
from invigil.cli.database import _database


@cli.command()
def invite(
    tenant: Annotated[str, typer.Option(help="tenant slug")],
    exam: Annotated[str, typer.Option(help="a published exam: its id or slug")],
    email: Annotated[str, typer.Option(help="the candidate's email")],
    name: Annotated[str, typer.Option(help="the candidate's name")],
    valid_hours: Annotated[
        int | None, typer.Option(help="hours the link stays open (default 168)", min=1)
    ] = None,
    external_ref: Annotated[str, typer.Option(help="your own reference for the candidate")] = "",
) -> None:
    """Invite a candidate to a published exam; prints the guest link (shown only now)."""
    from invigil.db.uow import Actor
    from invigil.delivery import invitations
    from invigil.delivery.invitations import InviteRequest, Kit
    from invigil.tenants import service as tenants

    settings = _settings()
    db = _database()
    ref = tenants.require(db, tenant)
    with db.unit_of_work(ref.id, Actor.operator()) as uow:
        made = invitations.invite(
            uow,
            Kit.from_settings(settings),
            InviteRequest(
                name=name,
                email=email,
                exam=exam,
                external_ref=external_ref,
                valid_hours=valid_hours,
            ),
        )
    inv = made.invitation
    emit(
        {
            "link": made.link,
            "invitation_id": str(inv.id),
            "candidate_id": str(made.candidate.id),
            "exam_id": str(inv.exam_id),
            "exam_version": inv.exam_version,
            "opens_at": inv.opens_at.isoformat(),
            "closes_at": inv.closes_at.isoformat(),
        },
        made.link,
    )
