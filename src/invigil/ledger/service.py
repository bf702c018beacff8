"""Transfers between a tenant's accounts (ADR 0048).

Every movement is a transfer of whole units between two or more accounts
whose legs sum to zero; the database refuses anything else at commit (a
deferred constraint trigger), and the rows are never updated afterwards.

The order of work in :func:`transfer` is what makes it safe under
concurrency: the idempotency key is looked up first (a retry returns the
original without locking anything); then the balance rows of the accounts
involved are locked in one statement, sorted by account id, so two
transfers over the same accounts always queue in the same order and never
deadlock; the new balances are checked against what may not go negative
(402 naming the account and the shortfall) before anything is written.
The transfer row is inserted with ``ON CONFLICT DO NOTHING`` on its key: a
concurrent retry with the same key waits for the first, then finds it.

Each transfer's canonical JSON (its row and its legs) is hashed, stored on
the row and anchored in its audit entry in the same transaction;
``invigil ledger verify`` and ``invigil audit verify`` re-check both.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from invigil import audit
from invigil.audit.canonical import canonical_json
from invigil.audit.log import APPEND_CTES, append_parameters, jsonable, start_chain
from invigil.audit.records import anchor, document_sha256
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid, NotFound, PaymentRequired

MAX_AMOUNT = 10**12  # whole units in one leg: far beyond any bill, far below 2**53
MAX_LEGS = 16
MAX_META = 8
KEY = re.compile(r"^[A-Za-z0-9._:/-]{1,200}$")
CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
META_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
META_VALUE = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
MAX_REASON = 500

CREDITS = "credits_available"
CONSUMED = "credits_consumed"
REFUNDS = "refunds"
AI_USAGE = "ai_usage"
TOPUPS = "operator_topups"
# The accounts every tenant may use: code -> (kind, may go negative). The
# sources that money enters from (top-ups, goodwill refunds) go negative by
# design; the tenant's own credit and what it consumed never do.
ACCOUNTS: Mapping[str, tuple[str, bool]] = {
    CREDITS: ("credits", False),
    CONSUMED: ("usage", False),
    AI_USAGE: ("usage", False),
    REFUNDS: ("refund", True),
    TOPUPS: ("funding", True),
}
ACTION = "ledger.transferred"
SUBJECT = "ledger_transfer"


class InsufficientFunds(PaymentRequired):
    """An account that may not go negative would: names it and the shortfall."""


@dataclass(frozen=True)
class Leg:
    account: str  # an account code (``ACCOUNTS``)
    amount: int  # whole units; positive adds to the account, negative takes from it


@dataclass(frozen=True)
class Transferred:
    id: uuid.UUID
    key: str
    kind: str
    reason: str
    reverses_id: uuid.UUID | None
    meta: dict[str, str]
    created_at: datetime
    sha256: str
    legs: tuple[Leg, ...]
    replayed: bool = False  # True when a retry returned the original

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "key": self.key,
            "kind": self.kind,
            "reason": self.reason,
            "reverses_id": str(self.reverses_id) if self.reverses_id else None,
            "meta": self.meta,
            "created_at": self.created_at.isoformat(),
            "sha256": self.sha256,
            "legs": [{"account": leg.account, "amount": leg.amount} for leg in self.legs],
            "replayed": self.replayed,
        }


# -- validation ---------------------------------------------------------------


def _key(key: str) -> str:
    if not isinstance(key, str) or not KEY.match(key):
        raise Invalid("key must be 1-200 characters of letters, digits and . _ : / -", field="key")
    return key


def _reason(reason: str) -> str:
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason or len(reason) > MAX_REASON:
        raise Invalid(f"reason must be 1-{MAX_REASON} characters", field="reason")
    return reason


def _amount(amount: object, field: str = "amount") -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise Invalid(f"{field} must be a whole number", field=field)
    if not 0 < abs(amount) <= MAX_AMOUNT:
        raise Invalid(f"{field} must be non-zero and at most {MAX_AMOUNT} units", field=field)
    return amount


def _legs(legs: Sequence[Leg]) -> tuple[Leg, ...]:
    if not 2 <= len(legs) <= MAX_LEGS:
        raise Invalid(f"a transfer needs 2-{MAX_LEGS} legs", field="legs")
    seen: set[str] = set()
    for i, leg in enumerate(legs):
        if leg.account not in ACCOUNTS:
            raise Invalid(f"legs[{i}].account {leg.account!r} is not an account", field="legs")
        if leg.account in seen:
            raise Invalid(f"legs[{i}].account {leg.account} appears twice", field="legs")
        seen.add(leg.account)
        _amount(leg.amount, f"legs[{i}].amount")
    if sum(leg.amount for leg in legs) != 0:
        raise Invalid("the legs of a transfer must sum to zero", field="legs")
    return tuple(sorted(legs, key=lambda leg: leg.account))


def _meta(meta: Mapping[str, object] | None) -> dict[str, str]:
    """Ids only (what caused the transfer), never names or free text."""
    meta = dict(meta or {})
    if len(meta) > MAX_META:
        raise Invalid(f"meta holds at most {MAX_META} ids", field="meta")
    out: dict[str, str] = {}
    for k, v in meta.items():
        value = str(v) if isinstance(v, uuid.UUID) else v
        if not isinstance(k, str) or not META_KEY.match(k):
            raise Invalid(f"meta key {k!r} must be a lowercase identifier", field="meta")
        if not isinstance(value, str) or not META_VALUE.match(value):
            raise Invalid(f"meta.{k} must be an id (1-100 of A-Z a-z 0-9 . _ : -)", field="meta")
        out[k] = value
    return out


def request_sha256(
    kind: str, legs: Sequence[Leg], reason: str, meta: Mapping[str, str], reverses: str | None
) -> str:
    """The hash of what a caller asked for: a retry must ask for the same."""
    body = {
        "kind": kind,
        "legs": [[leg.account, leg.amount] for leg in legs],
        "reason": reason,
        "meta": dict(meta),
        "reverses_id": reverses,
    }
    return hashlib.sha256(canonical_json(body)).hexdigest()


def transfer_document(row: Mapping[str, Any], legs: Sequence[tuple[object, int]]) -> dict[str, Any]:
    """A transfer as its anchored document: its row and its legs (account
    id, amount) sorted by account id. ``ledger verify`` and
    ``audit verify`` rebuild it from the rows."""
    document: dict[str, Any] = jsonable(
        {
            "id": row["id"],
            "key": row["key"],
            "kind": row["kind"],
            "reason": row["reason"],
            "reverses_id": row["reverses_id"],
            "meta": row["meta"],
            "created_by": row["created_by"],
            "created_at": row["created_at"],
            "request_sha256": row["request_sha256"],
        }
    )
    document["entries"] = [[str(a), int(n)] for a, n in sorted(legs, key=lambda x: str(x[0]))]
    return document


# -- accounts -----------------------------------------------------------------


def _accounts(uow: UnitOfWork, codes: Sequence[str]) -> dict[str, uuid.UUID]:
    """The ids of ``codes``, opening the tenant's accounts on first use."""
    cur = uow.driver().cursor()
    rows = cur.execute(
        "SELECT code, id FROM ledger_accounts WHERE code = ANY(%(c)s)", {"c": list(codes)}
    ).fetchall()
    found = {code: aid for code, aid in rows}
    missing = [c for c in codes if c not in found]
    if missing:
        for code in missing:
            kind, negative = ACCOUNTS[code]
            cur.execute(
                "INSERT INTO ledger_accounts (tenant_id, id, code, kind, may_go_negative) "
                "VALUES (%(t)s, %(id)s, %(code)s, %(kind)s, %(neg)s) "
                "ON CONFLICT (tenant_id, code) DO NOTHING",
                {"t": uow.tenant, "id": uuid.uuid4(), "code": code, "kind": kind, "neg": negative},
            )
        rows = cur.execute(
            "SELECT code, id FROM ledger_accounts WHERE code = ANY(%(c)s)", {"c": list(missing)}
        ).fetchall()
        found |= {code: aid for code, aid in rows}
    return found


def balances(uow: UnitOfWork) -> dict[str, int]:
    """Every account's current balance, by code (O(1) per account: kept
    beside the entries, never summed on read)."""
    rows = uow.driver().cursor().execute("SELECT code, balance FROM ledger_accounts ORDER BY code")
    return {code: int(balance) for code, balance in rows}


def balance(uow: UnitOfWork, code: str = CREDITS) -> int:
    if code not in ACCOUNTS:
        raise Invalid(f"account {code!r} is not an account", field="account")
    return balances(uow).get(code, 0)


# -- transfers ----------------------------------------------------------------

_COLUMNS = (
    "id, key, kind, reason, reverses_id, meta, created_by, created_at, request_sha256, sha256"
)


def _loaded(uow: UnitOfWork, where: str, params: dict[str, Any]) -> Transferred | None:
    cur = uow.driver().cursor()
    row = cur.execute(f"SELECT {_COLUMNS} FROM ledger_transfers WHERE {where}", params).fetchone()
    if row is None:
        return None
    legs = cur.execute(
        "SELECT a.code, e.amount FROM ledger_entries e JOIN ledger_accounts a "
        "ON a.tenant_id = e.tenant_id AND a.id = e.account_id "
        "WHERE e.transfer_id = %(id)s ORDER BY a.code",
        {"id": row[0]},
    ).fetchall()
    return Transferred(
        row[0], row[1], row[2], row[3], row[4], dict(row[5]), row[7], row[9],
        tuple(Leg(code, int(amount)) for code, amount in legs),
    )  # fmt: skip


def get(uow: UnitOfWork, transfer_id: uuid.UUID) -> Transferred:
    found = _loaded(uow, "id = %(id)s", {"id": transfer_id})
    if found is None:
        raise NotFound(f"no transfer {transfer_id}")
    return found


def by_key(uow: UnitOfWork, key: str) -> Transferred | None:
    """The transfer written under idempotency key ``key``, if any."""
    return _loaded(uow, "key = %(k)s", {"k": key})


def credits_moved(uow: UnitOfWork, transfer_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """What each of ``transfer_ids`` added to credits_available (one query)."""
    if not transfer_ids:
        return {}
    rows = (
        uow.driver()
        .cursor()
        .execute(
            "SELECT e.transfer_id, e.amount FROM ledger_entries e JOIN ledger_accounts a "
            "ON a.tenant_id = e.tenant_id AND a.id = e.account_id "
            "WHERE a.code = %(code)s AND e.transfer_id = ANY(%(ids)s)",
            {"code": CREDITS, "ids": list(transfer_ids)},
        )
    )
    return {tid: int(amount) for tid, amount in rows}


def reversal_of(uow: UnitOfWork, transfer_id: uuid.UUID) -> Transferred | None:
    """The transfer that reverses ``transfer_id``, if it was reversed."""
    return _loaded(uow, "reverses_id = %(id)s", {"id": transfer_id})


def _replay(uow: UnitOfWork, key: str, asked: str) -> Transferred | None:
    cur = uow.driver().cursor()
    row = cur.execute(
        "SELECT id, request_sha256 FROM ledger_transfers WHERE key = %(k)s", {"k": key}
    ).fetchone()
    if row is None:
        return None
    if row[1] != asked:
        raise Conflict(
            f"idempotency key {key} was used for a different transfer", field="key", key=key
        )
    original = get(uow, row[0])
    return Transferred(**{**original.__dict__, "replayed": True})


# Tenants whose accounts this process saw committed: their ids by code.
# Accounts are never deleted, so the ids stay right; the transfer statement
# checks them anyway (a restored database) and the entry is then dropped.
_OPENED: dict[uuid.UUID, dict[str, uuid.UUID]] = {}
_OPENED_MAX = 100_000

_LOCK = (
    "SELECT id, code, balance, may_go_negative FROM ledger_accounts "
    "WHERE code = ANY(%(codes)s) ORDER BY id FOR UPDATE"
)
# The whole transfer in one statement (one round trip): lock the balance
# rows in account-id order (by the ids ``_open`` remembered: a stale id locks
# nothing, and then nothing is written); write only if every leg's account is
# among them and none that may not go negative would; insert the transfer
# (nothing if its key is taken: a concurrent request with it committed first),
# its entries and the new balances; append its audit entry, anchoring its
# hash, once the transfer row exists. The locks are taken in that order:
# balance rows, then (behind the gate) the tenant's audit head. The entries'
# foreign key to the transfer is checked at the end of the statement, the
# balance of the transfer at commit (the deferred trigger).
_WRITE = (
    """
    WITH locked AS (
        SELECT id, balance, may_go_negative FROM ledger_accounts
        WHERE tenant_id = %(t)s AND id = ANY(%(accounts)s::uuid[]) ORDER BY id FOR UPDATE
    ), legs AS (
        SELECT * FROM unnest(%(accounts)s::uuid[], %(amounts)s::bigint[]) AS l(account, amount)
    ), ready AS (
        SELECT (SELECT count(*) FROM locked JOIN legs ON legs.account = locked.id) AS found,
               NOT EXISTS (
                   SELECT 1 FROM locked JOIN legs ON legs.account = locked.id
                   WHERE NOT locked.may_go_negative AND locked.balance + legs.amount < 0
               ) AS funded
    ), t AS (
        INSERT INTO ledger_transfers (tenant_id, id, created_at, key, kind, reason, reverses_id,
                                      meta, created_by, request_sha256, sha256)
        SELECT %(t)s, %(id)s, %(created_at)s, %(key)s, %(kind)s, %(reason)s, %(reverses_id)s,
               %(meta)s, %(created_by)s, %(request_sha256)s, %(sha)s
        FROM ready WHERE ready.funded AND ready.found = %(n)s
        ON CONFLICT (tenant_id, key) DO NOTHING RETURNING id
    ), e AS (
        INSERT INTO ledger_entries (tenant_id, id, created_at, transfer_id, account_id, amount)
        SELECT %(t)s, gen_random_uuid(), %(created_at)s, t.id, legs.account, legs.amount
        FROM t, legs
        RETURNING account_id, amount
    ), b AS (
        UPDATE ledger_accounts a SET balance = a.balance + e.amount, updated_at = %(created_at)s
        FROM e WHERE a.tenant_id = %(t)s AND a.id = e.account_id
        RETURNING a.id
    ),"""
    + APPEND_CTES.replace("{gate}", "EXISTS (SELECT 1 FROM t)")
    + """
    SELECT ready.found, ready.funded, (SELECT count(*) FROM t), (SELECT count(*) FROM b),
           (SELECT count(*) FROM audit_appended)
    FROM ready
    """
)


def _open(uow: UnitOfWork) -> dict[str, uuid.UUID]:
    """The ids of the tenant's catalogue accounts, opened on first use and
    remembered per process once seen committed. They are opened before any
    balance row is locked: the inserts may wait for a concurrent first
    transfer of the same tenant, which holds no lock we hold, so first use
    cannot deadlock either. Accounts are never deleted. The tenant's audit
    chain is started here too, so that the transfer's append finds its head."""
    known = _OPENED.get(uow.tenant)
    if known is not None:
        return known
    cur = uow.driver().cursor()
    rows = cur.execute("SELECT code, id FROM ledger_accounts").fetchall()
    found = {code: aid for code, aid in rows}
    if len(found) < len(ACCOUNTS):
        # Opened here or by a transaction that may still roll back: cached
        # only once a later transaction finds them all committed.
        start_chain(uow)
        return _accounts(uow, list(ACCOUNTS))
    if len(_OPENED) >= _OPENED_MAX:
        _OPENED.clear()
    _OPENED[uow.tenant] = found
    return found


def lock_balances(uow: UnitOfWork, codes: Sequence[str]) -> dict[str, int]:
    """Lock the balance rows of ``codes`` as :func:`transfer` does (account-id
    order, so no deadlock) and return them: a caller that must size a
    transfer by a balance (take what is there) sees the one it will move."""
    _open(uow)
    rows = uow.driver().cursor().execute(_LOCK, {"codes": list(codes)}).fetchall()
    return {code: int(bal) for _aid, code, bal, _neg in rows}


def transfer(
    uow: UnitOfWork,
    key: str,
    kind: str,
    legs: Sequence[Leg],
    *,
    reason: str,
    meta: Mapping[str, object] | None = None,
    now: datetime,
    reverses: uuid.UUID | None = None,
) -> Transferred:
    """Move whole units between accounts, once per ``key``: a retry with the
    same body returns the original (``replayed``), with another body is a
    409 naming the key; an account that may not go negative and would is a
    402 naming it and the shortfall. Written, balanced and anchored in the
    caller's transaction, in one statement (lock, check, write, audit)."""
    key = _key(key)
    if not isinstance(kind, str) or not KIND.match(kind):
        raise Invalid("kind must be a lowercase identifier", field="kind")
    reason = _reason(reason)
    ordered = _legs(legs)
    clean = _meta(meta)
    asked = request_sha256(kind, ordered, reason, clean, str(reverses) if reverses else None)
    if reverses is not None:  # a reversal negates its transfer exactly (``reverse``)
        original = get(uow, reverses)
        if {(leg.account, -leg.amount) for leg in original.legs} != {
            (leg.account, leg.amount) for leg in ordered
        }:
            raise Invalid(f"the legs must negate those of transfer {reverses}", field="legs")
    ids = _open(uow)
    tid = uuid.uuid4()
    row = {
        "id": tid, "key": key, "kind": kind, "reason": reason, "reverses_id": reverses,
        "meta": clean, "created_by": f"{uow.actor.kind}:{uow.actor.id}"[:200],
        "created_at": now, "request_sha256": asked,
    }  # fmt: skip
    accounts = [ids[leg.account] for leg in ordered]
    amounts = [leg.amount for leg in ordered]
    sha = document_sha256(transfer_document(row, list(zip(accounts, amounts, strict=True))))
    payload = {
        "key": key,
        "kind": kind,
        "reverses_id": str(reverses) if reverses else None,
        "legs": {leg.account: leg.amount for leg in ordered},
        "meta": clean,
        "anchor": anchor(SUBJECT, sha),
    }
    params, _stored = append_parameters(uow, ACTION, (SUBJECT, tid), payload)
    cur = uow.driver().cursor()
    found, funded, written, moved, appended = cur.execute(
        _WRITE,
        {**row, **params, "t": uow.tenant, "meta": Jsonb(clean), "sha": sha,
         "accounts": accounts, "amounts": amounts,
         "n": len(ordered)},
    ).fetchone()  # fmt: skip
    if found != len(ordered):  # deleted or replaced behind the ledger's back (a restore)
        _OPENED.pop(uow.tenant, None)
        raise Conflict("this tenant's ledger accounts were missing; try again")
    if not funded:
        replayed = _replay(uow, key, asked)  # a retry is answered even when short now
        if replayed is not None:
            return replayed
        _short(uow, ordered)
    if not written:  # the key is taken: the original, or a 409
        again = _replay(uow, key, asked)
        assert again is not None
        return again
    if moved != len(ordered):
        raise RuntimeError(f"transfer {tid} moved {moved} balances of {len(ordered)}")
    if not appended:  # the tenant's audit chain had no head row yet
        audit.record(uow, ACTION, (SUBJECT, tid), payload)
    return Transferred(tid, key, kind, reason, reverses, clean, now, sha, ordered)


def _short(uow: UnitOfWork, ordered: Sequence[Leg]) -> None:
    """Raise the 402 of the first leg that would overdraw its account (the
    rows are locked by this transaction: the balances are those it saw)."""
    locked = uow.driver().cursor().execute(_LOCK, {"codes": [leg.account for leg in ordered]})
    by_code = {code: (int(bal), neg) for _aid, code, bal, neg in locked.fetchall()}
    for leg in ordered:
        bal, negative = by_code[leg.account]
        if not negative and bal + leg.amount < 0:
            short = -(bal + leg.amount)
            raise InsufficientFunds(
                f"account {leg.account} holds {bal} units, {short} short of the {-leg.amount} "
                "this transfer takes",
                account=leg.account,
                balance=bal,
                shortfall=short,
            )
    raise RuntimeError("the transfer was refused for funds no leg lacks")


def reverse(
    uow: UnitOfWork, transfer_id: uuid.UUID, reason: str, key: str, *, now: datetime
) -> Transferred:
    """Undo a transfer with a new one of negated legs, linked to it: the
    correction is a record too. A transfer is reversed once (the database
    holds ``reverses_id`` unique); a reversal is not itself reversed."""
    original = get(uow, transfer_id)
    if original.reverses_id is not None:
        raise Conflict(f"transfer {transfer_id} is a reversal; it cannot be reversed")
    legs = [Leg(leg.account, -leg.amount) for leg in original.legs]
    done = (
        uow.driver()
        .cursor()
        .execute("SELECT key FROM ledger_transfers WHERE reverses_id = %(id)s", {"id": transfer_id})
        .fetchone()
    )
    if done is not None and done[0] != key:
        raise Conflict(f"transfer {transfer_id} was already reversed (by {done[0]})")
    return transfer(
        uow, key, "reversal", legs, reason=reason,
        meta={"reverses": str(transfer_id)}, now=now, reverses=transfer_id,
    )  # fmt: skip


def charge(
    uow: UnitOfWork,
    amount: int,
    event: tuple[str, uuid.UUID],
    *,
    now: datetime,
    account: str = CONSUMED,
    reason: str | None = None,
    meta: Mapping[str, object] | None = None,
) -> Transferred:
    """Charge a business event (``("invitation", id)``, ``("attempt", id)``)
    in the event's own transaction: ``amount`` from credits_available to
    ``account`` (credits_consumed, or ai_usage). Once per event: the key is
    the event, so a retried request charges nothing twice. ``meta`` adds
    ids beside the event's (the price list version and level it was priced by)."""
    name, event_id = event
    if not isinstance(name, str) or not META_KEY.match(name):
        raise Invalid("event must name its kind as a lowercase identifier", field="event")
    if account not in (CONSUMED, AI_USAGE):
        raise Invalid(f"account {account!r} is not an account charges go to", field="account")
    units = _amount(amount)
    if units < 0:
        raise Invalid("amount must be positive", field="amount")
    return transfer(
        uow, f"charge:{name}:{event_id}", "charge",
        [Leg(CREDITS, -units), Leg(account, units)],
        reason=reason or f"charge for {name}", meta={**(meta or {}), name: str(event_id)},
        now=now,
    )  # fmt: skip


def credit(uow: UnitOfWork, amount: int, reference: str, *, now: datetime) -> Transferred:
    """An operator's top-up of ``amount`` credits, once per ``reference``
    (an invoice or payment number): running it again returns the first."""
    units = _amount(amount)
    if units < 0:
        raise Invalid("amount must be positive", field="amount")
    if not isinstance(reference, str) or not META_VALUE.match(reference):
        raise Invalid("reference must be 1-100 of A-Z a-z 0-9 . _ : -", field="reference")
    return transfer(
        uow, f"topup:{reference}", "topup", [Leg(TOPUPS, -units), Leg(CREDITS, units)],
        reason="operator top-up", meta={"reference": reference}, now=now,
    )  # fmt: skip


@dataclass(frozen=True)
class HistoryPage:
    items: list[Transferred]
    next_before: tuple[datetime, uuid.UUID] | None


def history(
    uow: UnitOfWork,
    *,
    limit: int = 50,
    before: tuple[datetime, uuid.UUID] | None = None,
    kind: str | None = None,
) -> HistoryPage:
    """Transfers newest first, a page at a time (keyset on created_at, id),
    optionally of one kind."""
    if not 1 <= limit <= 500:
        raise Invalid("limit must be 1-500", field="limit")
    if kind is not None and not KIND.match(kind):
        raise Invalid("kind must be a lowercase identifier", field="kind")
    where = ["true"]
    params: dict[str, Any] = {"n": limit + 1}
    if before is not None:
        where.append("(created_at, id) < (%(at)s, %(id)s)")
        params |= {"at": before[0], "id": before[1]}
    if kind is not None:
        where.append("kind = %(kind)s")
        params |= {"kind": kind}
    ids = (
        uow.driver()
        .cursor()
        .execute(
            f"SELECT id FROM ledger_transfers WHERE {' AND '.join(where)} "
            "ORDER BY created_at DESC, id DESC LIMIT %(n)s",
            params,
        )
        .fetchall()
    )
    items = [get(uow, r[0]) for r in ids[:limit]]
    more = len(ids) > limit
    return HistoryPage(items, (items[-1].created_at, items[-1].id) if more and items else None)
