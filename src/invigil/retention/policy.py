"""A tenant's retention policy: how long each class of candidate data is
kept, counted from which event, and what happens at the end.

A policy (docs/formats/retention-policy.md) names, for each data class, a
number of days (or ``null``: kept for the tenant's lifetime), the event the
days are counted from, and the action at the end: ``delete`` or
``anonymise`` (keep scores and statistics, drop identity). The audit log is
not a class a tenant can set: it is kept for the tenant's lifetime (its
entries are hashes and ids, not personal data).

Each change is a new version, written once and anchored in the audit log
(``retention.policy_set``). A tenant that never wrote one runs under the
documented defaults, version 0. An attempt freezes the version in force at
its start (``attempts.retention_version``), and its consent text states
that version's periods.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from invigil import audit
from invigil.audit.records import anchor, document_sha256
from invigil.db.uow import UnitOfWork
from invigil.errors import Invalid
from invigil.retention.models import RetentionPolicy

ACTION = "retention.policy_set"
SUBJECT = "retention_policy"
MAX_REASON = 2000
MAX_DAYS = 36_500  # a hundred years: longer is "the tenant's lifetime" (null)
MAX_CONTEST_DAYS = 60
# Data-subject requests are answered within this many days (GDPR art. 12(3)).
REQUEST_DUE_DAYS = 30

# The data classes a tenant sets, in the order pages and reports list them.
CLASSES = (
    "candidate_identity",  # name, e-mail, external reference
    "evidence",  # snapshots, screen recordings, ID photos, room checks
    "proctoring_events",  # the events and the policy's actions on them
    "answers",  # what the candidate answered
    "results",  # scores, result cells, releases, certificates
    "invitations_mail",  # invitations, guest links, mail sent
)
AUDIT_LOG = "audit_log"  # not settable: the tenant's lifetime
EVENTS = ("attempt_submitted", "result_released", "certificate_expired", "candidate_last_active")
ACTIONS = ("delete", "anonymise")
PRESETS = ("practice", "standard", "strict", "high_stakes")

# For each class, the events its days may be counted from and the actions
# that may end it. Identity is anonymised, never deleted: results and
# statistics keep pointing at the (now anonymous) candidate.
ALLOWED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "candidate_identity": (("candidate_last_active", "certificate_expired"), ("anonymise",)),
    "evidence": (("attempt_submitted", "result_released"), ("delete",)),
    "proctoring_events": (("attempt_submitted", "result_released"), ("delete", "anonymise")),
    "answers": (("attempt_submitted", "result_released"), ("delete",)),
    "results": (
        ("result_released", "certificate_expired", "candidate_last_active"),
        ("anonymise", "delete"),
    ),
    "invitations_mail": (("attempt_submitted", "candidate_last_active"), ("delete",)),
}

Days = Annotated[int, Field(ge=1, le=MAX_DAYS, strict=True)]


class Rule(BaseModel):
    """One class's rule: kept ``keep_days`` (None: the tenant's lifetime)
    after ``start``, then ``then``. Evidence may keep a different number of
    days per proctoring preset (``by_preset``), as the consent text tells."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    keep_days: Days | None
    start: Literal[
        "attempt_submitted", "result_released", "certificate_expired", "candidate_last_active"
    ] = Field(alias="from")
    then: Literal["delete", "anonymise"]
    by_preset: dict[Literal["practice", "standard", "strict", "high_stakes"], Days] | None = None

    def days_for(self, preset: str | None) -> int | None:
        """The days kept for an attempt under ``preset`` (None: kept)."""
        if self.by_preset and preset in self.by_preset:
            return self.by_preset[preset]
        return self.keep_days

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"keep_days": self.keep_days, "from": self.start, "then": self.then}
        if self.by_preset is not None:
            out["by_preset"] = dict(self.by_preset)
        return out


class Classes(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    candidate_identity: Rule
    evidence: Rule
    proctoring_events: Rule
    answers: Rule
    results: Rule
    invitations_mail: Rule


class PolicyDocument(BaseModel):
    """A retention policy as written: every class required, nothing else."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    classes: Classes
    # Days a candidate has, after submitting, to contest a flag or a
    # provisional integrity fail before it may become final (0: no window).
    contest_window_days: int = Field(ge=0, le=MAX_CONTEST_DAYS, strict=True)

    def rule(self, data_class: str) -> Rule:
        if data_class not in CLASSES:
            raise KeyError(data_class)
        rule: Rule = getattr(self.classes, data_class)
        return rule

    def as_json(self) -> dict[str, Any]:
        return {
            "classes": {name: self.rule(name).as_json() for name in CLASSES},
            "contest_window_days": self.contest_window_days,
        }


def parse(document: object) -> PolicyDocument:
    """A policy from its JSON, or :class:`Invalid` naming the first bad field."""
    if not isinstance(document, Mapping):
        raise Invalid("a retention policy is a JSON object", field="policy")
    try:
        parsed = PolicyDocument.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "policy"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise Invalid(f"{where}: {message}", field=where) from None
    for name in CLASSES:
        rule = parsed.rule(name)
        events, actions = ALLOWED[name]
        if rule.start not in events:
            where = f"classes.{name}.from"
            raise Invalid(f"{where} must be one of: {', '.join(events)}", field=where)
        if rule.then not in actions:
            where = f"classes.{name}.then"
            raise Invalid(f"{where} must be one of: {', '.join(actions)}", field=where)
        if rule.by_preset is not None and name != "evidence":
            where = f"classes.{name}.by_preset"
            raise Invalid(f"{where}: only evidence is kept by proctoring preset", field=where)
    return parsed


# The documented defaults (docs/formats/retention-policy.md), in force as
# version 0 until a tenant writes its own. Evidence keeps the days the
# consent text has always told by preset.
DEFAULT = parse(
    {
        "classes": {
            "candidate_identity": {
                "keep_days": 730, "from": "candidate_last_active", "then": "anonymise"
            },
            "evidence": {
                "keep_days": 365, "from": "attempt_submitted", "then": "delete",
                "by_preset": {"practice": 30, "standard": 90, "strict": 180, "high_stakes": 365},
            },
            "proctoring_events": {
                "keep_days": 365, "from": "attempt_submitted", "then": "anonymise"
            },
            "answers": {"keep_days": 730, "from": "attempt_submitted", "then": "delete"},
            "results": {"keep_days": None, "from": "result_released", "then": "anonymise"},
            "invitations_mail": {"keep_days": 180, "from": "attempt_submitted", "then": "delete"},
        },
        "contest_window_days": 7,
    }
)  # fmt: skip


@dataclass(frozen=True)
class PolicyVersion:
    """One version as pages, the API and the purge read it (version 0: the
    defaults, never written: no id, no hash)."""

    version: int
    document: PolicyDocument
    id: uuid.UUID | None = None
    created_at: datetime | None = None
    created_by: str = ""
    reason: str = ""
    sha256: str = ""

    @property
    def is_default(self) -> bool:
        return self.version == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "is_default": self.is_default,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "created_by": self.created_by or None,
            "reason": self.reason or None,
            "sha256": self.sha256 or None,
            "policy": self.document.as_json(),
            "audit_log": "tenant_lifetime",
        }


DEFAULT_VERSION = PolicyVersion(0, DEFAULT)


def policy_document(row: RetentionPolicy | Mapping[str, Any]) -> dict[str, Any]:
    """A version as its anchored document (the verifier rebuilds it from the row)."""

    def get(key: str) -> Any:
        return row[key] if isinstance(row, Mapping) else getattr(row, key)

    return {
        "id": str(get("id")),
        "version": int(get("version")),
        "policy": get("document"),
        "reason": get("reason"),
        "created_by": get("created_by"),
    }


def _version(row: RetentionPolicy) -> PolicyVersion:
    return PolicyVersion(
        row.version, PolicyDocument.model_validate(row.document), row.id, row.created_at,
        row.created_by, row.reason, row.sha256,
    )  # fmt: skip


def set_policy(uow: UnitOfWork, document: object, *, reason: str) -> PolicyVersion:
    """Write the tenant's next version, in force from now (attempts already
    started keep the version they froze)."""
    body = parse(document).as_json()
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason or len(reason) > MAX_REASON:
        raise Invalid(f"reason must be 1-{MAX_REASON} characters", field="reason")
    cur = uow.driver().cursor()
    # One writer at a time per tenant: the next version number is taken under lock.
    cur.execute("SELECT pg_advisory_xact_lock(hashtext('retention_policies:' || %(t)s))",
                {"t": str(uow.tenant)})  # fmt: skip
    last = cur.execute("SELECT coalesce(max(version), 0) FROM retention_policies").fetchone()
    row = RetentionPolicy(
        id=uuid.uuid4(),
        tenant_id=uow.tenant,
        version=int(last[0] if last else 0) + 1,
        document=body,
        reason=reason,
        created_by=f"{uow.actor.kind}:{uow.actor.id}"[:200],
        sha256="",
    )
    row.sha256 = document_sha256(policy_document(row))
    uow.add(row)
    uow.flush()
    audit.record(
        uow,
        ACTION,
        (SUBJECT, row.id),
        {
            "version": row.version,
            "policy_sha256": document_sha256(body),
            "anchor": anchor(SUBJECT, row.sha256),
        },
    )
    return _version(row)


def versions(uow: UnitOfWork) -> list[PolicyVersion]:
    """Every written version, newest first (the defaults are not listed)."""
    rows = uow.scalars(select(RetentionPolicy).order_by(RetentionPolicy.version.desc()))
    return [_version(r) for r in rows]


def current(uow: UnitOfWork) -> PolicyVersion:
    """The version in force now: the latest written, or the defaults."""
    row = uow.scalar(select(RetentionPolicy).order_by(RetentionPolicy.version.desc()).limit(1))
    return _version(row) if row is not None else DEFAULT_VERSION


def by_version(uow: UnitOfWork, version: int) -> PolicyVersion | None:
    """A version by number (0: the defaults); None when there is no such version."""
    if version == 0:
        return DEFAULT_VERSION
    row = uow.scalar(select(RetentionPolicy).where(RetentionPolicy.version == version))
    return _version(row) if row is not None else None
