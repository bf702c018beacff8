"""What the shortlists domain registers at start-up: its two events as
webhook events, and the webhook outbox as the hook that hears them
(:mod:`invigil.shortlists.announce`), so an applicant tracking system
subscribed to ``shortlist.completed`` or ``stage.changed`` gets exactly the
payloads of docs/formats/shortlist-events.md, sent only if the change
commits; and the evidence bundle of a run (:mod:`invigil.shortlists.bundle`,
kind ``shortlist``) with the finder that says who may ask for one."""

from __future__ import annotations

import uuid
from typing import Any

from invigil import webhooks
from invigil.audit import bundle, bundle_registry
from invigil.db.uow import UnitOfWork
from invigil.errors import NotFound
from invigil.shortlists import announce

DESCRIPTIONS = {
    "shortlist.completed": "A shortlist run ranked its cohort (ids, counts and ranks).",
    "stage.changed": "A shortlisted candidate moved to another stage (who, when, from, to).",
}


def install() -> None:
    for name in announce.EVENTS:
        webhooks.register(name, DESCRIPTIONS[name])
    announce.register(to_webhooks)
    bundle.register("shortlist", build_run_bundle)
    bundle_registry.register_subject("shortlist", run_subject)


def to_webhooks(uow: UnitOfWork, event: str, data: dict[str, Any]) -> None:
    """The webhook outbox as the announce hook, naming whom each event is about."""
    webhooks.emit(uow, event, data, announce.people(data))


def build_run_bundle(
    uow: UnitOfWork, run_id: uuid.UUID, writer: bundle.BundleWriter, options: bundle.Options
) -> None:
    """The run's evidence bundle (imported on first use, like the attempt's)."""
    from invigil.shortlists.bundle import build_run

    build_run(uow, run_id, writer, options)


def run_subject(uow: UnitOfWork, run_id: uuid.UUID) -> str:
    """A run as the subject of an evidence bundle. The bundle routes need
    result:view (the shortlister holds it); a run is seen only by a user who
    also holds shortlist:view, so a results viewer without it finds no run
    here, as no other tenant's run is found (RLS). The build job and the
    command line (no user) see every run of their tenant."""
    from invigil.identity import service as identity
    from invigil.security.permissions import Permission
    from invigil.shortlists.models import Run

    if uow.actor.kind == "user":
        held = identity.permissions_of(identity.roles_of(uow, uuid.UUID(uow.actor.id)))
        if Permission.SHORTLIST_VIEW.value not in held:
            raise NotFound(f"shortlist {run_id} was not found")
    run = uow.get(Run, run_id, label="shortlist")
    return f"shortlist {str(run.id)[:8]}"
