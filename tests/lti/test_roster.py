"""Roster sync (Names and Role Provisioning Services 2.0): an administrator
asks over the API, the queue's worker reads the test platform's paged
membership container and invites the course's active learners who have no
invitation from the link yet. Committed, one tenant per test (the worker
reads on its own connections)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from invigil.db.engine import Database
from invigil.delivery.models import Invitation, OutboxMail
from invigil.lti import platforms
from invigil.lti.models import LtiAccount, LtiLink, LtiSeat
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import bearer, make_tenant, make_user
from tests.lti import test_gradebook
from tests.lti.lti_platform import INSTRUCTOR, LEARNER, Platform, platform
from tests.lti.test_gradebook import actions, work_the_queue
from tests.lti.test_lti import launch, learner, prepared

app = test_gradebook.app  # committed, as the worker needs
tenant = test_gradebook.tenant  # one of its own per test


@pytest.fixture(scope="module")
def lms() -> Iterator[Platform]:
    with platform() as running_lms:
        yield running_lms


def launched(
    app: FastAPI, database: Database, tenant: Tenant, lms: Platform, *, roster_sync: bool = True
) -> tuple[str, str, dict[str, str]]:
    """A registration, a link launched once by a learner with the NRPS claim:
    the platform's and link's ids and an administrator's headers."""
    key = prepared(app, database, tenant, lms, roster_sync=roster_sync)  # type: ignore[arg-type]
    lms.next_launch |= lms.nrps_claim()
    lms.person = learner()
    with TestClient(app, raise_server_exceptions=False) as c:
        assert launch(c, lms, key).status_code == 200
    with database.unit_of_work(tenant.id) as uow:
        row = platforms.by_public_key(uow, key)
        assert row is not None
        link = uow.scalar(select(LtiLink).where(LtiLink.platform_id == row.id))
        assert link is not None and link.memberships_url == f"{lms.base}/memberships"
        ids = str(row.id), str(link.id)
    admin = make_user(database, tenant.id, ["tenant_admin"])
    return *ids, bearer(app, database, admin)


def sync(app: FastAPI, platform_id: str, link_id: str, headers: dict[str, str], **body: Any) -> Any:
    with TestClient(app, raise_server_exceptions=False) as c:
        return c.post(
            f"/api/v1/lti/platforms/{platform_id}/links/{link_id}/roster-sync",
            json=body,
            headers=headers,
        )


def seats(database: Database, tenant: Tenant) -> dict[str, str]:
    """Each seated learner's platform id and invitation status."""
    with database.unit_of_work(tenant.id) as uow:
        rows = uow.session.execute(
            select(LtiAccount.subject, Invitation.status)
            .join(LtiSeat, LtiSeat.account_id == LtiAccount.id)
            .join(Invitation, LtiSeat.invitation_id == Invitation.id)
        )
        return {subject: status for subject, status in rows}


def test_a_sync_reads_every_page_and_invites_only_active_learners_once(
    app: FastAPI, database: Database, tenant: Tenant, lms: Platform
) -> None:
    platform_id, link_id, headers = launched(app, database, tenant, lms)
    launched_sub = lms.person["sub"]
    tag = uuid.uuid4().hex[:6]
    lms.roster = [
        lms.member(launched_sub),  # already seated by the launch
        lms.member(f"a-{tag}"),
        lms.member(f"b-{tag}", "Learner"),  # the short role form
        lms.member(f"teacher-{tag}", INSTRUCTOR),
        lms.member(f"gone-{tag}", status="Inactive"),
        lms.member(f"c-{tag}", LEARNER, INSTRUCTOR),  # a teaching assistant enrolled too
        {"user_id": f"nomail-{tag}", "roles": [LEARNER]},
    ]
    lms.roster_reads.clear()
    r = sync(app, platform_id, link_id, headers)
    assert r.status_code == 202 and r.json() == {"link_id": link_id, "queued": True}, r.text
    work_the_queue(app, database)
    assert [read["page"] for read in lms.roster_reads] == ["", "1", "2", "3"]
    assert {read["accept"] for read in lms.roster_reads} == {
        "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
    }
    invited = seats(database, tenant)
    assert set(invited) == {s for s in (launched_sub, f"a-{tag}", f"b-{tag}", f"c-{tag}")}
    [done] = actions(database, tenant, "lti.roster_synced")
    assert done == {"invited": 3, "already": 1, "inactive": 1, "not_learner": 1, "no_email": 1}
    [asked] = actions(database, tenant, "lti.roster_sync_requested")
    assert asked["send_mail"] is False
    with database.unit_of_work(tenant.id) as uow:
        assert uow.scalars(select(OutboxMail)) == []  # no mail unless asked

    # Again, after one more learner joined: only the newcomer is invited.
    lms.roster.append(lms.member(f"d-{tag}"))
    assert sync(app, platform_id, link_id, headers).status_code == 202
    work_the_queue(app, database)
    assert len(seats(database, tenant)) == 5
    assert actions(database, tenant, "lti.roster_synced")[-1]["invited"] == 1
    assert actions(database, tenant, "lti.roster_synced")[-1]["already"] == 4

    # The learner launching later gets the invitation the sync made.
    with database.unit_of_work(tenant.id) as uow:
        before = len(uow.scalars(select(Invitation)))
    lms.person = {"sub": f"a-{tag}", "name": "A", "email": f"a-{tag}@school.test"}
    key = lms.redirect_uri.split("/lti/", 1)[1].split("/", 1)[0]
    with TestClient(app, raise_server_exceptions=False) as c:
        assert launch(c, lms, key).status_code == 200
    with database.unit_of_work(tenant.id) as uow:
        assert len(uow.scalars(select(Invitation))) == before


def test_a_sync_is_refused_when_roster_sync_is_off_and_for_another_tenants_link(
    app: FastAPI, database: Database, tenant: Tenant, lms: Platform, settings: Settings
) -> None:
    platform_id, link_id, headers = launched(app, database, tenant, lms, roster_sync=False)
    r = sync(app, platform_id, link_id, headers)
    assert r.status_code == 409 and "roster sync is turned off" in r.json()["detail"], r.text
    assert actions(database, tenant, "lti.roster_sync_requested") == []
    other = make_tenant(database, settings)
    stranger = bearer(app, database, make_user(database, other.id, ["tenant_admin"]))
    assert sync(app, platform_id, link_id, stranger).status_code == 404
    bad = sync(app, platform_id, link_id, headers, send_mail="perhaps")
    assert bad.status_code == 422 and "send_mail" in bad.text


def test_a_failing_roster_service_is_audited_with_its_answer(
    app: FastAPI, database: Database, tenant: Tenant, lms: Platform
) -> None:
    platform_id, link_id, headers = launched(app, database, tenant, lms)
    lms.roster = [lms.member(f"x-{uuid.uuid4().hex[:6]}")]
    lms.roster_answer = 403
    try:
        assert sync(app, platform_id, link_id, headers).status_code == 202
        work_the_queue(app, database)
    finally:
        lms.roster_answer = 200
    [failed] = actions(database, tenant, "lti.roster_sync_failed")
    assert failed["reason"] == "platform_answer" and "403" in failed["detail"]
    assert actions(database, tenant, "lti.roster_synced") == []
    assert len(seats(database, tenant)) == 1  # only the launch's
