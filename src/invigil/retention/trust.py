"""The trust report: what a tenant's security and privacy posture is, read
from the live settings and rows at the moment it is generated (ADR 0061).

Nothing in it is a claim written down once: the region and the store are
the ones the evidence service would use for this tenant now, the
retention rules are the version in force, the holds are the ones not
lifted, the audit log's state is the latest verification kept (the daily
one, one an administrator asked for, or the command's own, run just
before it builds the report; :mod:`invigil.audit.verifications`), the key
dates are read from the key files and rows, and the sub-processors are the
endpoints configured in this process. ``build`` gathers it as one JSON
document; ``text``, ``html`` and ``pdf`` present the same document (the
CLI ``invigil trust report``, the page ``/admin/trust``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from markupsafe import Markup
from sqlalchemy import func, select

from invigil import __version__, i18n
from invigil.ai import config as ai_config
from invigil.audit import verifications
from invigil.audit.anchored import Source
from invigil.audit.models import AuditCheckpoint, AuditHead, Verification
from invigil.db import platform
from invigil.db.uow import UnitOfWork
from invigil.evidence import crypto
from invigil.evidence.master import MASTER_FILE, RETIRED_FOLDER, master_key_id
from invigil.evidence.models import DataKey, TenantKey
from invigil.evidence.stores import store_url
from invigil.i18n import N_, NP_
from invigil.identity.grants import role_permissions
from invigil.identity.models import Role, User, UserRole
from invigil.retention import holds, policy
from invigil.security.keys import KeyRing, Keys
from invigil.security.permissions import ADMIN_PERMISSIONS
from invigil.settings import Settings
from invigil.tenants.models import Tenant

FORMAT = "invigil-trust-report/2"

CLASS_WORDS = {
    "candidate_identity": N_("Candidate identity (name, e-mail, external reference)"),
    "evidence": N_("Proctoring evidence (snapshots, recordings, ID photos, room checks)"),
    "proctoring_events": N_("Proctoring events and the actions taken on them"),
    "answers": N_("Answers"),
    "results": N_("Results (scores, releases, certificates)"),
    "invitations_mail": N_("Invitations, guest links and mail sent"),
}
AUDIT_LOG_WORDS = N_("Audit log")
VERIFY_TIME = "03:41 UTC"  # invigil.retention.jobs.VERIFY_CRON
VERIFY_SCHEDULE = f"daily {VERIFY_TIME}"
AUDIT_LOG_KEPT = N_(
    "Kept for the organisation's lifetime (its entries are ids and hashes, not personal data)."
)
DAYS_AFTER = {
    "attempt_submitted": NP_(
        "%(n)s day after the attempt is submitted", "%(n)s days after the attempt is submitted"
    ),
    "result_released": NP_(
        "%(n)s day after the result is released", "%(n)s days after the result is released"
    ),
    "certificate_expired": NP_(
        "%(n)s day after the certificate expires", "%(n)s days after the certificate expires"
    ),
    "candidate_last_active": NP_(
        "%(n)s day after the candidate was last active",
        "%(n)s days after the candidate was last active",
    ),
}
LIFETIME = N_("Kept for the organisation's lifetime.")
THEN = {
    "delete": N_("then deleted."),
    "anonymise": N_("then anonymised (scores and statistics stay, identity is removed)."),
}
# What the results class does, said as it is (docs/adr/0058).
RESULTS_THEN = {
    "delete": N_(
        "then deleted with their releases and grading (shortlists already made and "
        "certificates already issued keep the figures they were made from)."
    ),
    "anonymise": N_("then the answers they repeat are removed (the scores stay)."),
}
PRESET_WORDS = {
    "practice": N_("practice"),
    "standard": N_("standard"),
    "strict": N_("strict"),
    "high_stakes": N_("high stakes"),
}
BY_PRESET = N_("By proctoring preset: %(list)s.")
PRESET_DAYS = NP_("%(preset)s %(n)s day", "%(preset)s %(n)s days")
SCOPE_WORDS = {
    "candidate": N_("a candidate"),
    "exam": N_("an exam"),
    "tenant": N_("the whole organisation"),
}
ENCRYPTION = N_(
    "Envelope encryption. Every object (snapshot, recording, ID photo, evidence bundle) is "
    "encrypted with AES-256-GCM in %(kib)s KiB chunks under its own key, derived with "
    "HKDF-SHA256 from its candidate's data key and the object's id; each chunk's nonce and "
    "associated data bind the object, the chunk's place and the last chunk, so reordered, "
    "truncated or moved chunks fail authentication. Each candidate has one 256-bit data key, "
    "wrapped (AES-256-GCM) by the organisation's key; the organisation's key is wrapped by "
    "the master key, which is never stored in the database. Destroying a candidate's data "
    "key makes all of their evidence unreadable (crypto-shredding)."
)
DEFAULT_S3 = N_("Amazon S3 (the AWS default endpoint)")
DETAIL_WORDS = {
    "bucket": N_("bucket %(bucket)s"),
    "tls": N_("TLS"),
    "starttls": N_("STARTTLS, certificate checked"),
    "plain": N_("no TLS"),
    "own_ai": N_("the organisation's own provider, model %(model)s"),
    "platform_ai": N_("the platform's provider, model %(model)s"),
}
TRIGGER_WORDS = {
    "schedule": N_("the daily check"),
    "request": N_("asked for from this page"),
    "command": N_("the trust report command"),
}
SUBPROCESSOR_WORDS = {
    "object_storage": N_("Evidence storage (S3-compatible)"),
    "smtp": N_("Mail relay (SMTP)"),
    "ai": N_("AI provider"),
}


def audit_sources() -> tuple[Source, ...]:
    """The records anchored in the audit log, as ``invigil audit verify``
    checks them (one list: :func:`invigil.retention.records.every_source`)."""
    from invigil.retention.records import every_source

    return every_source()


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _mtime(path: Path) -> str | None:
    try:
        return _iso(datetime.fromtimestamp(path.stat().st_mtime, UTC))
    except OSError:
        return None


# -- the parts -------------------------------------------------------------------


def store_of(url: str, region: str, settings: Settings) -> dict[str, Any]:
    """Where a region's evidence goes, as ``evidence.stores.open_store`` reads the URL."""
    if url == "local":
        return {"region": region, "kind": "local", "path": str(settings.objects_dir / region)}
    if url.startswith("file://"):
        return {"region": region, "kind": "local", "path": url.removeprefix("file://")}
    if url.startswith("s3://"):
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
        return {"region": region, "kind": "s3", "bucket": bucket, "prefix": prefix.strip("/"),
                "endpoint": endpoint}  # fmt: skip
    return {"region": region, "kind": "unknown", "url": url}


def _stores(settings: Settings) -> list[dict[str, Any]]:
    out = []
    for region in settings.regions:
        try:
            url = store_url(region, settings.object_store, settings.object_stores)
        except Exception as exc:  # a misconfigured store is a fact worth reporting
            out.append({"region": region, "kind": "misconfigured", "problem": str(exc)[:300]})
            continue
        out.append(store_of(url, region, settings))
    return out


def _retention(uow: UnitOfWork) -> dict[str, Any]:
    version = policy.current(uow)
    classes = []
    for name in policy.CLASSES:
        rule = version.document.rule(name)
        classes.append(
            {"class": name, "keep_days": rule.keep_days, "from": rule.start, "then": rule.then,
             "by_preset": dict(rule.by_preset) if rule.by_preset else None,
             "words": rule_words(name, rule.as_json(), i18n.DEFAULT)}
        )  # fmt: skip
    return {
        "version": version.version,
        "is_default": version.is_default,
        "in_force_since": _iso(version.created_at),
        "sha256": version.sha256 or None,
        "contest_window_days": version.document.contest_window_days,
        "classes": classes,
        "audit_log": {"keep": "tenant_lifetime", "words": AUDIT_LOG_KEPT},
    }


def _holds(uow: UnitOfWork) -> list[dict[str, Any]]:
    return [
        {"id": str(h.id), "scope": h.scope,
         "subject_id": str(h.subject_id) if h.subject_id else None,
         "reason": h.reason, "placed_at": _iso(h.placed_at), "placed_by": h.placed_by}
        for h in holds.history(uow)
        if h.active
    ]  # fmt: skip


def _people(uow: UnitOfWork) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    tenant = uow.get(Tenant, uow.tenant)
    members = uow.session.execute(
        select(Role.id, func.count(UserRole.user_id))
        .join(UserRole, UserRole.role_id == Role.id, isouter=True)
        .group_by(Role.id)
    ).all()
    counted = {role_id: n for role_id, n in members}
    roles = []
    for r in uow.scalars(select(Role).order_by(Role.name)):
        held = sorted(role_permissions(r))
        roles.append(
            {"name": r.name, "builtin": r.builtin, "permissions": held,
             "members": counted.get(r.id, 0), "admin": bool(ADMIN_PERMISSIONS.intersection(held))}
        )  # fmt: skip
    admin_roles = [r["name"] for r in roles if r["admin"]]
    rows = uow.session.execute(
        select(User, Role.name)
        .join(UserRole, UserRole.user_id == User.id)
        .join(Role, Role.id == UserRole.role_id)
        .where(Role.name.in_(admin_roles))
        .order_by(User.email, Role.name)
    ).all()
    admins: dict[str, dict[str, Any]] = {}
    for user, role in rows:
        found = admins.setdefault(
            str(user.id),
            {"name": user.display_name, "email": user.email, "status": user.status,
             "mfa": user.totp_enabled_at is not None, "roles": []},
        )  # fmt: skip
        found["roles"].append(role)
    active = select(func.count()).select_from(User).where(User.status == "active")
    staff = int(uow.scalar(active) or 0)
    with_mfa = int(uow.scalar(active.where(User.totp_enabled_at.is_not(None))) or 0)
    live_admins = [a for a in admins.values() if a["status"] == "active"]
    mfa = {
        "required_for_admins": bool(tenant.require_mfa_for_admins),
        "active_staff": staff,
        "staff_with_mfa": with_mfa,
        "active_admins": len(live_admins),
        "admins_without_mfa": sum(1 for a in live_admins if not a["mfa"]),
    }
    return roles, list(admins.values()), mfa


def _audit(uow: UnitOfWork, now: datetime) -> dict[str, Any]:
    """The log's size and checkpoints now, and the latest verification kept
    (None before the first one has run)."""
    head = uow.scalar(select(AuditHead))
    last = uow.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1))
    sealed = uow.scalar(select(func.count()).select_from(AuditCheckpoint)) or 0
    run = verifications.latest(uow)
    since = now - timedelta(days=30)
    month = uow.session.execute(
        select(func.count(), func.count().filter(Verification.ok.is_(False))).where(
            Verification.finished_at >= since
        )
    ).one()
    return {
        "entries": int(head.next_seq) if head is not None else 0,
        "last_entry_at": _iso(head.last_at) if head is not None else None,
        "checkpoints": int(sealed),
        "last_checkpoint_at": _iso(last.sealed_at) if last is not None else None,
        "last_checkpoint_size": int(last.tree_size) if last is not None else None,
        "verification_schedule": VERIFY_SCHEDULE,
        "verified_at": _iso(run.finished_at) if run is not None else None,
        "verified_by": run.trigger if run is not None else None,
        "verified_entries": run.entries if run is not None else None,
        "anchored_records": run.anchored_records if run is not None else None,
        "purged_records": run.purged_records if run is not None else None,
        "ok": run.ok if run is not None else None,
        "problems": run.problems if run is not None else None,
        "first_problem": run.first_problem if run is not None else None,
        "runs_30_days": int(month[0]),
        "failed_runs_30_days": int(month[1]),
    }


def _verified_line(audit: dict[str, Any]) -> str:
    if audit["ok"] is None:
        return "Not verified yet"
    outcome = "ok" if audit["ok"] else f"NOT intact: {audit['first_problem']}"
    return (
        f"Last verified {_when(audit['verified_at'])} ({audit['verified_by']}, "
        f"{audit['verified_entries']} entries, {audit['anchored_records']} records): {outcome}"
    )


def verify_now(uow: UnitOfWork, ring: KeyRing, sources: Sequence[Source]) -> Verification:
    """The command's own verification, kept, before it builds the report."""
    return verifications.run(uow, ring, sources, trigger="command")


def _ring(ring: KeyRing) -> dict[str, Any]:
    current = ring.current()
    return {
        "current": current.kid,
        "created_at": _iso(current.created_at),
        "keys": [{"kid": k.kid, "created_at": _iso(k.created_at)} for k in ring.signing_keys()],
    }


def _keys(uow: UnitOfWork, settings: Settings, keys: Keys) -> dict[str, Any]:
    import base64
    import binascii

    master: dict[str, Any]
    retired = settings.keys_dir / RETIRED_FOLDER
    retired_ids = sorted(p.stem for p in retired.glob("*.key")) if retired.is_dir() else []
    if settings.master_key is not None:
        try:
            key_id: str | None = master_key_id(
                base64.b64decode(settings.master_key.get_secret_value())
            )
        except (binascii.Error, ValueError):
            key_id = None
        master = {"source": "environment", "id": key_id, "in_use_since": None}
    else:
        path = settings.keys_dir / MASTER_FILE
        master = {
            "source": "file",
            "id": master_key_id(path.read_bytes()) if path.is_file() else None,
            "in_use_since": _mtime(path),
        }
    master["retired"] = retired_ids
    tenant_keys = [
        {"id": str(k.id), "master_key_id": k.master_key_id, "created_at": _iso(k.created_at),
         "rewrapped_at": _iso(k.rewrapped_at), "retired_at": _iso(k.retired_at)}
        for k in uow.scalars(select(TenantKey).order_by(TenantKey.created_at))
    ]  # fmt: skip
    live = select(func.count()).select_from(DataKey)
    return {
        "master": master,
        "tenant_keys": tenant_keys,
        "data_keys": int(uow.scalar(live.where(DataKey.destroyed_at.is_(None))) or 0),
        "data_keys_destroyed": int(uow.scalar(live.where(DataKey.destroyed_at.is_not(None))) or 0),
        "audit_checkpoint": _ring(keys.audit),
        "access_token": _ring(keys.access),
    }


def _subprocessors(
    uow: UnitOfWork, settings: Settings, store: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each configured outside service: ``where`` it is reached, and
    ``detail`` (English) with the key and values that put it in words."""

    def one(kind: str, where: str, key: str, **values: str) -> dict[str, Any]:
        detail = DETAIL_WORDS[key] % values
        return {"kind": kind, "where": where, "detail": detail, "detail_key": key,
                "detail_values": values}  # fmt: skip

    out: list[dict[str, Any]] = []
    if store["kind"] == "s3":
        where = store["endpoint"] or DEFAULT_S3
        out.append(one("object_storage", where, "bucket", bucket=store["bucket"]))
    if settings.smtp_host:
        tls = "tls" if settings.smtp_ssl else "starttls" if settings.smtp_starttls else "plain"
        out.append(one("smtp", f"{settings.smtp_host}:{settings.smtp_port}", tls))
    choice = ai_config.choice(uow)
    if choice.enabled:
        if choice.base_url:
            out.append(one("ai", choice.base_url, "own_ai", model=choice.model or ""))
        elif settings.ai_base_url and settings.ai_model:
            where = settings.ai_base_url.rstrip("/")
            out.append(one("ai", where, "platform_ai", model=settings.ai_model))
    return out


def build(
    uow: UnitOfWork,
    settings: Settings,
    keys: Keys,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The report of the unit of work's tenant, as of now (the audit log as
    its latest kept verification found it)."""
    now = now or datetime.now(UTC)
    ref = platform.bound_tenant(uow)
    tenant = uow.get(Tenant, uow.tenant)
    stores = _stores(settings)
    mine = next(
        (s for s in stores if s["region"] == ref.region),
        {"region": ref.region, "kind": "misconfigured", "problem": "region not configured"},
    )
    roles, admins, mfa = _people(uow)
    ai = ai_config.choice(uow)
    return {
        "format": FORMAT,
        "generated_at": _iso(now),
        "invigil_version": __version__,
        "tenant": {
            "id": str(ref.id),
            "slug": ref.slug,
            "name": ref.name,
            "created_at": _iso(tenant.created_at),
        },
        "data_region": ref.region,
        "evidence_store": mine,
        "region_stores": stores,
        "retention": _retention(uow),
        "legal_holds": _holds(uow),
        "roles": roles,
        "administrators": admins,
        "mfa": mfa,
        "audit_log": _audit(uow, now),
        "keys": _keys(uow, settings, keys),
        "encryption": {
            "scheme": "envelope",
            "object_cipher": "AES-256-GCM",
            "object_key": "HKDF-SHA256(data key, salt, object id)",
            "chunk_bytes": crypto.CHUNK_SIZE,
            "hierarchy": ["master key", "tenant key", "data key (one per candidate)", "object"],
            "words": ENCRYPTION % {"kib": crypto.CHUNK_SIZE // 1024},
        },
        "ai": {
            "enabled": ai.enabled,
            "rubric_suggestions": ai.rubric_suggestions,
            "question_drafting": ai.question_drafting,
        },
        "subprocessors": _subprocessors(uow, settings, mine),
    }


# -- words -------------------------------------------------------------------------


def rule_words(data_class: str, rule: dict[str, Any], locale: str) -> str:
    """One class's rule in words, in ``locale``."""
    days = rule.get("keep_days")
    if days is None:
        return i18n.gettext(locale, LIFETIME)
    singular, plural = DAYS_AFTER[rule["from"]]
    words = i18n.ngettext(locale, singular, plural, days) % {"n": days}
    then = (RESULTS_THEN if data_class == "results" else THEN)[rule["then"]]
    words += ", " + i18n.gettext(locale, then)
    by_preset = rule.get("by_preset")
    if by_preset:
        one, many = PRESET_DAYS
        listed = ", ".join(
            i18n.ngettext(locale, one, many, n)
            % {"preset": i18n.gettext(locale, PRESET_WORDS[p]), "n": n}
            for p, n in by_preset.items()
        )
        words += " " + i18n.gettext(locale, BY_PRESET) % {"list": listed}
    return words[:1].upper() + words[1:]


@dataclass(frozen=True)
class View:
    """What the page and the printed report show, in one language."""

    report: dict[str, Any]
    locale: str

    def t(self, message: str) -> str:
        return i18n.gettext(self.locale, message)

    def class_name(self, name: str) -> str:
        return self.t(CLASS_WORDS[name])

    def class_rule(self, item: dict[str, Any]) -> str:
        return rule_words(item["class"], item, self.locale)

    def scope(self, scope: str) -> str:
        words = self.t(SCOPE_WORDS.get(scope, scope))
        return words[:1].upper() + words[1:]

    def when(self, value: str | None) -> str:
        """A time of the report in the reader's language (UTC), or a dash."""
        if not value:
            return "\u2014"
        return i18n.local_datetime(datetime.fromisoformat(value), self.locale)

    def subprocessor(self, kind: str) -> str:
        return self.t(SUBPROCESSOR_WORDS.get(kind, kind))

    @property
    def verify_time(self) -> str:
        return VERIFY_TIME

    def verified_by(self, trigger: str | None) -> str:
        return self.t(TRIGGER_WORDS[trigger]) if trigger in TRIGGER_WORDS else "\u2014"

    def where(self, item: dict[str, Any]) -> str:
        return self.t(DEFAULT_S3) if item["where"] == DEFAULT_S3 else str(item["where"])

    def detail(self, item: dict[str, Any]) -> str:
        return str(self.t(DETAIL_WORDS[item["detail_key"]]) % item["detail_values"])

    @property
    def audit_log_words(self) -> str:
        return self.t(AUDIT_LOG_KEPT)

    @property
    def encryption_words(self) -> str:
        return self.t(ENCRYPTION) % {"kib": self.report["encryption"]["chunk_bytes"] // 1024}


def _when(value: str | None) -> str:
    return value.replace("+00:00", "Z") if value else "-"


def text(report: dict[str, Any]) -> str:
    """The plain-text summary the CLI prints (English)."""
    r = report
    store = r["evidence_store"]
    if store["kind"] == "s3":
        where = f"S3 bucket {store['bucket']} at {store['endpoint'] or 'AWS (default endpoint)'}"
    elif store["kind"] == "local":
        where = f"local folder {store['path']}"
    else:
        where = f"misconfigured: {store.get('problem') or store.get('url')}"
    ret = r["retention"]
    since = "documented defaults" if ret["is_default"] else f"since {_when(ret['in_force_since'])}"
    lines = [
        f"Trust report: {r['tenant']['name']} ({r['tenant']['slug']})",
        f"generated {_when(r['generated_at'])} by Invigil {r['invigil_version']}",
        "",
        f"Data region: {r['data_region']}",
        f"Evidence stored in: {where}",
        "",
        f"Retention policy: version {ret['version']} ({since})",
    ]
    for item in ret["classes"]:
        lines.append(f"  {CLASS_WORDS[item['class']]}: {item['words']}")
    lines.append(f"  {AUDIT_LOG_WORDS}: {AUDIT_LOG_KEPT}")
    lines.append(f"  Contest window: {ret['contest_window_days']} days")
    lines.append("")
    if r["legal_holds"]:
        lines.append(f"Legal holds in force: {len(r['legal_holds'])}")
        for h in r["legal_holds"]:
            subject = f" {h['subject_id']}" if h["subject_id"] else ""
            lines.append(f"  on {SCOPE_WORDS[h['scope']]}{subject} since "
                         f"{_when(h['placed_at'])}: {h['reason']}")  # fmt: skip
    else:
        lines.append("Legal holds in force: none")
    mfa = r["mfa"]
    lines += [
        "",
        f"MFA required for administrators: {'yes' if mfa['required_for_admins'] else 'no'}",
        f"Staff with MFA: {mfa['staff_with_mfa']} of {mfa['active_staff']} active "
        f"({mfa['admins_without_mfa']} of {mfa['active_admins']} administrators without)",
        "Administrators:",
    ]
    for a in r["administrators"]:
        lines.append(f"  {a['name'] or '-'} <{a['email']}> ({', '.join(a['roles'])}; "
                     f"{a['status']}; MFA {'on' if a['mfa'] else 'off'})")  # fmt: skip
    lines.append("Roles: " + ", ".join(f"{x['name']} ({x['members']})" for x in r["roles"]))
    audit = r["audit_log"]
    lines += [
        "",
        f"Audit log: {audit['entries']} entries, {audit['checkpoints']} checkpoints, "
        f"last checkpoint {_when(audit['last_checkpoint_at'])}",
        _verified_line(audit),
        f"Verifications in the last 30 days: {audit['runs_30_days']} "
        f"({audit['failed_runs_30_days']} failed; scheduled {audit['verification_schedule']})",
        "",
    ]
    k = r["keys"]
    m = k["master"]
    lines.append(f"Master key: {m['id'] or 'not created yet'} (from {m['source']}"
                 + (f", in use since {_when(m['in_use_since'])}" if m["in_use_since"] else "")
                 + f"; {len(m['retired'])} retired)")  # fmt: skip
    for tk in k["tenant_keys"]:
        lines.append(f"Organisation key {tk['id']}: created {_when(tk['created_at'])}, "
                     f"rewrapped {_when(tk['rewrapped_at'])}")  # fmt: skip
    if not k["tenant_keys"]:
        lines.append("Organisation key: not created yet (no evidence stored)")
    lines.append(f"Data keys: {k['data_keys']} live, {k['data_keys_destroyed']} destroyed")
    for label, ring in (("Audit checkpoint", k["audit_checkpoint"]),
                        ("Access token", k["access_token"])):  # fmt: skip
        lines.append(f"{label} signing key: {ring['current']} "
                     f"(created {_when(ring['created_at'])})")  # fmt: skip
    lines += ["", "Encryption: " + r["encryption"]["words"], ""]
    if r["subprocessors"]:
        lines.append("Sub-processors:")
        for s in r["subprocessors"]:
            lines.append(f"  {SUBPROCESSOR_WORDS[s['kind']]}: {s['where']} ({s['detail']})")
    else:
        lines.append("Sub-processors: none configured")
    return "\n".join(lines) + "\n"


def _frame(locale: str, now: datetime) -> dict[str, Markup]:
    from invigil.results.reports import css_string

    t = i18n.translations(locale)
    return {
        "generated": css_string(
            t.gettext("Generated %(time)s") % {"time": i18n.local_datetime(now, locale)}
        ),
        "page": css_string(t.gettext("Page")),
        "of": css_string(t.gettext("of")),
    }


def html(uow: UnitOfWork, report: dict[str, Any], locale: str) -> str:
    """The report as one self-contained HTML document (its style inline)."""
    from invigil.tenants import branding
    from invigil.web.pages import STATIC, templates

    now = datetime.fromisoformat(report["generated_at"])
    css = (STATIC / "reports" / "print.css").read_text(encoding="utf-8")
    page: str = templates.env.get_template("retention/trust_report.html").render(
        locale=locale, v=View(report, locale), r=report, brand=branding.brand_of(uow),
        logo_url=None, stylesheet=None, inline_css=Markup(css.replace("</", "<\\/")),  # noqa: S704
        footer=_frame(locale, now),
    )  # fmt: skip
    return page


def pdf(uow: UnitOfWork, report: dict[str, Any], locale: str) -> bytes:
    """The report printed by WeasyPrint, which fetches nothing but Invigil's
    own stylesheet and the tenant's logo (``results.reports.OwnFiles``)."""
    from weasyprint import HTML  # type: ignore[import-untyped]

    from invigil.results.reports import LOGO, STYLESHEET, OwnFiles
    from invigil.tenants import branding
    from invigil.web.pages import templates

    brand = branding.brand_of(uow)
    logo = branding.logo_of(uow) if brand.has_logo else None
    now = datetime.fromisoformat(report["generated_at"])
    page = templates.env.get_template("retention/trust_report.html").render(
        locale=locale, v=View(report, locale), r=report, brand=brand,
        logo_url=LOGO if logo is not None else None, stylesheet=STYLESHEET, inline_css=None,
        footer=_frame(locale, now),
    )  # fmt: skip
    printed: bytes = HTML(string=page, url_fetcher=OwnFiles(logo)).write_pdf()
    return printed
