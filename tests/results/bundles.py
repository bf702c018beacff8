"""A real attempt with everything a bundle holds, and ZIP surgery for the
tampering tests."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from invigil.audit import bundle_proofs
from invigil.audit.bundle import Options
from invigil.context import Services
from invigil.db.uow import Actor
from invigil.delivery import attempts
from invigil.delivery.demo import sit_down
from invigil.delivery.models import Attempt
from invigil.evidence import service as evidence_service
from invigil.proctoring import pipeline
from invigil.results import grading
from invigil.results.schemas import CriterionMarkIn, MarkIn
from invigil.settings import Settings
from tests.conftest import BoundDatabase, make_tenant, make_user
from tests.delivery.factories import kit_for, make_invitation
from tests.evidence.factories import jpeg, webm
from tests.proctoring.test_pipeline import Chain
from tests.results.factories import ESSAY_ANSWER, graded_exam
from tests.results.helpers import FLAGGING, review


@dataclass(frozen=True)
class Sitting:
    tenant_id: uuid.UUID
    attempts: list[uuid.UUID]
    snapshot: bytes  # the first attempt's snapshot, as the camera took it


def sit_one(db: BoundDatabase, settings: Settings, tenant_id: uuid.UUID, exam: uuid.UUID,
            services: Services, image: bytes, short: str) -> uuid.UUID:  # fmt: skip
    """Sit down (delivery.demo), answer, switch tabs (a flag), take a
    snapshot and a screen segment, submit."""
    kit = kit_for(settings)
    invitation = make_invitation(db, tenant_id, kit, exam).invitation
    actor = Actor("candidate", str(invitation.candidate_id))
    began = datetime.now(UTC) - timedelta(minutes=30)
    with db.unit_of_work(tenant_id, actor) as uow:
        attempt = sit_down(uow, kit, invitation, began, attempts.Browser("test", "pytest"))
        answers = {0: 1, 1: ESSAY_ANSWER, 2: short}
        items = [
            attempts.Item(i, r, n + 1, time_ms=1000) for n, (i, r) in enumerate(answers.items())
        ]
        attempts.save(uow, attempt, items, now=began + timedelta(minutes=5))
        chain = Chain(str(attempt.id))
        at = began + timedelta(minutes=6)
        sent = [
            chain.message("tab.hidden", "start", at),
            chain.message("tab.hidden", "end", at + timedelta(seconds=5), ends=1),
        ]
        pipeline.ingest(uow, attempt, [pipeline.Message(**m) for m in sent], at)
        for kind, data in (("snapshot", image), ("recording_chunk", webm(6000))):
            evidence_service.store(
                uow, services.evidence, subject_type="attempt", subject_id=str(attempt.id),
                kind_name=kind, data=[data[:2000], data[2000:]],
            )  # fmt: skip
        attempts.submit(uow, attempt, "candidate", now=began + timedelta(minutes=10))
        return attempt.id


def sitting(db: BoundDatabase, settings: Settings, services: Services, n: int = 2) -> Sitting:
    """``n`` attempts, the essay and short answer marked, the flag reviewed."""
    tenant = make_tenant(db, settings)
    exam = graded_exam(db, tenant.id, proctoring_policy=FLAGGING)
    image = jpeg(5000)
    done = [sit_one(db, settings, tenant.id, exam, services, image, f"Bonn {i}") for i in range(n)]
    grader = make_user(db, tenant.id, ["grader"])
    reviewer = make_user(db, tenant.id, ["proctor_reviewer"])
    essay = MarkIn(
        criteria=[
            CriterionMarkIn(criterion="Argument: structure", level="Strong = clear"),
            CriterionMarkIn(criterion="Language", level="Good"),
        ]
    )
    with db.unit_of_work(tenant.id, Actor("user", str(grader.id))) as uow:
        grading.submit_mark(uow, done[0], 1, essay)
        grading.submit_mark(uow, done[0], 2, MarkIn(points=Decimal("0.5"), comment="near"))
    review(db, tenant.id, reviewer.id, done[0], "confirmed", "cleared")
    return Sitting(tenant.id, done, image)


def build(db: BoundDatabase, services: Services, tenant_id: uuid.UUID, attempt_id: uuid.UUID,
          *, show: bool = True) -> bytes:  # fmt: skip
    sink = io.BytesIO()
    with db.unit_of_work(tenant_id, Actor.operator()) as uow:
        assert uow.get(Attempt, attempt_id).status == "submitted"
        options = Options(show_evidence=show, services=services)
        bundle_proofs.build(uow, services.keys.audit, "attempt", attempt_id, sink, options)
    return sink.getvalue()


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {name: z.read(name) for name in z.namelist()}


def rezip(data: bytes, change: dict[str, bytes | None]) -> bytes:
    """The bundle with members replaced (bytes), removed (None) or added."""
    out = io.BytesIO()
    found = members(data)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in {**found, **change}.items():
            if content is not None:
                z.writestr(name, content)
    return out.getvalue()


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def edit_manifest(data: bytes, edit: Callable[[dict[str, Any]], None]) -> bytes:
    """Change the manifest and write it back canonically (a careful forger)."""
    manifest = json.loads(members(data)["manifest.json"])
    edit(manifest)
    return rezip(data, {"manifest.json": canonical(manifest)})
