"""The audit log over HTTP: filters, inclusion and consistency proofs that
verify with the auditor's library, and the export."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil import audit
from invigil.audit import checkpoints
from invigil.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from invigil.audit.offline import verify_export
from invigil.db.uow import Actor
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, bearer, make_user


def _log(app: FastAPI, db: BoundDatabase, tenant: Tenant, n: int, seal: bool = True) -> None:
    for i in range(n):
        with db.unit_of_work(tenant.id, Actor("user", "alice")) as uow:
            audit.record(
                uow,
                "exam.published" if i % 2 else "score.recorded",
                ("exam", f"ex-{i % 3}"),
                {"i": i},
            )
    if seal:
        with db.unit_of_work(tenant.id) as uow:
            checkpoints.seal(uow, app.state.services.keys.audit)


def test_filters_and_pages(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = bearer(app, db, make_user(db, tenant_a.id, ["auditor"]))
    _log(app, db, tenant_a, 6)
    by_action = client.get("/api/v1/audit/events?action=exam.published", headers=h).json()
    assert by_action["items"] and {e["action"] for e in by_action["items"]} == {"exam.published"}
    family = client.get("/api/v1/audit/events?action=exam.*&subject_id=ex-1", headers=h).json()
    assert all(e["subject"]["id"] == "ex-1" for e in family["items"])
    by_actor = client.get(
        "/api/v1/audit/events?actor_kind=user&actor_id=alice&limit=2", headers=h
    ).json()
    assert len(by_actor["items"]) == 2 and by_actor["next"]
    rest = client.get(
        f"/api/v1/audit/events?actor_id=alice&limit=200&cursor={by_actor['next']}", headers=h
    ).json()
    seqs = [e["seq"] for e in by_actor["items"] + rest["items"]]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == len(set(seqs)) == 6
    future = client.get("/api/v1/audit/events?since=2999-01-01T00:00:00Z", headers=h).json()
    assert future["items"] == []


def test_an_entry_comes_with_a_proof_that_verifies(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = bearer(app, db, make_user(db, tenant_a.id, ["auditor"]))
    _log(app, db, tenant_a, 5)
    event = client.get("/api/v1/audit/events?limit=1&action=score.recorded", headers=h).json()[
        "items"
    ][0]
    got = client.get(f"/api/v1/audit/events/{event['id']}", headers=h).json()
    inc = got["inclusion"]
    root = bytes.fromhex(inc["checkpoint"]["root_hash"])
    proof = [bytes.fromhex(p) for p in inc["proof"]]
    leaf = leaf_hash(got["entry"].encode())
    assert verify_inclusion(leaf, got["seq"], inc["checkpoint"]["tree_size"], proof, root)
    assert not verify_inclusion(
        leaf_hash(b"forged"), got["seq"], inc["checkpoint"]["tree_size"], proof, root
    )


def test_entries_after_the_last_checkpoint_say_so(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = bearer(app, db, make_user(db, tenant_a.id, ["auditor"]))
    _log(app, db, tenant_a, 1, seal=False)
    newest = client.get("/api/v1/audit/events?limit=1", headers=h).json()["items"][0]
    inc = client.get(f"/api/v1/audit/events/{newest['id']}", headers=h).json()["inclusion"]
    assert inc["proof"] is None and "not sealed yet" in inc["reason"]


def test_checkpoints_and_consistency(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = bearer(app, db, make_user(db, tenant_a.id, ["auditor"]))
    _log(app, db, tenant_a, 3)
    _log(app, db, tenant_a, 4)
    cps = client.get("/api/v1/audit/checkpoints", headers=h).json()["items"]
    first, second = cps[-2], cps[-1]
    r = client.get(
        f"/api/v1/audit/consistency?first={first['tree_size']}&second={second['tree_size']}",
        headers=h,
    ).json()
    assert verify_consistency(
        first["tree_size"],
        second["tree_size"],
        bytes.fromhex(first["root_hash"]),
        bytes.fromhex(second["root_hash"]),
        [bytes.fromhex(p) for p in r["proof"]],
    )
    missing = client.get("/api/v1/audit/consistency?first=1&second=99999", headers=h)
    assert missing.status_code == 404


def test_the_export_verifies_offline(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = bearer(app, db, make_user(db, tenant_a.id, ["auditor"]))
    _log(app, db, tenant_a, 3)
    report = verify_export(client.get("/api/v1/audit/export", headers=h).json())
    assert report.ok, report.problems


def test_identity_events_flow_through_the_log(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    admin = make_user(db, tenant_a.id, ["tenant_admin"])
    h = bearer(app, db, admin)
    made = client.post(
        "/api/v1/users", headers=h, json={"email": "z@staff.test", "roles": ["grader"]}
    ).json()["user"]
    items = client.get("/api/v1/audit/events?action=user.*", headers=h).json()["items"]
    created = [
        e
        for e in items
        if e["action"] == "user.created" and e["subject"] == {"type": "user", "id": made["id"]}
    ]
    assert created and created[0]["actor"] == {"kind": "user", "id": str(admin.id)}
    assert "z@staff.test" not in str(created[0])  # the id names them (docs/adr/0062)
