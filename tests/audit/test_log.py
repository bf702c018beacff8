"""The audit log in the database: append-only, chained, Merkle-sealed, and
every kind of tampering named by `verify`."""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from invigil import audit
from invigil.audit import checkpoints, service
from invigil.audit.canonical import canonical_json
from invigil.audit.log import GENESIS
from invigil.audit.models import AuditEvent
from invigil.audit.offline import verify_export
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.db.urls import DatabaseUrls
from invigil.errors import Conflict
from invigil.security.keys import Keys
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, make_tenant


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("audit-keys"))


def write(db: Database, tenant: Tenant, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        with db.unit_of_work(tenant.id, Actor("user", "u-1")) as uow:
            audit.record(uow, "exam.published", ("exam", f"e{i}"), {"version": i, "score": 7.5})


def seal(db: Database, tenant: Tenant, keys: Keys) -> None:
    with db.unit_of_work(tenant.id, Actor.system()) as uow:
        checkpoints.seal(uow, keys.audit)


@pytest.fixture
def sealed_log(database: Database, settings: Settings, keys: Keys) -> Tenant:
    """A committed log of 10 entries (tenant.created + 9) with checkpoints at 4 and 10."""
    tenant = make_tenant(database, settings)
    write(database, tenant, 3)
    seal(database, tenant, keys)
    write(database, tenant, 6, start=3)
    seal(database, tenant, keys)
    return tenant


@pytest.fixture
def superuser(urls: DatabaseUrls, sealed_log: Tenant) -> Iterator[Connection]:
    """The admin (superuser) on the test database: the owner-gone-rogue of the
    tamper tests. Its transaction is rolled back, so the damage never lands.
    (Disabling triggers locks the tables: the log is written before.)"""
    engine = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    with engine.connect() as conn:
        tx = conn.begin()
        conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
        conn.exec_driver_sql("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER")
        yield conn
        tx.rollback()
    engine.dispose()


def verify(conn: Connection, tenant: Tenant, keys: Keys) -> service.Report:
    """Verify as the owner role (bound by RLS to the tenant), on the tampered data."""
    conn.exec_driver_sql("SET LOCAL ROLE invigil_owner")
    try:
        uow = UnitOfWork.begin(Session(bind=conn), tenant.id, Actor.operator())
        return service.verify_tenant(uow, keys.audit)
    finally:
        conn.exec_driver_sql("RESET ROLE")


def test_entries_are_canonical_chained_and_sequential(db: BoundDatabase, tenant_a: Tenant) -> None:
    with db.unit_of_work(tenant_a.id, Actor("user", "u-9")) as uow:
        before = uow.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
        first = audit.record(uow, "role.granted", ("user", "u-2"), {"role": "grader"})
        second = audit.record(uow, "role.revoked", ("user", "u-2"), {"role": "grader"})
    assert second.seq == first.seq + 1 == (-1 if before is None else before) + 2
    entry = json.loads(second.entry)
    assert canonical_json(entry) == second.entry.encode()
    assert entry["prev"] == first.leaf_hash.hex()
    assert entry["actor"] == {"kind": "user", "id": "u-9"} and entry["tenant"] == str(tenant_a.id)
    assert second.leaf_hash == hashlib.sha256(b"\x00" + second.entry.encode()).digest()
    if first.seq == 0:
        assert json.loads(first.entry)["prev"] == GENESIS.hex()


def test_an_entry_rolls_back_with_its_change(db: BoundDatabase, tenant_a: Tenant) -> None:
    with db.unit_of_work(tenant_a.id) as uow:
        audit.record(uow, "x.before", ("x", "1"))
    with pytest.raises(RuntimeError), db.unit_of_work(tenant_a.id) as uow:
        audit.record(uow, "x.doomed", ("x", "2"))
        raise RuntimeError
    with db.unit_of_work(tenant_a.id) as uow:
        after = audit.record(uow, "x.after", ("x", "3"))
        actions = uow.scalars(select(AuditEvent.action).order_by(AuditEvent.seq))
    assert "x.doomed" not in actions
    assert after.seq == len(actions) - 1  # no gap where the rolled-back entry was


@pytest.mark.parametrize(
    "stmt",
    [
        "UPDATE audit_events SET action = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "UPDATE audit_checkpoints SET tree_size = 0",
    ],
)
def test_the_app_role_can_only_append(db: BoundDatabase, tenant_a: Tenant, stmt: str) -> None:
    with pytest.raises(DBAPIError, match="permission denied"), db.unit_of_work(tenant_a.id) as uow:
        audit.record(uow, "x.y", ("x", "1"))
        uow.session.execute(text(stmt))


@pytest.mark.parametrize(
    "stmt",
    [
        "UPDATE audit_events SET action = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "DELETE FROM audit_checkpoints",
    ],
)
def test_even_the_owner_and_a_superuser_cannot_change_entries(
    urls: DatabaseUrls, sealed_log: Tenant, stmt: str
) -> None:
    engine = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    with engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.exec_driver_sql(stmt)
    engine.dispose()


def test_an_intact_log_verifies(database: Database, sealed_log: Tenant, keys: Keys) -> None:
    with database.unit_of_work(sealed_log.id) as uow:
        report = service.verify_tenant(uow, keys.audit)
    assert report.ok, report.problems
    assert (report.entries, report.checkpoints) == (10, 2)


def _rechain_from(conn: Connection, tenant: Tenant, seq: int, mutate: bool) -> None:
    """Rewrite entry ``seq`` and recompute every later hash and chain link,
    as a careful attacker with the database would."""
    rows = conn.execute(
        text("SELECT seq, entry FROM audit_events WHERE tenant_id = :t ORDER BY seq"),
        {"t": tenant.id},
    ).all()
    prev = GENESIS
    for row in rows:
        entry = json.loads(row.entry)
        if row.seq == seq and mutate:
            entry["payload"]["version"] = 999
        entry["prev"] = prev.hex()
        data = canonical_json(entry)
        leaf = hashlib.sha256(b"\x00" + data).digest()
        conn.execute(
            text(
                "UPDATE audit_events SET entry = :e, leaf_hash = :h, payload = "
                "CAST(:p AS jsonb) WHERE tenant_id = :t AND seq = :s"
            ),
            {
                "e": data.decode(),
                "h": leaf,
                "p": json.dumps(entry["payload"]),
                "t": tenant.id,
                "s": row.seq,
            },
        )
        prev = leaf


TAMPERING = {
    "payload column edited": (
        "UPDATE audit_events SET payload = '{\"score\": 100}' WHERE tenant_id = :t AND seq = 6",
        6,
        "column payload differs",
    ),
    "entry edited, its hash recomputed": (None, 6, "entry 6 was altered: entry 7 does not"),
    "row deleted": (
        "DELETE FROM audit_events WHERE tenant_id = :t AND seq = 5",
        5,
        "entry 5 is missing",
    ),
    "last rows deleted": (
        "DELETE FROM audit_events WHERE tenant_id = :t AND seq >= 8",
        8,
        "covers 10 entries but only 8",
    ),
    "rows reordered": (
        "UPDATE audit_events SET seq = 1000 WHERE tenant_id = :t AND seq = 2;"
        "UPDATE audit_events SET seq = 2 WHERE tenant_id = :t AND seq = 3;"
        "UPDATE audit_events SET seq = 3 WHERE tenant_id = :t AND seq = 1000",
        2,
        "claims to be entry 3",
    ),
}


@pytest.mark.parametrize("sql,first_bad,message", TAMPERING.values(), ids=TAMPERING.keys())
def test_tampering_is_detected_and_named(
    superuser: Connection,
    sealed_log: Tenant,
    keys: Keys,
    sql: str | None,
    first_bad: int,
    message: str,
) -> None:
    if sql is None:  # edit entry 6 and recompute its leaf hash, but not the later chain
        row = superuser.execute(
            text("SELECT entry FROM audit_events WHERE tenant_id = :t AND seq = 6"),
            {"t": sealed_log.id},
        ).one()
        entry = json.loads(row.entry)
        entry["payload"]["version"] = 999
        data = canonical_json(entry)
        superuser.execute(
            text(
                "UPDATE audit_events SET entry = :e, leaf_hash = :h, payload = "
                "CAST(:p AS jsonb) WHERE tenant_id = :t AND seq = 6"
            ),
            {
                "e": data.decode(),
                "h": hashlib.sha256(b"\x00" + data).digest(),
                "p": json.dumps(entry["payload"]),
                "t": sealed_log.id,
            },
        )
    else:
        for stmt in sql.split(";"):
            superuser.execute(text(stmt), {"t": sealed_log.id})
    report = verify(superuser, sealed_log, keys)
    assert not report.ok
    assert report.first_bad_seq == first_bad, report.problems
    assert any(message in p for p in report.problems), report.problems


COLUMN_EDITS = {
    "payload": "payload = '{\"score\": 100}'",
    "actor_id": "actor_id = 'someone-else'",
    "occurred_at": "occurred_at = occurred_at - interval '1 day'",
}


@pytest.mark.parametrize("column", COLUMN_EDITS)
@pytest.mark.parametrize("k", [0, 5, 9])
def test_a_column_edited_in_place_names_its_entry(
    superuser: Connection, sealed_log: Tenant, keys: Keys, column: str, k: int
) -> None:
    superuser.execute(
        text(f"UPDATE audit_events SET {COLUMN_EDITS[column]} WHERE tenant_id = :t AND seq = :k"),
        {"t": sealed_log.id, "k": k},
    )
    report = verify(superuser, sealed_log, keys)
    assert report.first_bad_seq == k, report.problems
    assert report.problems == [f"entry {k}: column {column} differs from the signed entry "
                               "(edited in place)"]  # fmt: skip


@pytest.mark.parametrize("rehash", [False, True], ids=["leaf kept", "leaf recomputed"])
@pytest.mark.parametrize("k", [0, 5, 9])
def test_an_entry_rewritten_with_its_columns_names_it(
    superuser: Connection, sealed_log: Tenant, keys: Keys, rehash: bool, k: int
) -> None:
    """The entry and its columns rewritten to agree (the careful editor),
    its leaf hash kept or recomputed: named by its leaf hash, by the next
    entry's prev, or (the last entry, no next one) by the checkpoints."""
    row = superuser.execute(
        text("SELECT entry, leaf_hash FROM audit_events WHERE tenant_id = :t AND seq = :k"),
        {"t": sealed_log.id, "k": k},
    ).one()
    entry = json.loads(row.entry)
    entry["actor"]["id"] = "someone-else"
    data = canonical_json(entry)
    superuser.execute(
        text(
            "UPDATE audit_events SET entry = :e, leaf_hash = :h, actor_id = 'someone-else' "
            "WHERE tenant_id = :t AND seq = :k"
        ),
        {
            "e": data.decode(),
            "h": hashlib.sha256(b"\x00" + data).digest() if rehash else row.leaf_hash,
            "t": sealed_log.id,
            "k": k,
        },
    )
    report = verify(superuser, sealed_log, keys)
    if rehash and k == 9:  # pinned between the checkpoints at 4 and 10
        assert report.first_bad_seq == 4, report.problems
        assert "Entry 9 was altered; so may be any entry from 4 on" in report.problems[0]
        return
    assert report.first_bad_seq == k, report.problems
    assert report.problems[0].startswith(f"entry {k} was altered"), report.problems


def test_a_fully_rewritten_history_is_caught_by_the_signed_checkpoints(
    superuser: Connection, sealed_log: Tenant, keys: Keys
) -> None:
    _rechain_from(superuser, sealed_log, 6, mutate=True)
    report = verify(superuser, sealed_log, keys)
    assert not report.ok
    assert report.first_bad_seq == 4  # after the last checkpoint that still holds
    assert any("do not produce its signed root" in p for p in report.problems)
    superuser.exec_driver_sql("SET LOCAL ROLE invigil_owner")
    uow = UnitOfWork.begin(Session(bind=superuser), sealed_log.id, Actor.system())
    audit.record(uow, "x.more", ("x", "1"))
    with pytest.raises(Conflict, match="no longer extends"):
        checkpoints.seal(uow, keys.audit)  # never sealed over


@pytest.fixture
def other_log(database: Database, settings: Settings, keys: Keys) -> Tenant:
    other = make_tenant(database, settings)
    write(database, other, 9)
    seal(database, other, keys)
    return other


def test_a_swapped_or_forged_checkpoint_is_caught(
    other_log: Tenant, superuser: Connection, sealed_log: Tenant, keys: Keys
) -> None:
    other = other_log
    superuser.execute(
        text(
            "UPDATE audit_checkpoints AS mine SET note = theirs.note, signature = theirs.signature, "
            "root_hash = theirs.root_hash FROM audit_checkpoints AS theirs "
            "WHERE mine.tenant_id = :mine AND theirs.tenant_id = :theirs "
            "AND mine.tree_size = 10 AND theirs.tree_size = 10"
        ),
        {"mine": sealed_log.id, "theirs": other.id},
    )
    report = verify(superuser, sealed_log, keys)
    assert any("swapped from another log" in p for p in report.problems), report.problems
    superuser.execute(
        text("UPDATE audit_checkpoints SET signature = :s WHERE tenant_id = :t AND tree_size = 4"),
        {"s": bytes(64), "t": sealed_log.id},
    )
    report = verify(superuser, sealed_log, keys)
    assert any("signature does not verify" in p for p in report.problems)


def test_sealing_is_idempotent_and_linked(
    database: Database, sealed_log: Tenant, keys: Keys
) -> None:
    with database.unit_of_work(sealed_log.id) as uow:
        assert checkpoints.seal(uow, keys.audit) is None  # nothing new
        proof = service.consistency(uow, 4, 10)
        cps = service.list_checkpoints(uow)
    from invigil.audit.merkle import verify_consistency

    assert verify_consistency(
        4, 10, cps[0].root_hash, cps[1].root_hash, [bytes.fromhex(h) for h in proof]
    )


def test_export_verifies_offline_and_detects_edits(
    database: Database, sealed_log: Tenant, keys: Keys, tmp_path: Path
) -> None:
    with database.unit_of_work(sealed_log.id) as uow:
        data = service.export(uow, keys.audit, sealed_log.slug)
    clean = json.loads(json.dumps(data, default=str))
    assert verify_export(clean).ok
    forged = json.loads(json.dumps(clean))
    forged["entries"][7]["entry"] = forged["entries"][7]["entry"].replace(
        '"version":6', '"version":9'
    )
    assert verify_export(forged).first_bad_seq == 7
    stranger = Keys(tmp_path / "other").audit.all_public()
    pinned = verify_export(clean, stranger)
    assert not pinned.ok and any("unknown key" in p for p in pinned.problems)


def test_the_seal_job_visits_every_tenant(database: Database, settings: Settings) -> None:
    from invigil.context import Services
    from invigil.jobs.queue import _seal_all

    tenant = make_tenant(database, settings)
    write(database, tenant, 3)
    # The run's own keys: the job seals every tenant of this database, those of
    # other tests included, whose exports must go on verifying with them.
    services = Services.build(settings)
    _seal_all(database, services)
    with database.unit_of_work(tenant.id) as uow:
        latest = checkpoints.latest(uow)
    assert latest is not None and latest.tree_size == 4  # tenant.created + 3
    assert uuid.UUID(str(tenant.id))


def test_the_database_and_python_build_the_same_entry(db: BoundDatabase, tenant_a: Tenant) -> None:
    """audit_entry() in SQL and entry_text() in Python are one format."""
    from invigil.audit.log import entry_parts, entry_text

    with db.unit_of_work(tenant_a.id, Actor("user", "u-7")) as uow:
        event = audit.record(uow, "grade.set", ("attempt", "a-1"), {"points": 3, "note": "é\n"})
    parsed = json.loads(event.entry)
    head, mid, tail = entry_parts(
        tenant=tenant_a.id,
        event_id=event.id,
        actor_kind="user",
        actor_id="u-7",
        action="grade.set",
        subject_type="attempt",
        subject_id="a-1",
        payload={"points": 3, "note": "é\n"},
    )
    assert event.entry == entry_text(
        head, mid, tail, at=event.occurred_at, prev=bytes.fromhex(parsed["prev"]), seq=event.seq
    )


# --- several entries in one round trip ------------------------------------------


def test_record_many_chains_exactly_as_record_does(db: BoundDatabase, tenant_a: Tenant) -> None:
    """A batch is that many entries: gapless seqs, each prev the leaf before it,
    the text the database builds equal to Python's, between single appends."""
    from invigil.audit.log import entry_parts, entry_text

    with db.unit_of_work(tenant_a.id, Actor("user", "u-5")) as uow:
        before = audit.record(uow, "x.before", ("x", "0"))
        batch = audit.record_many(
            uow,
            [
                ("x.one", ("x", "1"), {"n": 1, "note": "é\n"}),
                ("x.two", ("exam", "e-2"), None),
                ("x.three", ("x", "3"), {"nested": {"b": [1, 2.5], "a": None}}),
            ],
        )
        after = audit.record(uow, "x.after", ("x", "4"))
        assert audit.record_many(uow, []) == []
    chain = [before, *batch, after]
    assert [e.seq for e in chain] == list(range(before.seq, before.seq + 5))
    for prev, entry in itertools.pairwise(chain):
        assert json.loads(entry.entry)["prev"] == prev.leaf_hash.hex()
        assert entry.leaf_hash == hashlib.sha256(b"\x00" + entry.entry.encode()).digest()
        assert canonical_json(json.loads(entry.entry)) == entry.entry.encode()
    assert len({e.occurred_at for e in batch}) == 1  # one statement, one timestamp
    for e in batch:
        head, mid, tail = entry_parts(
            tenant=tenant_a.id,
            event_id=e.id,
            actor_kind="user",
            actor_id="u-5",
            action=e.action,
            subject_type=e.subject_type,
            subject_id=e.subject_id,
            payload=e.payload,
        )
        parsed = json.loads(e.entry)
        assert e.entry == entry_text(
            head, mid, tail, at=e.occurred_at, prev=bytes.fromhex(parsed["prev"]), seq=e.seq
        )
    with db.unit_of_work(tenant_a.id) as uow:
        stored = uow.scalars(
            select(AuditEvent).where(AuditEvent.seq.between(before.seq, after.seq))
            .order_by(AuditEvent.seq)
        )  # fmt: skip
        assert [(s.seq, s.action, s.entry, s.leaf_hash) for s in stored] == [
            (e.seq, e.action, e.entry, e.leaf_hash) for e in chain
        ]
        assert stored[1].payload == {"n": 1, "note": "é\n"} and stored[2].payload == {}


def test_record_many_names_each_entrys_actor(db: BoundDatabase, tenant_a: Tenant) -> None:
    """One transaction writing for several candidates: each entry is its
    actor's, in the text that is hashed too, and the chain is unbroken."""
    one, two = Actor("candidate", "c-1"), Actor("candidate", "c-2")
    with db.unit_of_work(tenant_a.id, Actor("anonymous", "guest-link")) as uow:
        batch = audit.record_many(
            uow,
            [
                ("x.a", ("x", "1"), {"n": 1}),
                ("x.a", ("x", "2"), {"n": 2}),
                ("x.b", ("x", "1"), None),
            ],
            [one, two, one],
        )
        with pytest.raises(ValueError, match="one actor per entry"):
            audit.record_many(uow, [("x.c", ("x", "1"), None)], [one, two])
    assert [e.actor for e in batch] == [one, two, one]
    assert [json.loads(e.entry)["actor"] for e in batch] == [
        {"kind": "candidate", "id": "c-1"},
        {"kind": "candidate", "id": "c-2"},
        {"kind": "candidate", "id": "c-1"},
    ]
    with db.unit_of_work(tenant_a.id) as uow:
        stored = uow.scalars(
            select(AuditEvent).where(AuditEvent.seq.in_([e.seq for e in batch]))
            .order_by(AuditEvent.seq)
        )  # fmt: skip
        assert [(s.actor_kind, s.actor_id, s.entry) for s in stored] == [
            (e.actor.kind, e.actor.id, e.entry) for e in batch
        ]
    for prev, entry in itertools.pairwise(batch):
        assert json.loads(entry.entry)["prev"] == prev.leaf_hash.hex()


@pytest.mark.parametrize(
    "bad,message",
    [
        ({"v": float("inf")}, "not a JSON number"),
        ({"deep": [1, {"v": 1e20}]}, "cannot be represented"),  # read back as a huge int
    ],
)
def test_record_many_refuses_what_record_refuses(
    db: BoundDatabase, tenant_a: Tenant, bad: dict[str, Any], message: str
) -> None:
    """A payload record would refuse fails the whole batch before anything is written."""
    with pytest.raises(ValueError, match=message), db.unit_of_work(tenant_a.id) as uow:
        audit.record(uow, "x.bad", ("x", "2"), bad)
    with db.unit_of_work(tenant_a.id) as uow:
        before = uow.scalars(select(AuditEvent.seq))
        with pytest.raises(ValueError, match=message):
            audit.record_many(uow, [("x.ok", ("x", "1"), {}), ("x.bad", ("x", "2"), bad)])
        assert uow.scalars(select(AuditEvent.seq)) == before


def test_record_many_starts_a_new_tenants_log(owner_conn: Connection, settings: Settings) -> None:
    """The first entries of a tenant create its head row, as record's do."""
    tenant_id = uuid.uuid4()
    owner_conn.execute(
        text("INSERT INTO tenants (id, slug, name, region) VALUES (:i, :s, 'N', :r)"),
        {"i": tenant_id, "s": f"t-{tenant_id.hex[:12]}", "r": settings.regions[0]},
    )
    owner_conn.exec_driver_sql(f"SET LOCAL ROLE {settings.db_app_role}")
    uow = UnitOfWork.begin(Session(bind=owner_conn), tenant_id, Actor.system())
    first = audit.record_many(uow, [("x.a", ("x", "1"), {}), ("x.b", ("x", "2"), {})])
    assert [e.seq for e in first] == [0, 1]
    assert json.loads(first[0].entry)["prev"] == GENESIS.hex()
    assert json.loads(first[1].entry)["prev"] == first[0].leaf_hash.hex()
    assert audit.record(uow, "x.c", ("x", "3")).seq == 2


@pytest.mark.slow
def test_concurrent_single_and_batched_appends_keep_one_chain(
    database: Database, settings: Settings, keys: Keys
) -> None:
    """Batches and single appends racing on one tenant's head row: every entry
    lands once, gapless, chained, and the log verifies (also offline)."""
    from concurrent.futures import ThreadPoolExecutor

    tenant = make_tenant(database, settings)
    db = Database.connect(database.urls, pool_size=6, max_overflow=0)

    def writer(n: int) -> None:
        for i in range(12):
            with db.unit_of_work(tenant.id, Actor("user", f"w{n}")) as uow:
                if (n + i) % 2:
                    audit.record(uow, "x.single", ("x", f"{n}-{i}"), {"i": i})
                else:
                    entries = [
                        ("x.batch", ("x", f"{n}-{i}-{k}"), {"k": k}) for k in range(1 + i % 4)
                    ]
                    audit.record_many(uow, entries)

    try:
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(writer, range(6)))
    finally:
        db.dispose()
    seal(database, tenant, keys)
    with database.unit_of_work(tenant.id) as uow:
        report = service.verify_tenant(uow, keys.audit)
        seqs = uow.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq))
        data = service.export(uow, keys.audit, tenant.slug)
    assert report.ok, report.problems
    expected = 1 + sum(1 if (n + i) % 2 else 1 + i % 4 for n in range(6) for i in range(12))
    assert seqs == list(range(expected))
    assert verify_export(json.loads(json.dumps(data, default=str))).ok


@pytest.mark.slow
def test_a_batch_that_waited_for_the_head_row_chains_on_what_it_waited_for(
    database: Database, settings: Settings, keys: Keys
) -> None:
    """The head row is locked by a transaction that appended; a batch waits
    for it, then must build on that append, not on what it saw when it began."""
    import threading
    import time

    tenant = make_tenant(database, settings)
    holding, done = threading.Event(), threading.Event()
    results: list[list[AuditEvent]] = []

    def batch() -> None:
        holding.wait()
        with database.unit_of_work(tenant.id) as uow:
            results.append(
                audit.record_many(uow, [("x.b1", ("x", "b1"), {}), ("x.b2", ("x", "b2"), {})])
            )
        done.set()

    thread = threading.Thread(target=batch)
    thread.start()
    with database.unit_of_work(tenant.id) as uow:
        first = audit.record(uow, "x.a", ("x", "a"))
        holding.set()
        time.sleep(0.5)  # the batch is now waiting on the head row
        assert not done.is_set()
    thread.join(10)
    (b1, b2) = results[0]
    assert (b1.seq, b2.seq) == (first.seq + 1, first.seq + 2)
    assert json.loads(b1.entry)["prev"] == first.leaf_hash.hex()
    seal(database, tenant, keys)
    with database.unit_of_work(tenant.id) as uow:
        assert service.verify_tenant(uow, keys.audit).ok
        audit.record(uow, "x.c", ("x", "c"))
    with database.unit_of_work(tenant.id) as uow:
        assert service.verify_tenant(uow, keys.audit).ok


_SCALAR = st.none() | st.booleans() | st.integers(min_value=-(2**60), max_value=2**60) | st.text()
_PAYLOADS = st.dictionaries(
    st.text(max_size=6),
    _SCALAR
    | st.lists(_SCALAR, max_size=3)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.uuids()
    | st.tuples(st.integers(0, 9))
    | st.dictionaries(st.text(max_size=3), _SCALAR, max_size=2),
    max_size=6,
)


@hsettings(max_examples=300, deadline=None)
@given(_PAYLOADS)
def test_a_payload_of_json_types_is_written_as_converted(payload: dict[str, Any]) -> None:
    """Most payloads are already JSON types and skip the conversion: what an
    entry holds and writes, or refuses, is what the long way gives."""
    from invigil.audit import log

    uow = UnitOfWork(None, uuid.uuid4(), Actor("user", "someone"))  # type: ignore[arg-type]

    def prepared() -> Any:
        try:
            p = log._prepare(uow, "thing.done", ("thing", "1"), payload)
        except (ValueError, TypeError) as exc:
            return type(exc)
        return p.payload, p.encoded

    got = prepared()
    with pytest.MonkeyPatch.context() as m:
        m.setattr(log, "_flat", lambda payload: False)
        assert got == prepared()
