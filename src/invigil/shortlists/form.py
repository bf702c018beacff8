"""The rule-set editor's form and the rules it stands for, both ways.

The form is flat text (a percentage, one ``Category: minimum`` per line,
one tie-break per line, checkboxes for the integrity outcomes): what a
person can type. :func:`rules_values` turns it into the data that
:func:`invigil.shortlists.rules.parse` checks, naming the field of the
first error (``min_category_percent``, ``tie_breaks``) so the page can
point at it; nothing is trusted from the browser.
"""

from __future__ import annotations

from typing import Any

from invigil.errors import Invalid
from invigil.shortlists.rules import INTEGRITY, MAX_CATEGORIES, MAX_TIE_BREAKS

MAX_LINES = max(MAX_CATEGORIES, MAX_TIE_BREAKS)
MAX_TEXT = 4000


def rules_form(rules: dict[str, Any] | None) -> dict[str, Any]:
    """The form's values showing ``rules`` (None: an empty rule set)."""
    if rules is None:
        return {"integrity_allowed": ["clear", "cleared"]}
    return {
        "min_percent": rules.get("min_percent") or "",
        "min_category_percent": "\n".join(
            f"{k}: {v}" for k, v in rules.get("min_category_percent", {}).items()
        ),
        "pass_required": "on" if rules.get("pass_required") else "",
        "integrity_allowed": list(rules.get("integrity_allowed", INTEGRITY)),
        "max_minutes": rules.get("max_minutes") or "",
        "top_n": rules.get("top_n") or "",
        "tie_breaks": "\n".join(rules.get("tie_breaks", [])),
    }


def _text(form: dict[str, Any], name: str) -> str:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > MAX_TEXT:
        raise Invalid(f"rules.{name}: at most {MAX_TEXT} characters", field=f"rules.{name}")
    return text


def _lines(form: dict[str, Any], name: str) -> list[str]:
    lines = [line.strip() for line in _text(form, name).splitlines() if line.strip()]
    if len(lines) > MAX_LINES:
        raise Invalid(f"rules.{name}: at most {MAX_LINES} lines", field=f"rules.{name}")
    return lines


def rules_values(form: dict[str, Any]) -> dict[str, Any]:
    """The rules a submitted form asks for (checked by ``rules.parse`` next)."""
    categories: dict[str, str] = {}
    for line in _lines(form, "min_category_percent"):
        name, sep, minimum = line.rpartition(":")
        if not sep or not name.strip():
            raise Invalid(
                'rules.min_category_percent: write one "Category: minimum" a line',
                field="rules.min_category_percent",
            )
        categories[name.strip()] = minimum.strip()
    allowed = form.get("integrity_allowed") or []
    if not isinstance(allowed, list):
        allowed = [allowed]
    return {
        "min_percent": _text(form, "min_percent") or None,
        "min_category_percent": categories,
        "pass_required": bool(form.get("pass_required")),
        "integrity_allowed": [str(a) for a in allowed][: len(INTEGRITY) + 1],
        "max_minutes": _text(form, "max_minutes") or None,
        "top_n": _text(form, "top_n") or None,
        "tie_breaks": _lines(form, "tie_breaks"),
    }
