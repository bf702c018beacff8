"""The child process of tests/ledger/test_faults.py: its own Python, its own
connections, inviting candidates and starting their attempts in a loop
through the real code paths until it is killed. One line on stdout after
each step, and one inside each transaction (after each flush, before each
commit), so the parent's kills land between steps and within them."""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import invigil.proctoring  # noqa: F401 - registers the proctor attempts ask for their level
from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.db.urls import DatabaseUrls
from invigil.delivery import attempts, invitations
from invigil.delivery.invitations import InviteRequest
from invigil.delivery.landing import consent_text
from invigil.delivery.models import Attempt, Invitation
from invigil.settings import Settings
from tests.delivery.factories import kit_for


def main(spec: dict[str, str]) -> None:
    urls = DatabaseUrls(*(make_url(spec[k]) for k in ("admin", "owner", "app")))
    db = Database.connect(urls, pool_size=2, max_overflow=0)
    kit = kit_for(Settings(home=Path(spec["home"])))
    tenant, exam = uuid.UUID(spec["tenant"]), spec["exam"]
    actor = Actor.operator("fault-child")
    event.listen(Session, "after_flush", lambda *_: print("flushed", flush=True))
    event.listen(Session, "before_commit", lambda *_: print("committing", flush=True))
    while True:
        with db.unit_of_work(tenant, actor) as uow:
            req = InviteRequest(name="Cand Idate", email=f"c{uuid.uuid4().hex[:10]}@example.org",
                                exam=exam)  # fmt: skip
            invitation_id = invitations.invite(uow, kit, req).invitation.id
        print("invited", invitation_id, flush=True)
        with db.unit_of_work(tenant, actor) as uow:
            invitation = uow.get(Invitation, invitation_id)
            version = attempts.version_of(uow, invitation.exam_id, invitation.exam_version)
            words = consent_text(version)
            started = attempts.start(
                uow, kit.key, invitation, version, consent_text=words, consent_language="en",
                shown_sha256=attempts.text_sha256(words), shown_language="en",
                browser=attempts.Browser(),
            )  # fmt: skip
            started.attempt.face_seen_at = datetime.now(UTC)
            attempt_id = started.attempt.id
        print("ready", attempt_id, flush=True)
        with db.unit_of_work(tenant, actor) as uow:
            attempt = uow.get(Attempt, attempt_id)
            invitation = uow.get(Invitation, invitation_id)
            version = attempts.version_of(uow, invitation.exam_id, invitation.exam_version)
            attempts.begin(uow, attempt, version, invitation)
        print("started", attempt_id, flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
