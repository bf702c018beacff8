"""The AI usage records re-derived from their rows, beside the ledger.

For ``invigil ledger verify`` (which adds these problems to the ledger's
report) and ``invigil audit verify`` (a records source): every usage record
hashes to its sha256 and to the one its audit entry anchors; its cost is
what the price list version it names charges for its tokens and model; a
paid cost has its transfer (credits_available -> ai_usage, exactly the cost,
naming the record) and an unpaid or free one has none; and every AI charge
in the ledger names a usage record that exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from invigil.ai.usage import ACTION, SUBJECT, cost_of, usage_document
from invigil.audit.anchored import Source
from invigil.audit.records import Record, document_sha256
from invigil.db.uow import UnitOfWork
from invigil.ledger import prices
from invigil.ledger.service import AI_USAGE, CREDITS
from invigil.ledger.verify import LedgerReport, check_anchors

_FIELDS = (
    "id", "created_at", "purpose", "subject_type", "subject_id", "provider", "model", "actor",
    "prompt_tokens", "completion_tokens", "latency_ms", "outcome", "request_sha256",
    "response_sha256", "price_list_version", "cost", "transfer_id", "unpaid", "sha256",
)  # fmt: skip


def _rows(uow: UnitOfWork, row_id: uuid.UUID | None = None) -> Iterator[dict[str, Any]]:
    where = "WHERE id = %(id)s" if row_id is not None else ""
    sql = f"SELECT {', '.join(_FIELDS)} FROM ai_usage {where} ORDER BY id"
    for r in uow.driver().cursor().execute(sql, {"id": row_id}):
        yield dict(zip(_FIELDS, r, strict=True))


def check(uow: UnitOfWork, report: LedgerReport) -> None:
    cur = uow.driver().cursor()
    charges: dict[str, tuple[str, dict[str, int]]] = {}
    for tid, meta, codes, amounts in cur.execute(
        "SELECT t.id, t.meta, array_agg(a.code), array_agg(e.amount) FROM ledger_transfers t "
        "JOIN ledger_entries e ON e.tenant_id = t.tenant_id AND e.transfer_id = t.id "
        "JOIN ledger_accounts a ON a.tenant_id = e.tenant_id AND a.id = e.account_id "
        "WHERE t.meta ? 'ai_call' GROUP BY t.tenant_id, t.id"
    ):
        charges[str(tid)] = (str(meta["ai_call"]), dict(zip(codes, map(int, amounts), strict=True)))
    lists: dict[int, prices.PriceListVersion | None] = {}
    hashes: dict[str, str] = {}
    named: set[str] = set()
    for row in _rows(uow):
        uid = str(row["id"])
        hashes[uid] = row["sha256"]
        if document_sha256(usage_document(row)) != row["sha256"]:
            report.add(f"AI usage record {uid} no longer hashes to its sha256")
        version = row["price_list_version"]
        price = None
        if version is not None:
            if version not in lists:
                lists[version] = prices.by_version(uow, version)
            price = lists[version]
            if price is None:
                report.add(f"AI usage record {uid} names price list version {version}, missing")
                continue
        tokens = int(row["prompt_tokens"]) + int(row["completion_tokens"])
        expected = cost_of(price, row["model"], tokens)
        if int(row["cost"]) != expected:
            report.add(
                f"AI usage record {uid} states a cost of {row['cost']}; {tokens} tokens of "
                f"{row['model']} cost {expected}"
            )
        transfer = str(row["transfer_id"]) if row["transfer_id"] else None
        if transfer is None:
            if expected > 0 and not row["unpaid"]:
                report.add(f"AI usage record {uid} cost {expected} but has no charge")
            continue
        named.add(transfer)
        found = charges.get(transfer)
        if found is None or found[0] != uid:
            report.add(f"AI usage record {uid} names charge {transfer}, which is not its own")
        elif found[1] != {CREDITS: -int(row["cost"]), AI_USAGE: int(row["cost"])}:
            report.add(f"AI usage record {uid}'s charge {transfer} does not take its cost")
    for transfer, (uid, _legs) in sorted(charges.items()):
        if uid not in hashes:
            report.add(f"AI charge {transfer} names usage record {uid}, which is missing")
        elif transfer not in named:
            report.add(f"AI charge {transfer} is not the charge of usage record {uid}")
    check_anchors(uow, report, hashes, ACTION, SUBJECT, "AI usage record")


def _records(uow: UnitOfWork, keep: bool, row_id: uuid.UUID | None = None) -> Iterator[Record]:
    for row in _rows(uow, row_id):
        document = usage_document(row)
        yield Record(SUBJECT, str(row["id"]), SUBJECT, ACTION, document_sha256(document),
                     body=document if keep else None, stated=row["sha256"])  # fmt: skip


SOURCES = (Source(SUBJECT, _records),)
