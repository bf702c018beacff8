"""The vocabulary of proctoring (event kinds, severities, actions) and the
policy model: detectors to run, their thresholds, and rules mapping event
kinds to a severity and an action.

Pure data and validation; :mod:`invigil.proctoring.policy` is the public
interface.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.config import JsonDict

from invigil.i18n import N_

Kind = Literal[
    "face.none",
    "face.multiple",
    "face.mismatch",
    "audio.voice",
    "focus.lost",
    "tab.hidden",
    "fullscreen.exit",
    "devtools.open",
    "clipboard.copy",
    "clipboard.paste",
    "context_menu",
    "screen.share_stopped",
    "camera.stopped",
    "network.offline",
    "detector.failed",
    "client.silent",  # recorded by the server, never sent by a browser
]
Severity = Literal["info", "low", "medium", "high", "critical"]
Action = Literal["log", "warn", "flag", "auto_submit", "provisional_fail"]

EVENT_KINDS: tuple[str, ...] = get_args(Kind)
SEVERITIES: tuple[str, ...] = get_args(Severity)
ACTIONS: tuple[str, ...] = get_args(Action)

INSTANT_KINDS = frozenset({"clipboard.copy", "clipboard.paste", "context_menu"})
DURABLE_KINDS = frozenset(EVENT_KINDS) - INSTANT_KINDS

# Which detector produces each kind; the others (network, detector failures,
# silence) are reported whatever detectors run.
DETECTOR_KINDS: dict[str, frozenset[str]] = {
    "face": frozenset({"face.none", "face.multiple", "face.mismatch", "camera.stopped"}),
    "audio": frozenset({"audio.voice"}),
    "focus": frozenset({"focus.lost", "tab.hidden"}),
    "fullscreen": frozenset({"fullscreen.exit"}),
    "devtools": frozenset({"devtools.open"}),
    "clipboard": frozenset({"clipboard.copy", "clipboard.paste", "context_menu"}),
    "screen": frozenset({"screen.share_stopped"}),
}
ALWAYS_KINDS = frozenset({"network.offline", "detector.failed", "client.silent"})

# What each kind means, for explanations: "... because <phrase>". Marked N_:
# reviewers' pages translate the phrase (``kind_words``); stored messages keep English.
KIND_PHRASES = {
    "face.none": N_("no face was in view of the camera"),
    "face.multiple": N_("more than one face was in view of the camera"),
    "face.mismatch": N_("the server's check of a webcam snapshot disagreed with the browser"),
    "audio.voice": N_("voices were heard"),
    "focus.lost": N_("the exam window lost focus"),
    "tab.hidden": N_("the exam tab was hidden"),
    "fullscreen.exit": N_("full screen was left"),
    "devtools.open": N_("developer tools were opened"),
    "clipboard.copy": N_("text was copied"),
    "clipboard.paste": N_("text was pasted"),
    "context_menu": N_("the context menu was opened"),
    "screen.share_stopped": N_("screen sharing stopped"),
    "camera.stopped": N_("the camera stopped"),
    "network.offline": N_("the browser went offline"),
    "detector.failed": N_("a detector could not run"),
    "client.silent": N_("the browser stopped reporting"),
}

# A detector failure is never an integrity violation by itself (docs/proctoring.md).
DETECTOR_FAILED_ACTIONS = ("log", "warn")
DETECTOR_FAILED_SEVERITIES = ("info", "low")

DAY = 24 * 3600
Seconds = Annotated[float, Field(ge=0, le=DAY, allow_inf_nan=False)]
RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", min_length=1, max_length=64)]

# The cross-field checks below, restated for those who validate a policy
# against the published JSON schema rather than through this model.
_RULE_SCHEMA_CHECKS: JsonDict = {
    "allOf": [
        {
            "if": {"properties": {"kind": {"const": "detector.failed"}}},
            "then": {
                "properties": {
                    "action": {"enum": list(DETECTOR_FAILED_ACTIONS)},
                    "severity": {"enum": list(DETECTOR_FAILED_SEVERITIES)},
                }
            },
        },
        {
            "if": {"properties": {"kind": {"enum": list(sorted(INSTANT_KINDS))}}},
            "then": {"properties": {"min_duration_seconds": {"const": 0}}},
        },
        {
            "if": {
                "properties": {"window_seconds": {"type": "number"}},
                "required": ["window_seconds"],
            },
            "then": {"properties": {"count": {"minimum": 2}}, "required": ["count"]},
        },
    ]
}


class Rule(BaseModel):
    """Fires for an episode of ``kind`` that lasted at least
    ``min_duration_seconds`` and is the ``count``-th such episode (of the
    attempt, or within ``window_seconds`` when given)."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_RULE_SCHEMA_CHECKS)

    id: RuleId = Field(description="a slug, unique within the policy; named in every action")
    kind: Kind
    severity: Severity
    action: Action
    min_duration_seconds: Seconds = Field(
        default=0, description="the episode must last this long (0 for instant kinds)"
    )
    count: int = Field(default=1, ge=1, le=1000, description="the count-th such episode fires")
    window_seconds: float | None = Field(
        default=None,
        gt=0,
        le=DAY,
        allow_inf_nan=False,
        description="count episodes that started within this many seconds (none: the attempt)",
    )
    message: str = Field(
        min_length=1,
        max_length=300,
        description="what the candidate (warn) or the reviewer is told, in plain words",
    )

    @field_validator("message")
    @classmethod
    def _plain(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("write a message that says what the rule is about")
        return v.strip()

    @model_validator(mode="after")
    def _coherent(self) -> Rule:
        if self.kind == "detector.failed" and (
            self.action not in DETECTOR_FAILED_ACTIONS
            or self.severity not in DETECTOR_FAILED_SEVERITIES
        ):
            raise ValueError(
                f"rule {self.id!r}: a detector that could not run is never an integrity "
                "violation by itself, so detector.failed rules may only log or warn, "
                "at severity info or low"
            )
        if self.kind in INSTANT_KINDS and self.min_duration_seconds:
            raise ValueError(
                f"rule {self.id!r}: {self.kind} is an instant event with no duration; "
                "set min_duration_seconds to 0"
            )
        if self.window_seconds is not None and self.count < 2:
            raise ValueError(
                f"rule {self.id!r}: a window only matters when counting; set count to 2 "
                "or more, or remove window_seconds"
            )
        return self


class Detectors(BaseModel):
    """Which detectors the candidate's page runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    face: bool
    audio: bool
    focus: bool
    fullscreen: bool = Field(description="fullscreen is mandatory: the exam shows only in it")
    devtools: bool
    clipboard: bool
    screen: bool

    def kinds(self) -> frozenset[str]:
        """The kinds these detectors (and the server) can report."""
        on = [kinds for name, kinds in DETECTOR_KINDS.items() if getattr(self, name)]
        return ALWAYS_KINDS.union(*on)


class Policy(BaseModel):
    """What a proctored attempt watches and how the server answers it. Frozen
    into the attempt when it starts, so every decision can be replayed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    version: int = Field(default=1, ge=1, le=1_000_000)
    detectors: Detectors
    face_persist_seconds: float = Field(
        default=3, gt=0, le=60, allow_inf_nan=False, description="face.* starts after this long"
    )
    face_interval_ms: int = Field(default=1000, ge=200, le=10_000)
    audio_persist_seconds: float = Field(
        default=2, gt=0, le=60, allow_inf_nan=False, description="audio.voice starts after this"
    )
    audio_threshold: float = Field(
        default=0.02, gt=0, le=1, allow_inf_nan=False, description="speech-band energy, 0-1"
    )
    silence_seconds: int = Field(
        default=60, ge=15, le=3600, description="no report for this long -> client.silent"
    )
    snapshot_interval_seconds: int = Field(
        default=60,
        ge=10,
        le=3600,
        description="a webcam snapshot this often (and at each face event's start and end)",
    )
    id_photo: bool = Field(
        default=False, description="ask for a photo of an identity document before the exam"
    )
    rules: list[Rule] = Field(max_length=200)

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: list[Rule]) -> list[Rule]:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice: give each rule its own id")
            seen.add(rule.id)
        return rules

    def rules_for(self, kind: str) -> list[Rule]:
        return [r for r in self.rules if r.kind == kind]

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)
