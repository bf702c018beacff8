"""The four presets: consistent with what the candidate consents to, and
behaving as their names promise on typical sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from invigil.content.consent import PRESET_LABELS, Disclosure
from invigil.proctoring.policy import (
    ALWAYS_KINDS,
    DETECTOR_KINDS,
    EVENT_KINDS,
    PRESETS,
    Decision,
    Episode,
    Policy,
    decide,
)

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
# What the system check asks for -> the detector that needs it.
DEVICE_DETECTOR = {
    "camera": "face",
    "microphone": "audio",
    "screen": "screen",
    "fullscreen": "fullscreen",
}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def session(policy: Policy, *episodes: tuple[str, float, float | None]) -> list[Decision]:
    """(kind, start, end or None while open), judged at 1 hour."""
    made = [
        Episode(
            seq,
            kind,
            at(start),
            at(end) if end is not None else None,
            instant=kind in ("clipboard.copy", "clipboard.paste", "context_menu"),
        )
        for seq, (kind, start, end) in enumerate(episodes, start=1)
    ]
    return decide(policy, made, at(3600), frozenset())


def actions(decisions: list[Decision]) -> list[tuple[str, str]]:
    return [(d.rule_id, d.action) for d in decisions]


def test_there_is_a_preset_for_every_disclosure() -> None:
    assert set(PRESETS) == set(PRESET_LABELS) == {"practice", "standard", "strict", "high_stakes"}
    assert all(name == policy.name for name, policy in PRESETS.items())


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_preset_runs_the_detectors_its_consent_text_discloses(name: str) -> None:
    policy = PRESETS[name]
    disclosure = Disclosure.of(policy, *PRESET_LABELS[name])
    for device, detector in DEVICE_DETECTOR.items():
        assert getattr(policy.detectors, detector) == (device in disclosure.needs), (device, name)
    recorded = " ".join(disclosure.recorded)
    assert policy.detectors.focus and "tab" in recorded
    assert policy.detectors.clipboard == ("copy, paste" in recorded)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_preset_has_a_rule_for_every_kind_it_watches_and_none_it_does_not(name: str) -> None:
    policy = PRESETS[name]
    assert Policy.model_validate(policy.model_dump()) == policy
    watched = policy.detectors.kinds()
    assert {r.kind for r in policy.rules} == watched
    assert ALWAYS_KINDS <= watched <= set(EVENT_KINDS)


def test_detector_kinds_cover_every_kind_once() -> None:
    grouped = [k for kinds in DETECTOR_KINDS.values() for k in kinds] + sorted(ALWAYS_KINDS)
    assert sorted(grouped) == sorted(EVENT_KINDS)


def test_practice_only_ever_logs() -> None:
    practice = PRESETS["practice"]
    assert {r.action for r in practice.rules} == {"log"}
    busy = [(k, s * 10.0, s * 10.0 + 500) for s, k in enumerate(EVENT_KINDS)]
    assert {d.action for d in session(practice, *busy)} == {"log"}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_detector_failure_is_never_held_against_the_candidate(name: str) -> None:
    [failed] = PRESETS[name].rules_for("detector.failed")
    assert failed.action == ("log" if name == "practice" else "warn")
    assert failed.severity in ("info", "low")


@pytest.mark.parametrize(
    ("name", "silent"),
    [("practice", "log"), ("standard", "log"), ("strict", "flag"), ("high_stakes", "flag")],
)
def test_a_silent_browser_is_flagged_only_when_strict(name: str, silent: str) -> None:
    assert [r.action for r in PRESETS[name].rules_for("client.silent")] == [silent]
    assert PRESETS[name].rules_for("network.offline")[0].action == "log"


@pytest.mark.parametrize("name", ["standard", "strict", "high_stakes"])
def test_copy_paste_and_the_context_menu_are_logged(name: str) -> None:
    for kind in ("clipboard.copy", "clipboard.paste", "context_menu"):
        assert [r.action for r in PRESETS[name].rules_for(kind)] == ["log"]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_warnings_speak_to_the_candidate(name: str) -> None:
    for r in PRESETS[name].rules:
        assert r.message[0].isupper() and r.message.endswith("."), r.id
        assert r.kind.split(".")[0].replace("_", "-") in r.id, r.id
        if r.action == "warn":
            assert "candidate" not in r.message.lower(), r.id


def test_standard_warns_first_and_flags_what_repeats() -> None:
    standard = PRESETS["standard"]
    twice = session(standard, ("tab.hidden", 0, 5), ("tab.hidden", 100, 105))
    assert actions(twice) == [("tab-hidden-warn", "warn")] * 2
    thrice = session(
        standard, ("tab.hidden", 0, 5), ("tab.hidden", 100, 105), ("tab.hidden", 500, 501)
    )
    assert actions(thrice)[-1] == ("tab-hidden-flag", "flag")
    spread = session(
        standard, ("tab.hidden", 0, 5), ("tab.hidden", 400, 405), ("tab.hidden", 900, 901)
    )
    assert "flag" not in {d.action for d in spread}  # not 3 within 10 minutes
    assert actions(session(standard, ("face.none", 0, 10))) == [("face-none-warn", "warn")]
    assert actions(session(standard, ("face.multiple", 0, 10))) == [
        ("face-multiple-warn", "warn"),
        ("face-multiple-flag", "flag"),
    ]
    assert actions(session(standard, ("devtools.open", 0, 10))) == [("devtools-flag", "flag")]
    assert actions(session(standard, ("clipboard.paste", 5, 5))) == [("clipboard-paste-log", "log")]


def test_a_clean_session_takes_no_action_under_any_preset() -> None:
    for policy in PRESETS.values():
        assert session(policy) == []


def test_strict_flags_what_persists_and_submits_on_devtools() -> None:
    strict = PRESETS["strict"]
    assert actions(session(strict, ("face.none", 0, 20))) == [("face-none-warn", "warn")]
    assert actions(session(strict, ("face.none", 0, 31)))[-1] == ("face-none-flag", "flag")
    assert actions(session(strict, ("fullscreen.exit", 0, 45)))[-1][1] == "flag"
    three = [("fullscreen.exit", s * 600.0, s * 600.0 + 2) for s in range(3)]
    assert actions(session(strict, *three))[-1] == ("fullscreen-exit-repeat-flag", "flag")
    assert actions(session(strict, ("devtools.open", 0, None))) == [
        ("devtools-submit", "auto_submit")
    ]
    assert {a for _, a in actions(session(strict, ("screen.share_stopped", 0, 1)))} == {
        "warn",
        "flag",
    }
    assert {a for _, a in actions(session(strict, ("camera.stopped", 0, 1)))} == {"warn", "flag"}


def test_high_stakes_fails_provisionally_what_strict_flags() -> None:
    high = PRESETS["high_stakes"]
    assert ("face-multiple-fail", "provisional_fail") in actions(
        session(high, ("face.multiple", 0, 5))
    )
    assert actions(session(high, ("devtools.open", 0, 1))) == [
        ("devtools-submit", "auto_submit"),
        ("devtools-fail", "provisional_fail"),
    ]
    tabs = [("tab.hidden", s * 60.0, s * 60.0 + 2) for s in range(3)]
    assert actions(session(high, *tabs))[-1] == ("tab-hidden-fail", "provisional_fail")
    voices = [("audio.voice", s * 60.0, s * 60.0 + 3) for s in range(3)]
    assert actions(session(high, *voices))[-1] == ("audio-voice-flag", "flag")
    assert actions(session(high, ("network.offline", 0, 60))) == [("network-offline-log", "log")]
    assert actions(session(high, ("network.offline", 0, 400)))[-1][1] == "flag"


def test_presets_grow_stricter() -> None:
    rank = {"log": 0, "warn": 1, "flag": 2, "auto_submit": 3, "provisional_fail": 3}

    def strictest(policy: Policy, kind: str) -> int:
        return max((rank[r.action] for r in policy.rules_for(kind)), default=-1)

    ladder = [PRESETS[n] for n in ("practice", "standard", "strict", "high_stakes")]
    for kind in EVENT_KINDS:
        levels = [strictest(p, kind) for p in ladder]
        assert levels == sorted(levels), kind
