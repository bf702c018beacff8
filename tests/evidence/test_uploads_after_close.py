"""Evidence queued in the browser when the server ends the attempt (the
proctoring policy's auto-submit, the deadline job) may still drain: for the
attempt's grace period after the close, and only evidence captured before
it. A candidate's own submit closes uploads at once (the browser flushed
before it submitted)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import httpx
import pytest
from fastapi import FastAPI

from invigil.delivery import attempts
from invigil.delivery.models import Attempt
from invigil.evidence.kinds import MiB
from invigil.evidence.service import Evidence
from invigil.settings import Settings
from tests.conftest import BoundDatabase
from tests.evidence.conftest import folder_bytes
from tests.evidence.factories import jpeg, make_evidence, webm
from tests.evidence.test_candidate_uploads import Taker, objects, pieces, problem_type
from tests.proctoring.test_pipeline import Chain, custom, rule, send

GRACE = 120


@pytest.fixture
def evidence(app: FastAPI, tmp_path: Path) -> Evidence:
    ev = make_evidence(tmp_path)
    app.state.services.evidence = ev
    return ev


@pytest.fixture
def taker(app: FastAPI, db: BoundDatabase, settings: Settings, evidence: Evidence) -> Taker:
    policy = custom(rule("devtools-end", "devtools.open", "auto_submit", severity="critical"))
    policy["detectors"] = policy["detectors"] | {"screen": True}  # consent to recordings
    return Taker(
        app,
        db,
        settings,
        proctoring_policy=policy,
        time_limit_minutes=10,
        offline_grace_seconds=GRACE,
    )


def auto_submit(db: BoundDatabase, taker: Taker) -> datetime:
    """Devtools opened under a policy that ends the attempt for it."""
    chain = Chain(taker.attempt_id)
    answer = send(
        taker.client,
        taker.token,
        chain.message("devtools.open", "start", datetime.now(UTC), techniques=["size"]),
    )
    assert answer["status"] == "submitted"
    return closed_at(db, taker, "proctoring")


def closed_at(db: BoundDatabase, taker: Taker, reason: str) -> datetime:
    with db.unit_of_work(taker.tenant_id) as uow:
        attempt = uow.get(Attempt, uuid.UUID(taker.attempt_id))
        assert (attempt.status, attempt.submit_reason) == ("submitted", reason)
        assert attempt.submitted_at is not None
        return attempt.submitted_at


def snapshot(taker: Taker, taken_at: datetime | None) -> httpx.Response:
    query = {"taken_at": taken_at.isoformat()} if taken_at else {}
    r: httpx.Response = taker.client.post(
        f"{taker.api}/evidence/snapshot",
        params=query,
        content=jpeg(),
        headers={"content-type": "image/jpeg"},
    )
    return r


def move_close(db: BoundDatabase, taker: Taker, ago: int) -> datetime:
    """Pretend the attempt was closed `ago` seconds ago."""
    with db.unit_of_work(taker.tenant_id) as uow:
        attempt = uow.get(Attempt, uuid.UUID(taker.attempt_id))
        attempt.submitted_at = datetime.now(UTC) - timedelta(seconds=ago)
        return attempt.submitted_at


def closed(r: httpx.Response) -> bool:
    return r.status_code == 409 and problem_type(r) == "attempt-closed"


def test_after_an_auto_submit_evidence_of_the_exam_drains_within_grace(
    db: BoundDatabase, taker: Taker
) -> None:
    upload = taker.begin().json()  # a recording segment in flight as the attempt ends
    assert taker.chunk(upload["id"], 0, webm(5_000)).status_code == 201
    at = auto_submit(db, taker)

    before = snapshot(taker, at - timedelta(seconds=5))
    assert before.status_code == 201, before.text
    assert taker.chunk(upload["id"], 1, webm(5_000)).status_code == 201
    done = taker.complete(upload["id"])
    assert done.status_code == 200, done.text
    segment = taker.client.post(
        f"{taker.api}/recording/segments",
        json={
            "segment_index": 0,
            "object_id": done.json()["id"],
            "started_at": (at - timedelta(seconds=30)).isoformat(),
            "ended_at": at.isoformat(),
        },
    )
    assert segment.status_code == 201, segment.text
    fresh = taker.begin()
    assert fresh.status_code == 201, fresh.text  # a queued segment not yet begun
    assert len(objects(db, taker)) == 2


def test_evidence_captured_after_the_close_is_refused(db: BoundDatabase, taker: Taker) -> None:
    auto_submit(db, taker)
    at = move_close(db, taker, ago=30)
    after = snapshot(taker, at + timedelta(seconds=10))
    assert after.status_code == 422 and problem_type(after) == "invalid", after.text
    untimed = snapshot(taker, None)  # recorded as taken now, which is after the close
    assert untimed.status_code == 422, untimed.text
    # A moment's clock skew between the browser and the server is forgiven.
    assert snapshot(taker, at + timedelta(seconds=1)).status_code == 201
    assert len(objects(db, taker)) == 1


def test_nothing_is_taken_once_the_grace_after_the_close_is_over(
    db: BoundDatabase, taker: Taker
) -> None:
    upload = taker.begin().json()
    assert taker.chunk(upload["id"], 0, webm(5_000)).status_code == 201
    auto_submit(db, taker)
    at = move_close(db, taker, ago=GRACE - 10)
    assert snapshot(taker, at - timedelta(seconds=1)).status_code == 201
    at = move_close(db, taker, ago=GRACE + 1)
    for r in (
        snapshot(taker, at - timedelta(seconds=1)),
        taker.begin(),
        taker.chunk(upload["id"], 1, webm(5_000)),
        taker.complete(upload["id"]),
    ):
        assert closed(r), r.text
    assert len(objects(db, taker)) == 1


def test_after_the_deadline_job_closes_it_queued_evidence_still_lands(
    db: BoundDatabase, taker: Taker
) -> None:
    with db.unit_of_work(taker.tenant_id) as uow:
        attempt = uow.get(Attempt, uuid.UUID(taker.attempt_id))
        attempt.deadline = datetime.now(UTC) - timedelta(seconds=GRACE + 5)
        attempt.started_at = attempt.deadline - timedelta(minutes=30)  # a 30-minute exam
    taken = datetime.now(UTC) - timedelta(seconds=GRACE + 10)  # before the deadline
    assert attempts.close_due(db) == 1
    at = closed_at(db, taker, "deadline")
    assert snapshot(taker, taken).status_code == 201
    assert snapshot(taker, at + timedelta(seconds=30)).status_code == 422


def test_a_candidates_own_submit_closes_uploads_at_once(db: BoundDatabase, taker: Taker) -> None:
    upload = taker.begin().json()
    assert taker.chunk(upload["id"], 0, webm(5_000)).status_code == 201
    assert taker.client.post(f"{taker.api}/submit", json={}).status_code == 200
    at = closed_at(db, taker, "candidate")
    for r in (
        snapshot(taker, at - timedelta(seconds=5)),
        taker.begin(),
        taker.chunk(upload["id"], 1, webm(5_000)),
        taker.complete(upload["id"]),
    ):
        assert closed(r), r.text
    assert objects(db, taker) == []


@pytest.mark.parametrize(("closed_ago", "status"), [(0, 201), (30, 422)])
def test_the_re_read_under_lock_applies_the_same_rule(
    db: BoundDatabase, taker: Taker, tmp_path: Path, closed_ago: int, status: int
) -> None:
    """The policy ends the attempt while a snapshot streams in: the upload
    is judged against the close it waited for, not the open attempt it began on."""
    taken = datetime.now(UTC)

    async def body() -> AsyncIterator[bytes]:
        for n, piece in enumerate(pieces(jpeg(3 * MiB), MiB)):
            if n == 1:
                with db.unit_of_work(taker.tenant_id) as uow:
                    attempt = uow.get(Attempt, uuid.UUID(taker.attempt_id))
                    closed = taken - timedelta(seconds=closed_ago)
                    attempts.submit(uow, attempt, "proctoring", now=closed)
            yield piece

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=taker.client.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", cookies=taker.client.cookies
        ) as client:
            return await client.post(
                f"{taker.api}/evidence/snapshot",
                params={"taken_at": taken.isoformat()},
                content=body(),
            )

    r = anyio.run(post)
    assert r.status_code == status, r.text
    kept = objects(db, taker)
    assert len(kept) == (1 if status == 201 else 0)
    if status != 201:
        assert folder_bytes(tmp_path / "objects") == {}
