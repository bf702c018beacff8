"""`invigil ledger verify`: the ledger re-derived from its rows (ADR 0048).

The database keeps the ledger balanced as it is written; this check is for
what it cannot see: rows edited or deleted by someone who could switch its
triggers off (the owner, a restore gone wrong). It reads every transfer
with its entries in one streamed pass, then every account, then every
anchor in the audit log, and lists what disagrees in that order; the first
problem is the one the command names. It also serves ``invigil audit
verify`` as a records :class:`~invigil.audit.anchored.Source`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from invigil.audit.anchored import Source, stream
from invigil.audit.records import Record, document_sha256
from invigil.db.uow import UnitOfWork
from invigil.ledger import prices, storage
from invigil.ledger.service import ACTION, CONSUMED, CREDITS, SUBJECT, transfer_document

SHOWN = 50
STORAGE_KEY = f"charge:{storage.EVENT}:"

_TRANSFERS = """
    SELECT t.id, t.key, t.kind, t.reason, t.reverses_id, t.meta, t.created_by, t.created_at,
           t.request_sha256, t.sha256,
           coalesce(array_agg(e.account_id ORDER BY e.account_id)
                    FILTER (WHERE e.id IS NOT NULL), '{}'),
           coalesce(array_agg(e.amount ORDER BY e.account_id) FILTER (WHERE e.id IS NOT NULL), '{}')
    FROM ledger_transfers t LEFT JOIN ledger_entries e
      ON e.tenant_id = t.tenant_id AND e.transfer_id = t.id
    {where}
    GROUP BY t.tenant_id, t.id ORDER BY t.id
"""
_FIELDS = ("id", "key", "kind", "reason", "reverses_id", "meta", "created_by", "created_at",
           "request_sha256", "sha256")  # fmt: skip


@dataclass
class LedgerReport:
    transfers: int = 0
    entries: int = 0
    accounts: int = 0
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def first(self) -> str | None:
        return self.problems[0] if self.problems else None

    def add(self, problem: str) -> None:
        self.problem_count += 1
        if len(self.problems) < SHOWN:
            self.problems.append(problem)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "transfers": self.transfers,
            "entries": self.entries,
            "accounts": self.accounts,
            "first_problem": self.first,
            "problems": self.problems,
            "problem_count": self.problem_count,
        }


Legs = list[tuple[uuid.UUID, int]]


def _rows(
    uow: UnitOfWork, row_id: uuid.UUID | None = None
) -> Iterator[tuple[dict[str, Any], Legs]]:
    where, params, name = "", {}, "ledger_transfers_verify"
    if row_id is not None:
        where, params, name = "WHERE t.id = %(id)s", {"id": row_id}, None  # type: ignore[assignment]
    for r in stream(uow, _TRANSFERS.replace("{where}", where), params, name):
        row = dict(zip(_FIELDS, r[:10], strict=True))
        yield row, [(a, int(n)) for a, n in zip(r[10], r[11], strict=True)]


def verify(uow: UnitOfWork) -> LedgerReport:
    """Every check of the ledger of ``uow``'s tenant; see the module docstring."""
    report = LedgerReport()
    legs_of: dict[uuid.UUID, dict[uuid.UUID, int]] = {}
    reversals: list[tuple[uuid.UUID, uuid.UUID]] = []
    sums: dict[uuid.UUID, int] = {}
    hashes: dict[str, str] = {}
    price_lists: dict[int, prices.PriceListVersion | None] = {}
    storage_charges: dict[str, tuple[uuid.UUID, Legs]] = {}
    cur = uow.driver().cursor()
    codes = {aid: code for aid, code in cur.execute("SELECT id, code FROM ledger_accounts")}
    for row, legs in _rows(uow):
        tid = row["id"]
        report.transfers += 1
        report.entries += len(legs)
        legs_of[tid] = dict(legs)
        hashes[str(tid)] = row["sha256"]
        for account, amount in legs:
            sums[account] = sums.get(account, 0) + amount
        if len(legs) < 2:
            report.add(f"transfer {tid} ({row['key']}) has {len(legs)} entries, fewer than two")
        total = sum(n for _, n in legs)
        if total != 0:
            report.add(
                f"transfer {tid} ({row['key']}) does not balance: its entries sum to {total}"
            )
        if document_sha256(transfer_document(row, legs)) != row["sha256"]:
            report.add(f"transfer {tid} ({row['key']}) no longer hashes to its sha256")
        if row["reverses_id"] is not None:
            reversals.append((tid, row["reverses_id"]))
        if row["kind"] == "charge":
            _check_price(uow, report, row, legs, price_lists, codes)
            if row["key"].startswith(STORAGE_KEY):
                storage_charges[row["key"][len(STORAGE_KEY) :]] = (tid, legs)
    orphans = cur.execute(
        "SELECT e.id, e.transfer_id FROM ledger_entries e WHERE NOT EXISTS (SELECT 1 FROM "
        "ledger_transfers t WHERE t.tenant_id = e.tenant_id AND t.id = e.transfer_id) ORDER BY e.id"
    ).fetchall()
    for entry_id, tid in orphans:
        report.entries += 1
        report.add(f"entry {entry_id} belongs to transfer {tid}, which is missing")
    seen: dict[uuid.UUID, uuid.UUID] = {}
    for tid, target in sorted(reversals, key=lambda x: str(x[0])):
        if target not in legs_of:
            report.add(f"transfer {tid} reverses transfer {target}, which is missing")
            continue
        if target in seen:
            report.add(f"transfer {target} is reversed twice ({seen[target]} and {tid})")
        seen[target] = tid
        negated = {a: -n for a, n in legs_of[target].items()}
        if legs_of[tid] != negated:
            report.add(f"transfer {tid} does not reverse transfer {target} exactly")
    accounts = cur.execute(
        "SELECT id, code, balance, may_go_negative FROM ledger_accounts ORDER BY code"
    ).fetchall()
    for account_id, code, bal, negative in accounts:
        report.accounts += 1
        expected = sums.pop(account_id, 0)
        if int(bal) != expected:
            report.add(f"account {code} holds {bal}, but its entries sum to {expected}")
        if not negative and int(bal) < 0:
            report.add(f"account {code} may not go negative but holds {bal}")
    for account_id in sorted(sums, key=str):
        report.add(f"entries name account {account_id}, which is missing")
    check_anchors(uow, report, hashes, ACTION, SUBJECT, "transfer")
    _check_price_lists(uow, report)
    _check_storage(uow, report, storage_charges, codes)
    return report


def _check_price(
    uow: UnitOfWork,
    report: LedgerReport,
    row: dict[str, Any],
    legs: Legs,
    lists: dict[int, prices.PriceListVersion | None],
    codes: dict[uuid.UUID, str],
) -> None:
    """A charge priced per event cost what its price list version says."""
    expected = prices.recompute(uow, row["meta"], lists)
    if expected is None:
        return
    meta = row["meta"]
    if expected < 0:
        report.add(
            f"charge {row['id']} ({row['key']}) names price list version {meta.get('price_list')} "
            f"and level {meta.get('level')}, which do not exist"
        )
        return
    charged = {codes.get(a): n for a, n in legs}
    if charged.get(CREDITS) != -expected or charged.get(CONSUMED) != expected:
        report.add(
            f"charge {row['id']} ({row['key']}) took {-(charged.get(CREDITS) or 0)} credits; "
            f"price list version {meta['price_list']} says {expected} at the {meta['level']} level"
        )


_LISTS = (
    "SELECT id, version, effective_from, document, reason, created_by, sha256 "
    "FROM ledger_price_lists ORDER BY id"
)


def _price_list_rows(uow: UnitOfWork, row_id: uuid.UUID | None = None) -> Iterator[dict[str, Any]]:
    sql, params = _LISTS, {}
    if row_id is not None:
        sql, params = _LISTS.replace("ORDER BY", "WHERE id = %(id)s ORDER BY"), {"id": row_id}
    names = ("id", "version", "effective_from", "document", "reason", "created_by", "sha256")
    for r in uow.driver().cursor().execute(sql, params):
        yield dict(zip(names, r, strict=True))


def _check_price_lists(uow: UnitOfWork, report: LedgerReport) -> None:
    """Every price list version hashes to its sha256 and its audit anchor."""
    hashes: dict[str, str] = {}
    for row in _price_list_rows(uow):
        hashes[str(row["id"])] = row["sha256"]
        if document_sha256(prices.price_list_document(row)) != row["sha256"]:
            report.add(f"price list version {row['version']} no longer hashes to its sha256")
    check_anchors(uow, report, hashes, prices.ACTION, prices.SUBJECT, "price list")


_DAYS = (
    "SELECT id, day, bytes, objects, price_list, rate, owed_month, owed_total, charged, "
    "transfer_id, sha256 FROM ledger_storage_days"
)
_DAY_FIELDS = ("id", "day", "bytes", "objects", "price_list", "rate", "owed_month", "owed_total",
               "charged", "transfer_id", "sha256")  # fmt: skip


def _day_rows(
    uow: UnitOfWork, row_id: uuid.UUID | None = None, order: str = "id"
) -> Iterator[dict[str, Any]]:
    sql, params = f"{_DAYS} ORDER BY {order}", {}
    if row_id is not None:
        sql, params = f"{_DAYS} WHERE id = %(id)s", {"id": row_id}
    for r in uow.driver().cursor().execute(sql, params):
        yield dict(zip(_DAY_FIELDS, r, strict=True))


def _check_storage(
    uow: UnitOfWork,
    report: LedgerReport,
    charges: dict[str, tuple[uuid.UUID, Legs]],
    codes: dict[uuid.UUID, str],
) -> None:
    """Every storage day hashes to its sha256 and its anchor, is priced by
    the version in force when it began, owes what its month's days add up
    to, charged what its transfer moved and never more than was owed; every
    storage charge has its day."""
    lists = sorted(prices.versions(uow), key=lambda v: (v.effective_from, v.version))
    hashes: dict[str, str] = {}
    month: list[tuple[int, int]] = []
    previous: dict[str, Any] | None = None
    charged_total = 0
    for row in _day_rows(uow, order="day"):
        rid, day = str(row["id"]), row["day"]
        name = f"storage day {day.isoformat()}"
        hashes[rid] = row["sha256"]
        if document_sha256(storage.storage_day_document(row)) != row["sha256"]:
            report.add(f"{name} no longer hashes to its sha256")
        began = storage.start_of(day)
        in_force = [v for v in lists if v.effective_from <= began]
        version = in_force[-1] if in_force else None
        rate = version.prices.evidence_gb_month if version else None
        if (row["price_list"], row["rate"]) != (
            (version.version, rate) if version else (None, None)
        ):
            report.add(
                f"{name} is priced by version {row['price_list']} at {row['rate']}; the version in "
                f"force when it began says {rate if version else 'not metered'}"
            )
        same_month = previous is not None and previous["day"].replace(day=1) == day.replace(day=1)
        if previous is not None and previous["day"] + timedelta(days=1) != day:
            report.add(f"{name} follows {previous['day'].isoformat()}: days are missing between")
        month = (
            [*month, (row["rate"] or 0, int(row["bytes"]))]
            if same_month
            else [(row["rate"] or 0, int(row["bytes"]))]
        )
        owed = storage.month_owed(month, storage.days_in_month(day))
        carried = 0
        if previous is not None:
            carried = int(previous["owed_total"]) - (
                int(previous["owed_month"]) if same_month else 0
            )
        if int(row["owed_month"]) != owed or int(row["owed_total"]) != carried + owed:
            report.add(
                f"{name} owes {row['owed_month']} for its month and {row['owed_total']} in all; "
                f"its days add up to {owed} and {carried + owed}"
            )
        charged_total += int(row["charged"])
        if charged_total > int(row["owed_total"]):
            report.add(f"{name}: {charged_total} credits charged for storage, "
                       f"more than the {row['owed_total']} owed")  # fmt: skip
        charge = charges.pop(rid, None)
        moved = 0
        if charge is not None:
            moved = -{codes.get(a): n for a, n in charge[1]}.get(CREDITS, 0)
            if row["transfer_id"] != charge[0]:
                report.add(
                    f"{name} names transfer {row['transfer_id']}, not its charge {charge[0]}"
                )
        if moved != int(row["charged"]):
            report.add(f"{name} charged {row['charged']} credits; its transfer moved {moved}")
        previous = row
    for rid in sorted(charges):
        report.add(f"storage charge {charges[rid][0]} names storage day {rid}, which is missing")
    check_anchors(uow, report, hashes, storage.ACTION, storage.SUBJECT, "storage day")


def check_anchors(
    uow: UnitOfWork, report: LedgerReport, hashes: dict[str, str], action: str, subject: str,
    what: str,
) -> None:  # fmt: skip
    """Every record in ``hashes`` (id -> sha256) is anchored by an ``action``
    entry on ``subject`` with that hash, and every such entry names a record."""
    anchored = (
        uow.driver()
        .cursor()
        .execute(
            "SELECT seq, subject_id, payload->'anchor'->>'sha256' FROM audit_events "
            "WHERE action = %(a)s AND subject_type = %(s)s ORDER BY seq",
            {"a": action, "s": subject},
        )
        .fetchall()
    )
    found: set[str] = set()
    for seq, subject_id, sha in anchored:
        found.add(subject_id)
        if subject_id not in hashes:
            report.add(f"{what} {subject_id} is anchored in audit entry {seq} but is missing")
        elif hashes[subject_id] != sha:
            report.add(f"{what} {subject_id}'s sha256 is not the one audit entry {seq} anchors")
    for missing in sorted(set(hashes) - found):
        report.add(f"{what} {missing} has no audit entry anchoring it")


def _records(uow: UnitOfWork, keep: bool, row_id: uuid.UUID | None = None) -> Iterator[Record]:
    for row, legs in _rows(uow, row_id):
        document = transfer_document(row, legs)
        yield Record(SUBJECT, str(row["id"]), SUBJECT, ACTION, document_sha256(document),
                     body=document if keep else None, stated=row["sha256"])  # fmt: skip


def _price_list_records(
    uow: UnitOfWork, keep: bool, row_id: uuid.UUID | None = None
) -> Iterator[Record]:
    for row in _price_list_rows(uow, row_id):
        document = prices.price_list_document(row)
        yield Record(prices.SUBJECT, str(row["id"]), prices.SUBJECT, prices.ACTION,
                     document_sha256(document), body=document if keep else None,
                     stated=row["sha256"])  # fmt: skip


def _storage_records(
    uow: UnitOfWork, keep: bool, row_id: uuid.UUID | None = None
) -> Iterator[Record]:
    for row in _day_rows(uow, row_id):
        document = storage.storage_day_document(row)
        yield Record(storage.SUBJECT, str(row["id"]), storage.SUBJECT, storage.ACTION,
                     document_sha256(document), body=document if keep else None,
                     stated=row["sha256"])  # fmt: skip


SOURCES = (
    Source(SUBJECT, _records),
    Source(prices.SUBJECT, _price_list_records),
    Source(storage.SUBJECT, _storage_records),
)
