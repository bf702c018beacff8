"""Invite many candidates from one CSV file, all or nothing.

Every row is checked before anything is written; one bad row refuses the
whole file with a report naming each problem by line. Columns and rules:
``docs/delivery-formats.md``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from invigil import i18n
from invigil.db.uow import UnitOfWork
from invigil.delivery.invitations import (
    Invited,
    InviteRequest,
    Kit,
    billing_level,
    invite,
    published_exam,
    window,
)
from invigil.errors import DomainError, Invalid
from invigil.identity.service import normalise_email
from invigil.ledger import prices

MAX_ROWS = 5000
MAX_BYTES = 2 * 1024 * 1024
REQUIRED = ("name", "email")
OPTIONAL = ("external_ref", "extra_time_percent", "opens_at", "closes_at", "language")


@dataclass
class Row:
    line: int
    request: InviteRequest


def parse(
    content: bytes, exam: str, valid_hours: int | None
) -> tuple[list[Row], list[dict[str, object]]]:
    problems: list[dict[str, object]] = []

    def bad(line: int, message: str) -> None:
        problems.append({"where": f"line {line}", "line": line, "message": message})

    if len(content) > MAX_BYTES:
        bad(1, f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
        return [], problems
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        bad(1, "the file is not UTF-8 text")
        return [], problems
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if missing:
        bad(1, f"missing column(s): {', '.join(missing)}")
    if unknown:
        bad(1, f"unknown column(s): {', '.join(unknown)}")
    if problems:
        return [], problems
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        if len(rows) >= MAX_ROWS:
            bad(line, f"at most {MAX_ROWS} candidates per file")
            break
        if None in record:
            bad(line, "this row has more cells than the header")
            continue
        cells = {k: (v or "").strip() for k, v in record.items()}
        if not any(cells.values()):
            continue  # a blank line
        try:
            rows.append(Row(line, _request(cells, exam, valid_hours)))
        except Invalid as exc:
            bad(line, exc.detail)
            continue
        key = cells["email"].lower()
        if key in seen:
            bad(line, f"{cells['email']} is already invited on line {seen[key]} of this file")
        seen.setdefault(key, line)
    if not rows and not problems:
        bad(1, "the file holds no candidates")
    return rows, problems


def _request(cells: dict[str, str], exam: str, valid_hours: int | None) -> InviteRequest:
    name = cells["name"]
    if not name or len(name) > 200:
        raise Invalid("name: give 1-200 characters")
    email = normalise_email(cells["email"])
    extra: int | None = None
    if cells.get("extra_time_percent"):
        try:
            extra = int(cells["extra_time_percent"])
        except ValueError:
            raise Invalid("extra_time_percent: give a whole number from 0 to 300") from None
        if not 0 <= extra <= 300:
            raise Invalid("extra_time_percent: give a whole number from 0 to 300")
    if len(cells.get("external_ref", "")) > 200:
        raise Invalid("external_ref: at most 200 characters")
    language = cells.get("language", "").strip() or None
    if language is not None and i18n.normalise(language) is None:
        raise Invalid(f"language: {language[:35]!r} is not a language Invigil offers")
    return InviteRequest(
        name=name,
        email=email,
        exam=exam,
        external_ref=cells.get("external_ref", ""),
        extra_time_percent=extra,
        opens_at=_time(cells, "opens_at"),
        closes_at=_time(cells, "closes_at"),
        valid_hours=valid_hours,
        language=language,
    )


def _time(cells: dict[str, str], column: str) -> datetime | None:
    value = cells.get(column, "")
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"{column}: {value!r} is not a time (use 2026-12-01T09:00Z)") from None
    if at.tzinfo is None:
        raise Invalid(f"{column}: give the time zone (e.g. 2026-12-01T09:00Z)")
    return at


def invite_many(
    uow: UnitOfWork,
    kit: Kit,
    content: bytes,
    *,
    exam: str,
    valid_hours: int | None = None,
    send_mail: bool = True,
) -> list[Invited]:
    _, version = published_exam(uow, exam)  # the exam itself is not a per-row problem
    rows, problems = parse(content, exam, valid_hours)
    now = datetime.now(UTC)
    for row in rows:
        try:
            window(row.request, version, kit.valid_hours, now)
        except DomainError as exc:
            problems.append({"where": f"line {row.line}", "line": row.line, "message": exc.detail})
    if problems:
        problems.sort(key=lambda p: int(str(p["line"])))
        n = len(problems)
        raise Invalid(
            f"nobody was invited: the file has {n} problem{'s' if n > 1 else ''}; "
            "fix them and upload the whole file again",
            problems=problems,
        )
    # Refused whole, before anything is written or sent, when the credit
    # cannot pay for every row (each invitation is still charged as it is made).
    prices.require_funds(
        uow, prices.quote(uow, "invitation", billing_level(version), len(rows), now=now)
    )
    return [invite(uow, kit, replace(r.request, send_mail=send_mail), now) for r in rows]
