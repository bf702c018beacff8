"""The audit scenario: the cost of writing through the log, and proofs and
verification at one million entries."""

from __future__ import annotations

import io
import statistics
import time
import uuid
from datetime import UTC, datetime

import psycopg
from sqlalchemy import text

from invigil import audit
from invigil.audit import checkpoints, service
from invigil.audit.log import GENESIS, entry_parts, entry_text
from invigil.audit.merkle import MerkleTree, leaf_hash, verify_inclusion
from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.db.urls import DatabaseUrls, libpq
from invigil.security.keys import Keys

WRITES = 2_000
LOG_SIZE = 1_000_000


def _business_write(uow: object, i: int) -> None:
    uow.session.execute(  # type: ignore[attr-defined]
        text(
            "INSERT INTO sign_in_failures (tenant_id, id, email_key, address) "
            "VALUES (:t, :i, :e, 'bench')"
        ),
        {"t": uow.tenant, "i": uuid.uuid4(), "e": f"b{i}@bench.test"},  # type: ignore[attr-defined]
    )


def write_rates(db: Database, tenant_id: uuid.UUID, rounds: int = 3) -> dict[str, float]:
    """Interleaved rounds of the plain and the audited write; medians reported."""
    actor = Actor("user", "bench")
    plain, audited = [], []
    for r in range(rounds):
        start = time.perf_counter()
        for i in range(WRITES):
            with db.unit_of_work(tenant_id, actor) as uow:
                _business_write(uow, i)
        plain.append(WRITES / (time.perf_counter() - start))
        start = time.perf_counter()
        for i in range(WRITES):
            with db.unit_of_work(tenant_id, actor) as uow:
                _business_write(uow, i)
                audit.record(
                    uow, "auth.sign_in_failed", ("sign_in", f"b{r}-{i}"), {"address": "bench"}
                )
        audited.append(WRITES / (time.perf_counter() - start))
    return {
        "write_without_audit_tx_s": statistics.median(plain),
        "write_with_audit_tx_s": statistics.median(audited),
    }


def fill_log(urls: DatabaseUrls, tenant_id: uuid.UUID, size: int) -> float:
    """Grow the log to ``size`` well-formed entries with COPY (the same bytes
    record() makes). COPY cannot run under RLS: the admin role writes."""
    start = time.perf_counter()
    admin = libpq(urls.admin.set(database=urls.owner.database).difference_update_query(["options"]))
    with psycopg.connect(admin) as conn:
        head = conn.execute(
            "SELECT next_seq, last_leaf FROM audit_heads WHERE tenant_id = %s", (tenant_id,)
        ).fetchone()
    first, prev = (int(head[0]), bytes(head[1])) if head else (0, GENESIS)
    buf = io.StringIO()
    at = datetime.now(UTC)
    for seq in range(first, size):
        event_id = uuid.uuid4()
        head, mid, tail = entry_parts(
            tenant=tenant_id,
            event_id=event_id,
            actor_kind="system",
            actor_id="bench",
            action="score.recorded",
            subject_type="attempt",
            subject_id=f"a{seq}",
            payload={"score": seq % 100},
        )
        data = entry_text(head, mid, tail, at=at, prev=prev, seq=seq).encode()
        prev = leaf_hash(data)
        payload = f'{{"score": {seq % 100}}}'
        buf.write(
            "\t".join(
                [
                    str(tenant_id),
                    str(seq),
                    str(event_id),
                    at.isoformat(),
                    "system",
                    "bench",
                    "score.recorded",
                    "attempt",
                    f"a{seq}",
                    payload,
                    data.decode().replace("\\", "\\\\"),
                    "\\\\x" + prev.hex(),
                ]
            )
            + "\n"
        )
    with psycopg.connect(admin) as conn:
        with conn.cursor().copy(
            "COPY audit_events (tenant_id, seq, id, occurred_at, actor_kind, actor_id, action, "
            "subject_type, subject_id, payload, entry, leaf_hash) FROM STDIN"
        ) as copy:
            copy.write(buf.getvalue())
        conn.execute(
            "UPDATE audit_heads SET next_seq = %s, last_leaf = %s WHERE tenant_id = %s",
            (size, prev, tenant_id),
        )
    return time.perf_counter() - start


def large_log(
    db: Database, urls: DatabaseUrls, tenant_id: uuid.UUID, keys: Keys
) -> dict[str, float]:
    figures = {"log_fill_s": fill_log(urls, tenant_id, LOG_SIZE)}
    with db.unit_of_work(tenant_id, Actor.system()) as uow:
        start = time.perf_counter()
        checkpoints.seal(uow, keys.audit)
        figures["seal_1m_s"] = time.perf_counter() - start
    with db.unit_of_work(tenant_id) as uow:
        event = service.get_event(
            uow,
            service.list_events(uow, service.Filters(), limit=1, before_seq=LOG_SIZE // 2)[0][0].id,
        )
        start = time.perf_counter()
        service.inclusion(uow, event)  # cold: loads the leaves and builds the tree
        figures["inclusion_cold_ms"] = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        runs = 200
        for _ in range(runs):
            result = service.inclusion(uow, event)
        figures["inclusion_warm_ms"] = (time.perf_counter() - start) * 1000 / runs
        proof = [bytes.fromhex(h) for h in result["proof"]]
        root = bytes.fromhex(result["checkpoint"]["root_hash"])
        assert verify_inclusion(event.leaf_hash, event.seq, LOG_SIZE, proof, root)
        start = time.perf_counter()
        report = service.verify_tenant(uow, keys.audit)
        figures["verify_1m_s"] = time.perf_counter() - start
        assert report.ok, report.problems[:3]
    leaves = [leaf_hash(i.to_bytes(8, "big")) for i in range(LOG_SIZE)]
    start = time.perf_counter()
    tree = MerkleTree(leaves)
    figures["library_tree_build_1m_s"] = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(0, LOG_SIZE, LOG_SIZE // 1000):
        tree.inclusion_proof(i)
    figures["library_inclusion_proof_ms"] = time.perf_counter() - start
    return figures
