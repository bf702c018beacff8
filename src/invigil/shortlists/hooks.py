"""What the shortlists domain registers at start-up: its two events as
webhook events, and the webhook outbox as the hook that hears them
(:mod:`invigil.shortlists.announce`), so an applicant tracking system
subscribed to ``shortlist.completed`` or ``stage.changed`` gets exactly the
payloads of docs/formats/shortlist-events.md, sent only if the change
commits."""

from __future__ import annotations

from invigil import webhooks
from invigil.shortlists import announce

DESCRIPTIONS = {
    "shortlist.completed": "A shortlist run ranked its cohort (ids, counts and ranks).",
    "stage.changed": "A shortlisted candidate moved to another stage (who, when, from, to).",
}


def install() -> None:
    for name in announce.EVENTS:
        webhooks.register(name, DESCRIPTIONS[name])
    announce.register(webhooks.emit)
