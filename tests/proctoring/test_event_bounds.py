"""What a candidate's browser sends about the exam is bounded at the edge:
numbers to what the columns hold, text to what PostgreSQL stores, times to
the attempt's window (with pipeline.CLOCK_TOLERANCE). Each bad item is that
item's rejection with its reason; nothing else in its batch, nor any other
candidate's batch written in the same transaction, is hurt."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from invigil.db.engine import Database
from invigil.delivery.models import Attempt
from invigil.evidence.service import Evidence
from invigil.proctoring.models import ProctoringEvent, Snapshot
from invigil.settings import Settings
from tests.conftest import BoundDatabase, make_tenant
from tests.delivery.factories import exam_with_every_type, kit_for, make_invitation, token_of
from tests.delivery.test_attempts import begun
from tests.delivery.test_candidate_requests import _gathered_app, _together
from tests.evidence.factories import jpeg, make_evidence
from tests.proctoring.test_pipeline import Chain, statuses
from tests.proctoring.test_recheck import Candidate

TOLERANCE = timedelta(minutes=2)  # the documented clock tolerance (docs/candidate-api.md)


def raw(chain: Chain, body: str) -> dict[str, Any]:
    """A message whose body is exactly ``body``."""
    chain.seq += 1
    digest = hashlib.sha256((chain.prev + body).encode()).hexdigest()
    out = {"seq": chain.seq, "body": body, "prev": chain.prev, "hash": digest}
    chain.prev = digest
    return out


def hostile(chain: Chain, now: datetime) -> list[tuple[dict[str, Any], str]]:
    """One bad message of each kind, with the words its rejection says (a
    lone surrogate in a body refuses the batch: its model takes only text)."""
    start = chain.message("tab.hidden", "start", now)
    return [
        (start, ""),
        (chain.message("tab.hidden", "end", now, ends=10**20), "ends (1 to"),
        (chain.message("clipboard.copy", "instant", now, text="a\x00b"), "details.text"),
        (chain.message("clipboard.copy", "instant", datetime(9999, 1, 1, tzinfo=UTC)), "at is after"),
        (chain.message("clipboard.copy", "instant", datetime(1999, 1, 1, tzinfo=UTC)), "at is before"),
        (raw(chain, '{"kind": "clipboard.copy", "phase": "instant"}\x00'), "the body must not"),
    ]  # fmt: skip


def test_each_bad_event_is_its_own_rejection_with_its_reason(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    who = Candidate(app, db, settings)
    now = datetime.now(UTC)
    sent = hostile(who.chain, now)
    ok = who.chain.message("clipboard.copy", "instant", now)
    edge = who.chain.message("clipboard.copy", "instant", now + TOLERANCE - timedelta(seconds=5))
    r = who.client.post(
        f"{who.api}/events",
        content=json.dumps({"events": [m for m, _ in sent] + [ok, edge]}),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["stored"] + ["rejected"] * 5 + ["stored"] * 2
    for (_, words), got in zip(sent[1:], results[1:6], strict=True):
        assert words in got["reason"], got
    with db.unit_of_work(who.tenant_id) as uow:
        seqs = uow.scalars(
            select(ProctoringEvent.seq).where(ProctoringEvent.attempt_id == who.attempt_id)
        )
        attempt = uow.get(Attempt, who.attempt_id)
        assert sorted(seqs) == [1, 7, 8]
        assert (attempt.events_last_seq, attempt.events_head) == (8, edge["hash"])


def test_a_bad_batch_never_spoils_the_other_batches_written_with_it(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six browsers' batches gather behind a first: four hold one hostile
    message each (an oversized ends, a NUL, a time in 9999 or 1999) beside a
    good one. Nothing is rolled back or written again
    alone; each good message is stored, each bad one rejected; the batches
    dated outside their attempt take the general path, alone."""
    gathered = _gathered_app(database, settings, monkeypatch)
    tenant = make_tenant(database, settings)
    exam = exam_with_every_type(database, tenant.id)
    people = []
    for _ in range(6):
        token = token_of(make_invitation(database, tenant.id, kit_for(settings), exam))
        client, state = begun(gathered, token)
        people.append(
            (token, dict(client.cookies), Chain(state["attempt_id"]), state["attempt_id"])
        )
    now = datetime.now(UTC)
    sends, expected = [], []
    first_token, first_cookies, first_chain, _ = people[0]
    sends.append(
        (first_token, first_cookies, {"events": [first_chain.message("focus.lost", "start", now)]})
    )
    expected.append(["stored"])
    for n, (token, cookies, chain, _) in enumerate(people[1:]):
        good = chain.message("clipboard.copy", "instant", now)
        if n == 0:
            batch = [good, chain.message("clipboard.paste", "instant", now)]
            expected.append(["stored", "stored"])
        else:
            bad = hostile(chain, now)[n]
            batch = [good, bad[0]]
            expected.append(["stored", "rejected"])
        sends.append((token, cookies, {"events": batch}))
    answers = asyncio.run(_together(gathered, sends))
    assert [r.status_code for r in answers] == [200] * 6, [r.text for r in answers]
    assert [statuses(r.json()) for r in answers] == expected
    # The first alone, the five behind it together; none rolled back and retried.
    assert gathered.state.group_sizes == [1, 5]
    for (*_, attempt_id), told in zip(people, expected, strict=True):
        with database.unit_of_work(tenant.id) as uow:
            attempt = uow.get(Attempt, uuid.UUID(attempt_id))
            stored = uow.scalars(
                select(ProctoringEvent.seq).where(ProctoringEvent.attempt_id == attempt.id)
            )
        assert sorted(stored) == [n + 1 for n, s in enumerate(told) if s == "stored"]
        assert attempt.events_last_seq == max(stored)


@pytest.fixture
def evidence(app: FastAPI, tmp_path: Path) -> Evidence:
    ev = make_evidence(tmp_path)
    app.state.services.evidence = ev
    return ev


def test_snapshots_are_dated_within_the_attempt(
    app: FastAPI, db: BoundDatabase, settings: Settings, evidence: Evidence
) -> None:
    who = Candidate(app, db, settings, proctoring_preset="standard")  # consents to snapshots
    photo = jpeg()
    for when, words in (
        (datetime(1999, 1, 1, tzinfo=UTC), "taken_at is before the exam started"),
        (datetime(9999, 1, 1, tzinfo=UTC), "taken_at is after"),
        (datetime.now(UTC) + 2 * TOLERANCE, "taken_at is after"),
    ):
        r = who.snapshot(photo, taken_at=when.isoformat())
        assert r.status_code == 422 and words in r.json()["detail"], r.text
    r = who.snapshot(photo, taken_at=datetime.now(UTC).isoformat(), event_seq=2**63 - 1)
    assert r.status_code == 422 and "event_seq" in r.text
    r = who.snapshot(photo, taken_at=(datetime.now(UTC) - timedelta(seconds=1)).isoformat())
    assert r.status_code == 201, r.text
    with db.unit_of_work(who.tenant_id) as uow:
        assert len(uow.scalars(select(Snapshot).where(Snapshot.attempt_id == who.attempt_id))) == 1


def test_answers_with_a_nul_are_rejected_and_the_rest_saved(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    who = Candidate(app, db, settings)
    items = [
        {"index": 3, "response": "2\x00", "seq": 1},
        {"index": 4, "response": "a\x00b", "seq": 2},
        {"index": 2, "response": True, "seq": 3},
    ]
    r = who.client.post(f"{who.api}/answers", json={"items": items})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["rejected", "rejected", "saved"]
    assert all("NUL" in x["reason"] for x in results[:2])
