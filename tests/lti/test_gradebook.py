"""A released result reaches the platform's gradebook, the whole way: the
platform launches a learner, the learner takes the exam through the
candidate HTTP API as the player does, a staff member releases the result
through the staff API, and the queue's own worker runs ``lti.post_score``
against the test platform (retrying when its gradebook fails).

These tests commit (the worker reads the queue on its own connections), so
each uses a tenant of its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from invigil.app import create_app
from invigil.audit.models import AuditEvent
from invigil.db.engine import Database
from invigil.jobs.queue import make_app, run_worker
from invigil.lti import remote
from invigil.lti.models import LtiScorePost
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import bearer, make_tenant, make_user
from tests.delivery.test_attempts import begin, consent_form, item
from tests.lti.lti_platform import LTI, Platform, platform
from tests.lti.test_lti import launch, learner, prepared


@pytest.fixture(scope="module")
def lms() -> Iterator[Platform]:
    with platform() as running_lms:
        yield running_lms


@pytest.fixture
def tenant(database: Database, settings: Settings) -> Tenant:
    return make_tenant(database, settings)


@pytest.fixture
def app(settings: Settings, database: Database) -> FastAPI:
    remote.forget()
    lti_settings = settings.model_copy(update={"lti_allow_private": True, "lti_allow_http": True})
    return create_app(lti_settings, database, run_jobs=False)


def work_the_queue(app: FastAPI, database: Database) -> None:
    """The queue's worker, in process, until no ``lti`` job is due."""
    jobs = make_app(database.urls)
    asyncio.run(run_worker(jobs, database, app.state.services, queues=["lti"], wait=False))


def score_job(database: Database, post_id: uuid.UUID) -> dict[str, Any]:
    with database.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT id, status::text AS status, attempts,"
                " scheduled_at > now() + interval '50 seconds' AS later"
                " FROM procrastinate_jobs WHERE task_name = 'invigil:lti.post_score'"
                " AND args->>'post_id' = :p"
            ),
            {"p": str(post_id)},
        ).one()
        return dict(row._mapping)


def make_due(database: Database, job_id: int, attempts: int | None = None) -> None:
    """The retry's minute has passed (and, given, this many tries were made)."""
    with database.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE procrastinate_jobs SET scheduled_at = now(),"
                " attempts = coalesce(:a, attempts) WHERE id = :id"
            ),
            {"id": job_id, "a": attempts},
        )


def take_and_release(
    app: FastAPI, database: Database, tenant: Tenant, lms: Platform
) -> tuple[str, uuid.UUID]:
    """Launch, take the exam over HTTP answering right, release over the
    staff API; the line item's name and the score post queued."""
    key = prepared(app, database, tenant, lms)  # type: ignore[arg-type]
    item_name = lms.next_launch[LTI + "resource_link"]["id"]
    lms.person = learner()
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as player:
        r = launch(player, lms, key)
        assert r.status_code == 200, r.text
        take = next(p for p in r.text.split('"') if "/take/gl." in p)
        token = urlsplit(take).path.split("/take/", 1)[1]
        landing = player.get(f"/take/{token}")
        assert landing.status_code == 200, landing.text
        started = player.post(f"/take/{token}/start", data=consent_form(landing.text))
        assert started.status_code == 303, started.text
        assert player.get(f"/take/{token}/exam").status_code == 200
        state = begin(player, token)
        assert state.status_code == 200, state.text
        answers = [right_answer(i, q) for i, q in enumerate(state.json()["questions"])]
        saved = player.post(f"/take/{token}/api/answers", json={"items": answers})
        assert saved.status_code == 200, saved.text
        done = player.post(f"/take/{token}/api/submit", json={"items": []})
        assert done.status_code == 200 and done.json()["status"] == "submitted", done.text
        attempt_id = state.json()["attempt_id"]
    staff = make_user(database, tenant.id, ["tenant_admin"])
    with TestClient(app, raise_server_exceptions=False) as staff_client:
        released = staff_client.post(
            f"/api/v1/attempts/{attempt_id}/releases", headers=bearer(app, database, staff)
        )
    assert released.status_code == 200, released.text
    with database.unit_of_work(tenant.id) as uow:
        post = uow.scalar(select(LtiScorePost))
        assert post is not None and post.status == "pending"
        return item_name, post.id


def right_answer(index: int, question: dict[str, Any]) -> dict[str, Any]:
    """What a learner who knows the answers picks on the page: Paris among
    the choices as shown, and "true" that water boils at 100 C."""
    if question["type"] == "single_choice":
        shown = [str(c) for c in question["body"]["choices"]]
        return item(index, next(i for i, c in enumerate(shown) if "Paris" in c), index + 1)
    assert question["type"] == "true_false", question
    return item(index, True, index + 1)


def scores_for(lms: Platform, subject: str) -> list[dict[str, Any]]:
    return [s for s in lms.gradebook if s["userId"] == subject]


def actions(database: Database, tenant: Tenant, action: str) -> list[dict[str, Any]]:
    with database.unit_of_work(tenant.id) as uow:
        return list(
            uow.scalars(
                select(AuditEvent.payload)
                .where(AuditEvent.action == action)
                .order_by(AuditEvent.seq)  # in the order written: tests read the last one
            )
        )


def test_a_result_taken_and_released_over_http_reaches_the_gradebook_by_the_worker(
    app: FastAPI, database: Database, tenant: Tenant, lms: Platform
) -> None:
    _, post_id = take_and_release(app, database, tenant, lms)
    assert scores_for(lms, lms.person["sub"]) == []  # nothing is sent before the worker runs
    work_the_queue(app, database)
    [score] = scores_for(lms, lms.person["sub"])
    assert score["scoreGiven"] == score["scoreMaximum"] == 2
    assert score["activityProgress"] == "Completed" and score["gradingProgress"] == "FullyGraded"
    assert score_job(database, post_id)["status"] == "succeeded"
    with database.unit_of_work(tenant.id) as uow:
        row = uow.get(LtiScorePost, post_id)
        assert (row.status, row.tries) == ("posted", 1)
    assert [p["score_given"] for p in actions(database, tenant, "lti.score_posted")] == [2]


def test_a_failing_gradebook_is_tried_again_a_minute_later(
    app: FastAPI, database: Database, tenant: Tenant, lms: Platform
) -> None:
    item_name, post_id = take_and_release(app, database, tenant, lms)
    lms.failing_scores[item_name] = 1
    work_the_queue(app, database)
    job = score_job(database, post_id)
    assert (job["status"], job["attempts"], job["later"]) == ("todo", 1, True)
    with database.unit_of_work(tenant.id) as uow:
        row = uow.get(LtiScorePost, post_id)
        assert (row.status, row.tries) == ("pending", 1) and "500" in row.last_error
    assert scores_for(lms, lms.person["sub"]) == []
    make_due(database, job["id"])
    work_the_queue(app, database)
    assert len(scores_for(lms, lms.person["sub"])) == 1
    assert score_job(database, post_id)["status"] == "succeeded"
    with database.unit_of_work(tenant.id) as uow:
        row = uow.get(LtiScorePost, post_id)
        assert (row.status, row.tries) == ("posted", 2)
    assert actions(database, tenant, "lti.score_failed") == []


def test_the_fifth_failure_is_the_last_and_is_audited(
    app: FastAPI, database: Database, tenant: Tenant, lms: Platform
) -> None:
    """The job reads procrastinate's own count of earlier tries
    (``context.job.attempts``): at four, this run is the last."""
    item_name, post_id = take_and_release(app, database, tenant, lms)
    lms.failing_scores[item_name] = 1
    make_due(database, score_job(database, post_id)["id"], attempts=4)
    work_the_queue(app, database)
    assert score_job(database, post_id)["status"] == "failed"
    with database.unit_of_work(tenant.id) as uow:
        row = uow.get(LtiScorePost, post_id)
        assert row.status == "failed"
    [failed] = actions(database, tenant, "lti.score_failed")
    assert failed["reason"] == "platform_answer"
    assert scores_for(lms, lms.person["sub"]) == []
