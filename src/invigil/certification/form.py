"""The program form of the pages: its submitted fields to a definition
mapping (:func:`invigil.certification.definition.parse` then checks it and
names the field), and a definition back to the form's values."""

from __future__ import annotations

from typing import Any

from invigil.certification.definition import Definition
from invigil.errors import Invalid
from invigil.i18n import N_

LISTS = ("exam_ids", "prerequisites")
TEXT_LIMIT = 5000  # any one submitted field; the definition bounds each further


def _number(form: dict[str, Any], name: str, kind: type, message: str) -> Any:
    raw = str(form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return kind(raw.replace(",", ".") if kind is float else raw)
    except ValueError:
        raise Invalid(message, field=name) from None


def values(form: dict[str, Any]) -> dict[str, Any]:
    """A definition mapping from the form (empty numbers take the defaults,
    an empty validity means: never expires)."""
    for name, value in form.items():
        if isinstance(value, str) and len(value) > TEXT_LIMIT:
            raise Invalid(N_("This field is too long."), field=name)
        if isinstance(value, list) and len(value) > 50:
            raise Invalid(N_("Too many are chosen."), field=name)
    out: dict[str, Any] = {
        "exam_ids": list(form.get("exam_ids") or []),
        "prerequisites": list(form.get("prerequisites") or []),
        "mode": form.get("mode") or "all",
        "integrity": form.get("integrity") or "clear_or_cleared",
        "renew_from": form.get("renew_from") or "expiry",
        "recert_exam_id": form.get("recert_exam_id") or None,
        "approval": bool(form.get("approval")),
        "description": str(form.get("description") or ""),
        "criteria": str(form.get("criteria") or ""),
        "min_percent": _number(form, "min_percent", float,
                               N_("Give the minimum percentage as a number from 0 to 100.")),
        "validity_months": _number(form, "validity_months", int,
                                   N_("Give the validity as a whole number of months.")),
    }  # fmt: skip
    for name, message in (
        ("recert_window_days", N_("Give the recertification window in whole days.")),
        ("grace_days", N_("Give the grace period in whole days.")),
    ):
        number = _number(form, name, int, message)
        if number is not None:
            out[name] = number
    reminders = str(form.get("reminder_days") or "").replace(";", ",")
    if reminders.strip():
        try:
            out["reminder_days"] = [int(p) for p in reminders.split(",") if p.strip()]
        except ValueError:
            raise Invalid(N_("Give the reminders as days before expiry, e.g. 90, 30, 7."),
                          field="reminder_days") from None  # fmt: skip
    else:
        out["reminder_days"] = []
    return out


def form_of(definition: Definition | None) -> dict[str, Any]:
    """The form's values for ``definition`` (None: a new program's defaults)."""
    d = definition or Definition.model_construct(**{
        name: f.get_default(call_default_factory=True)
        for name, f in Definition.model_fields.items() if name != "exam_ids"
    }, exam_ids=[])  # fmt: skip
    return {
        "exam_ids": [str(e) for e in d.exam_ids],
        "prerequisites": [str(p) for p in d.prerequisites],
        "mode": d.mode,
        "integrity": d.integrity,
        "min_percent": "" if d.min_percent is None else f"{d.min_percent:g}",
        "validity_months": "" if d.validity_months is None else str(d.validity_months),
        "recert_window_days": str(d.recert_window_days),
        "grace_days": str(d.grace_days),
        "renew_from": d.renew_from,
        "recert_exam_id": "" if d.recert_exam_id is None else str(d.recert_exam_id),
        "reminder_days": ", ".join(str(n) for n in d.reminder_days),
        "approval": d.approval,
        "description": d.description,
        "criteria": d.criteria,
    }
