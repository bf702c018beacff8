"""The policy model, resolve() from an exam's settings, the published schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from invigil.errors import Invalid
from invigil.proctoring.policy import (
    EVENT_KINDS,
    KIND_PHRASES,
    PRESETS,
    Policy,
    Rule,
    resolve,
    schema,
    schema_json,
    severity_of,
)

SCHEMA_FILE = Path(__file__).parents[2] / "docs" / "policy.schema.json"


def custom(**change: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "our policy",
        "detectors": {
            "face": True,
            "audio": False,
            "focus": True,
            "fullscreen": False,
            "devtools": True,
            "clipboard": True,
            "screen": False,
        },
        "rules": [
            {
                "id": "tab-warn",
                "kind": "tab.hidden",
                "severity": "low",
                "action": "warn",
                "message": "Stay on the exam tab.",
            }
        ],
    }
    body.update(change)
    return body


def rule(**change: Any) -> dict[str, Any]:
    return {**custom()["rules"][0], **change}


def invalid(settings: dict[str, Any]) -> Invalid:
    with pytest.raises(Invalid) as caught:
        resolve(settings)
    return caught.value


# --- resolve ------------------------------------------------------------------


def test_an_exam_without_proctoring_settings_gets_the_standard_preset() -> None:
    assert resolve({}) == PRESETS["standard"]
    assert resolve({"proctoring_preset": "strict"}) is PRESETS["strict"]
    assert (
        resolve({"proctoring_preset": "practice", "proctoring_overrides": {}})
        is PRESETS["practice"]
    )


def test_an_unknown_preset_is_refused_by_name() -> None:
    err = invalid({"proctoring_preset": "paranoid"})
    assert err.detail == (
        "unknown proctoring preset 'paranoid': choose one of practice, standard, strict, high_stakes"
    )
    assert err.extensions["errors"][0]["location"] == ["proctoring_preset"]


def test_an_override_replaces_severity_and_action_of_every_rule_of_its_kind() -> None:
    policy = resolve(
        {
            "proctoring_preset": "standard",
            "proctoring_overrides": {
                "tab.hidden": {"severity": "critical", "action": "auto_submit"}
            },
        }
    )
    tab = [r for r in policy.rules if r.kind == "tab.hidden"]
    standard = [r for r in PRESETS["standard"].rules if r.kind == "tab.hidden"]
    assert [(r.id, r.severity, r.action) for r in tab] == [
        (r.id, "critical", "auto_submit") for r in standard
    ]
    assert [r.count for r in tab] == [r.count for r in standard]  # thresholds are kept
    others = [r for r in policy.rules if r.kind != "tab.hidden"]
    assert others == [r for r in PRESETS["standard"].rules if r.kind != "tab.hidden"]
    assert PRESETS["standard"].rules_for("tab.hidden")[0].action == "warn"  # presets untouched


def test_an_override_adds_a_rule_for_a_kind_the_preset_has_none_for() -> None:
    policy = resolve(
        {
            "proctoring_preset": "practice",
            "proctoring_overrides": {"clipboard.paste": {"severity": "high", "action": "flag"}},
        }
    )
    added = policy.rule("override-clipboard.paste")
    assert added is not None
    assert (added.kind, added.severity, added.action, added.count) == (
        "clipboard.paste",
        "high",
        "flag",
        1,
    )
    assert added.message == "Text was pasted (a rule of this exam's proctoring settings)."


def test_the_demo_high_stakes_overrides_resolve() -> None:
    """The overrides invigil.content.demo gives its high-stakes exam."""
    policy = resolve(
        {
            "proctoring_preset": "high_stakes",
            "proctoring_overrides": {
                "face.multiple": {"severity": "critical", "action": "provisional_fail"},
                "clipboard.paste": {"severity": "high", "action": "flag"},
            },
        }
    )
    assert {r.action for r in policy.rules_for("face.multiple")} == {"provisional_fail"}
    assert [(r.id, r.action) for r in policy.rules_for("clipboard.paste")] == [
        ("clipboard-paste-log", "flag")
    ]


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"tab.gone": {"severity": "low", "action": "log"}}, "unknown event kind 'tab.gone'"),
        ({"tab.hidden": {"severity": "low"}}, "must give exactly a severity and an action"),
        ({"tab.hidden": "flag"}, "must give exactly a severity and an action"),
        ({"tab.hidden": {"severity": "huge", "action": "log"}}, "Input should be 'info', 'low'"),
        (["tab.hidden"], "must map event kinds to"),
        (
            {"detector.failed": {"severity": "low", "action": "flag"}},
            "detector.failed rules may only log or warn",
        ),
    ],
)
def test_bad_overrides_are_refused_with_a_clear_message(overrides: Any, says: str) -> None:
    err = invalid({"proctoring_preset": "strict", "proctoring_overrides": overrides})
    assert says in err.detail
    assert err.extensions["errors"][0]["location"][0] == "proctoring_overrides"


def test_a_custom_policy_wins_over_the_preset() -> None:
    policy = resolve({"proctoring_preset": "strict", "proctoring_policy": custom()})
    assert policy.name == "our policy"
    assert [r.id for r in policy.rules] == ["tab-warn"]
    assert (policy.face_persist_seconds, policy.silence_seconds) == (3, 60)  # the defaults


@pytest.mark.parametrize(
    ("policy", "says"),
    [
        (
            custom(rules=[rule(), rule()]),
            "rules: rule id 'tab-warn' is used twice: give each rule its own id",
        ),
        (
            custom(rules=[rule(kind="detector.failed", action="flag")]),
            "rules[0]: rule 'tab-warn': a detector that could not run is never an integrity "
            "violation by itself",
        ),
        (
            custom(rules=[rule(kind="detector.failed", severity="high")]),
            "may only log or warn, at severity info or low",
        ),
        (
            custom(rules=[rule(kind="clipboard.copy", min_duration_seconds=5)]),
            "clipboard.copy is an instant event with no duration",
        ),
        (custom(rules=[rule(window_seconds=60)]), "a window only matters when counting"),
        (
            custom(rules=[rule(window_seconds=0, count=2)]),
            "rules[0].window_seconds: Input should be greater than 0",
        ),
        (
            custom(rules=[rule(count=0)]),
            "rules[0].count: Input should be greater than or equal to 1",
        ),
        (custom(rules=[rule(min_duration_seconds=-1)]), "rules[0].min_duration_seconds"),
        (custom(rules=[rule(min_duration_seconds="inf")]), "rules[0].min_duration_seconds"),
        (custom(rules=[rule(kind="tab.gone")]), "rules[0].kind: Input should be 'face.none'"),
        (custom(rules=[rule(action="expel")]), "rules[0].action"),
        (custom(rules=[rule(id="Tab Warn")]), "rules[0].id: String should match pattern"),
        (custom(rules=[rule(message="  ")]), "write a message that says what the rule is about"),
        (custom(rules=[rule(colour="red")]), "rules[0].colour: Extra inputs are not permitted"),
        (custom(detectors={"face": True}), "detectors.audio: Field required"),
        (
            custom(face_interval_ms=10),
            "face_interval_ms: Input should be greater than or equal to 200",
        ),
        (custom(audio_threshold=5), "audio_threshold"),
        (custom(silence_seconds=1), "silence_seconds"),
        ({"rules": []}, "name: Field required"),
        ("strict", "policy: Input should be a valid dictionary"),
    ],
)
def test_custom_policy_errors_say_where_and_what(policy: Any, says: str) -> None:
    err = invalid({"proctoring_policy": policy})
    assert err.detail.startswith("the custom proctoring policy is not valid: ")
    assert says in err.detail
    assert err.extensions["errors"][0]["location"][0] == "proctoring_policy"
    json.dumps(err.problem())  # the problem+json body serialises


def test_policies_are_frozen() -> None:
    policy = PRESETS["strict"]
    with pytest.raises(ValidationError):
        policy.name = "lax"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        policy.rules[0].action = "log"  # type: ignore[misc]


def test_a_policy_round_trips_through_json() -> None:
    for policy in PRESETS.values():
        assert Policy.model_validate_json(policy.model_dump_json()) == policy
        assert Policy.model_validate(json.loads(json.dumps(policy.model_dump()))) == policy


# --- severity_of --------------------------------------------------------------


def test_severity_of_a_kind_is_its_highest_rule_severity() -> None:
    strict = PRESETS["strict"]
    assert severity_of(strict, "face.none") == "high"  # warn medium, flag high
    assert severity_of(strict, "devtools.open") == "critical"
    assert severity_of(PRESETS["practice"], "devtools.open") == "info"  # no rule: logged


# --- the published schema -----------------------------------------------------


def test_the_committed_schema_is_the_generated_one() -> None:
    assert SCHEMA_FILE.read_text() == schema_json(), (
        "docs/policy.schema.json is stale: run "
        "`.venv/bin/python -m invigil.proctoring.policy > docs/policy.schema.json`"
    )


def test_the_schema_names_itself_and_lists_every_kind() -> None:
    s = schema()
    assert s["$id"] == "urn:invigil:schema:proctoring-policy"
    assert s["title"] == "Invigil proctoring policy"
    assert tuple(s["$defs"]["Rule"]["properties"]["kind"]["enum"]) == EVENT_KINDS
    assert set(KIND_PHRASES) == set(EVENT_KINDS)  # every kind can be explained


def schema_accepts(body: Any) -> bool:
    jsonschema = pytest.importorskip("jsonschema")
    return bool(jsonschema.Draft202012Validator(schema()).is_valid(body))


def model_accepts(body: Any) -> bool:
    try:
        Policy.model_validate(body)
    except ValidationError:
        return False
    return True


def test_the_schema_accepts_every_preset() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(schema())
    for policy in PRESETS.values():
        assert schema_accepts(json.loads(policy.model_dump_json()))


@given(
    kind=st.sampled_from(EVENT_KINDS),
    severity=st.sampled_from(["info", "low", "high", "loud"]),
    action=st.sampled_from(["log", "warn", "flag", "provisional_fail"]),
    duration=st.sampled_from([0, 0.0, 2.5, -1]),
    count=st.sampled_from([None, 0, 1, 3]),
    window=st.sampled_from([None, 0, 60.0]),
)
def test_the_schema_and_the_model_agree_on_rules(
    kind: str, severity: str, action: str, duration: float, count: int | None, window: float | None
) -> None:
    """Those who validate against the published schema (GET
    /api/v1/proctoring/policy-schema) get the model's answer (rule ids
    unique is the one check the schema cannot state)."""
    r = rule(kind=kind, severity=severity, action=action, min_duration_seconds=duration)
    if count is not None:
        r["count"] = count
    if window is not None:
        r["window_seconds"] = window
    body = custom(rules=[r])
    assert schema_accepts(copy.deepcopy(body)) == model_accepts(body)


def test_a_rule_by_itself_validates_too() -> None:
    assert Rule.model_validate(rule()).count == 1
