"""The four built-in policies, from a lenient practice quiz to a high-stakes
certification.

The consent text discloses exactly what a preset's detectors capture (it
is derived from them: ``invigil.proctoring.disclosure``), and each preset
has a rule for every kind those detectors report. ``warn`` messages speak to the candidate (they see
a banner naming the rule): they are marked ``N_()``, the player gets their translations with its
own strings and shows them in the candidate's language (the server sends them as written; a
policy's own wording is shown as its author wrote it); the others speak to the reviewer. Face
and audio episodes start only after the policy's persistence threshold, so a ``min_duration`` of
0 on them already means "for a few seconds".
"""

from __future__ import annotations

from invigil.i18n import N_
from invigil.proctoring.rules import Detectors, Policy, Rule

TEN_MINUTES = 600.0


def _rule(
    id: str,
    kind: str,
    severity: str,
    action: str,
    *,
    message: str,
    after: float = 0,
    count: int = 1,
    within: float | None = None,
) -> Rule:
    return Rule.model_validate(
        {
            "id": id,
            "kind": kind,
            "severity": severity,
            "action": action,
            "message": message,
            "min_duration_seconds": after,
            "count": count,
            "window_seconds": within,
        }
    )


def _detectors(*on: str) -> Detectors:
    names = ("face", "audio", "focus", "fullscreen", "devtools", "clipboard", "screen")
    unknown = set(on) - set(names)
    assert not unknown, unknown
    return Detectors(**{n: n in on for n in names})


# fmt: off
# Rules shared by several presets.
_CLIPBOARD = [
    _rule("clipboard-copy-log", "clipboard.copy", "low", "log", message="Text was copied."),
    _rule("clipboard-paste-log", "clipboard.paste", "medium", "log", message="Text was pasted."),
    _rule("context-menu-log", "context_menu", "low", "log",
          message="The context menu was opened."),
]
_DETECTOR_FAILED_WARN = _rule(
    "detector-failed-warn", "detector.failed", "low", "warn",
    message=N_("A proctoring check could not run: allow the camera, microphone or screen this "
                "exam asks for, and make sure your face is well lit."))
_OFFLINE_LOG = _rule(
    "network-offline-log", "network.offline", "low", "log",
    message="The connection dropped; answers and events were kept and sent on reconnecting.")


def _strict(high_stakes: bool) -> list[Rule]:
    """What strict and high stakes share; each adds its own rules."""
    multiple = (
        _rule("face-multiple-fail", "face.multiple", "critical", "provisional_fail",
              message="More than one face was in view (provisional fail, pending review).")
        if high_stakes else
        _rule("face-multiple-flag", "face.multiple", "high", "flag",
              message="More than one face was in view of the camera.")
    )
    return [
        _rule("face-none-warn", "face.none", "medium", "warn",
              message=N_("Keep your face in view of the camera.")),
        _rule("face-none-flag", "face.none", "high", "flag", after=30,
              message="No face was in view for 30 seconds or more."),
        _rule("face-multiple-warn", "face.multiple", "high", "warn",
              message=N_("Only you should be in view of the camera.")),
        multiple,
        _rule("face-mismatch-flag", "face.mismatch", "critical" if high_stakes else "high", "flag",
              message="A snapshot showed a different number of faces than the browser said."),
        _rule("camera-stopped-warn", "camera.stopped", "high", "warn",
              message=N_("Turn your camera back on: this exam needs it.")),
        _rule("camera-stopped-flag", "camera.stopped", "high", "flag",
              message="The camera stopped during the exam."),
        _rule("audio-voice-warn", "audio.voice", "medium", "warn",
              message=N_("Work in silence: voices were heard.")),
        _rule("focus-lost-warn", "focus.lost", "medium", "warn",
              message=N_("Keep the exam window in focus.")),
        _rule("focus-lost-flag", "focus.lost", "high", "flag", count=3, within=TEN_MINUTES,
              message="Another window was used 3 times within 10 minutes."),
        _rule("tab-hidden-warn", "tab.hidden", "high" if high_stakes else "medium", "warn",
              message=N_("Stay on the exam tab until you submit.")),
        _rule("fullscreen-exit-warn", "fullscreen.exit", "medium", "warn",
              message=N_("Return to full screen to continue the exam.")),
        _rule("fullscreen-exit-long-flag", "fullscreen.exit", "high", "flag", after=30,
              message="Full screen was left for 30 seconds or more."),
        _rule("fullscreen-exit-repeat-flag", "fullscreen.exit", "high", "flag", count=3,
              message="Full screen was left 3 times."),
        _rule("devtools-submit", "devtools.open", "critical", "auto_submit",
              message="Developer tools are not allowed in this exam: it was submitted."),
        _rule("screen-share-stopped-warn", "screen.share_stopped", "high", "warn",
              message=N_("Share your entire screen again to continue the exam.")),
        _rule("screen-share-stopped-flag", "screen.share_stopped", "high", "flag",
              message="Screen sharing stopped during the exam."),
        *_CLIPBOARD,
        _DETECTOR_FAILED_WARN,
        _OFFLINE_LOG,
    ]


PRACTICE = Policy(
    name="practice",
    detectors=_detectors("focus"),
    rules=[
        _rule("tab-hidden-log", "tab.hidden", "low", "log",
              message="The exam tab was hidden (practice: recorded only)."),
        _rule("focus-lost-log", "focus.lost", "low", "log",
              message="The exam window lost focus (practice: recorded only)."),
        _rule("network-offline-log", "network.offline", "info", "log",
              message="The connection dropped."),
        _rule("detector-failed-log", "detector.failed", "info", "log",
              message="A check in the browser could not run."),
        _rule("client-silent-log", "client.silent", "info", "log",
              message="The browser stopped reporting for a while."),
    ],
)

STANDARD = Policy(
    name="standard",
    detectors=_detectors("face", "focus", "devtools", "clipboard"),
    rules=[
        _rule("face-none-warn", "face.none", "medium", "warn",
              message=N_("Keep your face in view of the camera.")),
        _rule("face-none-flag", "face.none", "medium", "flag", after=120,
              message="No face was in view for 2 minutes or more."),
        _rule("face-multiple-warn", "face.multiple", "high", "warn",
              message=N_("Only you should be in view of the camera.")),
        _rule("face-multiple-flag", "face.multiple", "high", "flag",
              message="More than one face was in view of the camera."),
        _rule("face-mismatch-flag", "face.mismatch", "high", "flag",
              message="A snapshot showed a different number of faces than the browser said."),
        _rule("camera-stopped-warn", "camera.stopped", "medium", "warn",
              message=N_("Turn your camera back on: this exam needs it.")),
        _rule("camera-stopped-flag", "camera.stopped", "medium", "flag", after=60,
              message="The camera was off for a minute or more."),
        _rule("tab-hidden-warn", "tab.hidden", "low", "warn",
              message=N_("Stay on the exam tab until you submit.")),
        _rule("tab-hidden-flag", "tab.hidden", "medium", "flag", count=3, within=TEN_MINUTES,
              message="The exam tab was left 3 times within 10 minutes."),
        _rule("focus-lost-warn", "focus.lost", "low", "warn",
              message=N_("Keep the exam window in focus.")),
        _rule("focus-lost-flag", "focus.lost", "medium", "flag", count=5, within=TEN_MINUTES,
              message="Another window was used 5 times within 10 minutes."),
        _rule("devtools-flag", "devtools.open", "high", "flag",
              message="Developer tools were opened during the exam."),
        *_CLIPBOARD,
        _DETECTOR_FAILED_WARN,
        _OFFLINE_LOG,
        _rule("client-silent-log", "client.silent", "low", "log",
              message="The browser stopped reporting for a while."),
    ],
)

STRICT = Policy(
    name="strict",
    snapshot_interval_seconds=30,
    detectors=_detectors("face", "audio", "focus", "fullscreen", "devtools", "clipboard", "screen"),
    rules=[
        *_strict(high_stakes=False),
        _rule("audio-voice-flag", "audio.voice", "high", "flag", count=5, within=TEN_MINUTES,
              message="Voices were heard 5 times within 10 minutes."),
        _rule("tab-hidden-flag", "tab.hidden", "high", "flag", count=3, within=TEN_MINUTES,
              message="The exam tab was left 3 times within 10 minutes."),
        _rule("client-silent-flag", "client.silent", "medium", "flag",
              message="The browser stopped reporting: proctoring was interrupted."),
    ],
)

HIGH_STAKES = Policy(
    name="high_stakes",
    snapshot_interval_seconds=30,
    id_photo=True,
    detectors=_detectors("face", "audio", "focus", "fullscreen", "devtools", "clipboard", "screen"),
    rules=[
        *_strict(high_stakes=True),
        _rule("devtools-fail", "devtools.open", "critical", "provisional_fail",
              message="Developer tools were opened (provisional fail, pending review)."),
        _rule("audio-voice-flag", "audio.voice", "high", "flag", count=3, within=TEN_MINUTES,
              message="Voices were heard 3 times within 10 minutes."),
        _rule("tab-hidden-fail", "tab.hidden", "critical", "provisional_fail", count=3,
              within=TEN_MINUTES,
              message="The exam tab was left 3 times within 10 minutes (provisional fail, "
                      "pending review)."),
        _rule("network-offline-flag", "network.offline", "medium", "flag", after=300,
              message="The connection was down for 5 minutes or more."),
        _rule("client-silent-flag", "client.silent", "high", "flag",
              message="The browser stopped reporting: proctoring was interrupted."),
    ],
)
# fmt: on

PRESETS: dict[str, Policy] = {p.name: p for p in (PRACTICE, STANDARD, STRICT, HIGH_STAKES)}
