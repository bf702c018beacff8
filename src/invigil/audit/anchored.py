"""Checking the live rows of a tenant against the anchors in its log, and
exporting them beside the log (see :mod:`invigil.audit.records`).

The domains hand in a :class:`Source` per kind of record: how to read that
kind's records from the rows, sorted by id, one at a time. The anchors are
read in the same order from the log, so both sides stream: a tenant with a
million attempts is checked in the memory of one record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from invigil.audit.records import (
    ANCHOR,
    LEGACY_ANCHORS,
    Anchor,
    Record,
    Recording,
    RecordsReport,
    anchor_in,
    check_records,
)
from invigil.db.uow import UnitOfWork


@dataclass(frozen=True)
class Source:
    """One kind of anchored record: ``read(uow, keep)`` yields its records
    sorted by id (keeping each one's body when ``keep``, for an export)."""

    kind: str
    read: Callable[[UnitOfWork, bool], Iterable[Record]]


# Every entry that carries an anchor (or a legacy one), sorted as
# check_records reads them: by kind (a legacy anchor's from its action), id
# and position. COLLATE "C" sorts as Python compares strings.
_LEGACY_KIND = " ".join(
    f"WHEN '{action}' THEN '{kind}'" for action, (kind, _) in LEGACY_ANCHORS.items()
)
_ANCHORS = f"""
    SELECT action, subject_id, payload, seq FROM audit_events
    WHERE payload ? %(key)s OR action = ANY(%(legacy)s)
    ORDER BY coalesce(payload->%(key)s->>'kind', CASE action {_LEGACY_KIND} END) COLLATE "C",
             subject_id COLLATE "C", seq
"""


def stream(
    uow: UnitOfWork, sql: str, params: dict[str, Any], name: str | None = None
) -> Iterator[Any]:
    """Rows through the server-side cursor ``name``, a batch at a time (or,
    without a name, all at once: for the few rows of one record)."""
    driver = uow.driver()
    if name is None:
        yield from driver.cursor().execute(sql, params)
        return
    with driver.cursor(name=name) as cursor:
        cursor.itersize = 2_000
        cursor.execute(sql, params)
        yield from cursor


def anchors(uow: UnitOfWork) -> Iterator[Anchor]:
    params = {"key": ANCHOR, "legacy": list(LEGACY_ANCHORS)}
    for action, subject, payload, seq in stream(uow, _ANCHORS, params, "audit_anchors"):
        found = anchor_in(action, subject, payload, seq)
        if found is not None:
            yield found


def recorded(uow: UnitOfWork, record: Record) -> Recording | None:
    """The log's first entry that records ``record`` (without an anchor), if any."""
    row = uow.session.execute(
        text(
            "SELECT seq, payload FROM audit_events WHERE subject_type = :t "
            "AND subject_id = :i AND action = :a ORDER BY seq LIMIT 1"
        ),
        {"t": record.subject_type, "i": record.id, "a": record.recorded_by},
    ).first()
    if row is None:
        return None
    return Recording(int(row[0]), row[1] if isinstance(row[1], dict) else {})


# Records a higher layer deleted or altered on purpose (retention purges):
# each provider maps (kind, id) to the receipt that did it, as text. Registered
# by the domain that purges (retention), so that audit imports none.
_purged: list[Callable[[UnitOfWork], Mapping[tuple[str, str], str]]] = []


def register_purged(provider: Callable[[UnitOfWork], Mapping[tuple[str, str], str]]) -> None:
    if provider not in _purged:
        _purged.append(provider)


def purged_records(uow: UnitOfWork) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for provider in _purged:
        out.update(provider(uow))
    return out


def verify_records(uow: UnitOfWork, sources: Sequence[Source]) -> RecordsReport:
    """Recompute every record's hash from its rows and compare it with its
    anchor (a record purged under a receipt is reported as such)."""
    readers = {s.kind: s for s in sources}
    return check_records(
        readers,
        anchors(uow),
        lambda kind: readers[kind].read(uow, False),
        lambda r: recorded(uow, r),
        purged=purged_records(uow),
    )


def export_records(uow: UnitOfWork, sources: Sequence[Source]) -> list[dict[str, Any]]:
    """Every record as the rows hold it now, for the offline verifier."""
    out = []
    for source in sorted(sources, key=lambda s: s.kind):
        for r in source.read(uow, True):
            item: dict[str, Any] = {
                "kind": r.kind,
                "id": r.id,
                "subject_type": r.subject_type,
                "recorded_by": r.recorded_by,
            }
            item["items" if r.count is not None else "document"] = r.body
            if r.stated is not None:
                item["stated_sha256"] = r.stated
            out.append(item)
    return out
