"""The proctoring policy engine: what a policy is, which one an exam uses,
and what the server does about the episodes an attempt reports.

Pure: no database, no HTTP, no clock. The pipeline freezes the policy that
:func:`resolve` gives into the attempt when it starts, calls :func:`decide`
as events arrive and takes the actions; :func:`replay` and :func:`explain`
let a reviewer see why. Semantics: docs/proctoring.md ("The policy").

``docs/policy.schema.json`` is :func:`schema_json`; regenerate it with
``python -m invigil.proctoring.policy > docs/policy.schema.json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from invigil.errors import Invalid
from invigil.proctoring.engine import Decision, Episode, decide, explain, replay
from invigil.proctoring.presets import PRESETS
from invigil.proctoring.rules import (
    ACTIONS,
    ALWAYS_KINDS,
    DETECTOR_KINDS,
    DURABLE_KINDS,
    EVENT_KINDS,
    INSTANT_KINDS,
    KIND_PHRASES,
    SEVERITIES,
    Detectors,
    Policy,
    Rule,
)

__all__ = [
    "ACTIONS",
    "ALWAYS_KINDS",
    "DETECTOR_KINDS",
    "DURABLE_KINDS",
    "EVENT_KINDS",
    "INSTANT_KINDS",
    "KIND_PHRASES",
    "PRESETS",
    "SCHEMA_ID",
    "SEVERITIES",
    "Decision",
    "Detectors",
    "Episode",
    "Policy",
    "Rule",
    "decide",
    "explain",
    "replay",
    "resolve",
    "schema",
    "schema_json",
    "severity_of",
]

SCHEMA_ID = "urn:invigil:schema:proctoring-policy"
DEFAULT_PRESET = "standard"


def resolve(settings: Mapping[str, Any]) -> Policy:
    """The policy of an exam version's settings: its custom
    ``proctoring_policy`` if it has one, else its ``proctoring_preset``
    (default standard) with ``proctoring_overrides`` applied.

    An override ``{kind: {"severity": ..., "action": ...}}`` replaces the
    severity and action of every rule of that kind, or adds the rule
    ``override-<kind>`` when the preset has none.
    """
    custom = settings.get("proctoring_policy")
    if custom is not None:
        return _validated(custom, "the custom proctoring policy", "proctoring_policy")
    name = settings.get("proctoring_preset", DEFAULT_PRESET)
    preset = PRESETS.get(name) if isinstance(name, str) else None
    if preset is None:
        raise _invalid(
            f"unknown proctoring preset {name!r}: choose one of " + ", ".join(PRESETS),
            "proctoring_preset",
        )
    overrides = settings.get("proctoring_overrides") or {}
    if not overrides:
        return preset
    return _validated(
        _overridden(preset, overrides),
        f"the {name} preset with its overrides",
        "proctoring_overrides",
    )


def _overridden(preset: Policy, overrides: Any) -> dict[str, Any]:
    if not isinstance(overrides, Mapping):
        raise _invalid(
            'proctoring_overrides must map event kinds to {"severity": ..., "action": ...}',
            "proctoring_overrides",
        )
    data = preset.model_dump()
    for kind, change in overrides.items():
        if kind not in EVENT_KINDS:
            raise _invalid(
                f"proctoring_overrides: unknown event kind {kind!r}", "proctoring_overrides"
            )
        if not isinstance(change, Mapping) or set(change) != {"severity", "action"}:
            raise _invalid(
                f"proctoring_overrides[{kind!r}] must give exactly a severity and an action",
                "proctoring_overrides",
            )
        rules = [r for r in data["rules"] if r["kind"] == kind]
        for rule in rules:
            rule.update(severity=change["severity"], action=change["action"])
        if not rules:
            data["rules"].append(
                {
                    "id": f"override-{kind}",
                    "kind": kind,
                    "severity": change["severity"],
                    "action": change["action"],
                    "message": _sentence(KIND_PHRASES[kind])
                    + " (a rule of this exam's proctoring settings).",
                }
            )
    return data


def _sentence(phrase: str) -> str:
    return phrase[:1].upper() + phrase[1:]


def _validated(data: Any, what: str, at: str) -> Policy:
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        errors = [
            {
                "location": [at, *(str(p) for p in e["loc"])],
                "message": e["msg"].removeprefix("Value error, "),
            }
            for e in exc.errors(include_url=False, include_input=False)
        ]
        said = [_said(e) for e in errors[:5]]
        if len(errors) > 5:
            said.append(f"and {len(errors) - 5} more")
        raise Invalid(f"{what} is not valid: " + "; ".join(said), errors=errors) from None


def _invalid(message: str, at: str) -> Invalid:
    return Invalid(message, errors=[{"location": [at], "message": message}])


def _said(error: dict[str, Any]) -> str:
    location = error["location"][1:]
    where = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in location).lstrip(".")
    return f"{where or 'policy'}: {error['message']}"


def severity_of(policy: Policy, kind: str) -> str:
    """The highest severity among the policy's rules of ``kind``, ``info``
    when it has none (such events are only logged)."""
    found = [SEVERITIES.index(r.severity) for r in policy.rules if r.kind == kind]
    return SEVERITIES[max(found)] if found else "info"


def schema() -> dict[str, Any]:
    """The JSON schema of a policy, as published (``GET
    /api/v1/proctoring/policy-schema`` and ``docs/policy.schema.json``)."""
    body = Policy.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Invigil proctoring policy",
        "description": (
            "Which detectors the candidate's browser runs and what the server does about "
            "the events they report: each rule maps an event kind to a severity and an "
            "action, with a minimum duration and a count within an optional window. Rule "
            "ids are unique within a policy. See docs/proctoring.md."
        ),
        **{k: v for k, v in body.items() if k not in ("title", "description")},
    }


def schema_json() -> str:
    """:func:`schema` as the text of ``docs/policy.schema.json``."""
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(schema_json(), end="")
