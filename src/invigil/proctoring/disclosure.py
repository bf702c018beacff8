"""What a proctoring policy captures, in the candidate's words.

One function, :func:`captures`, reads a policy's detectors and its ID photo
switch and names what the candidate's page will capture. Everything the
candidate is told or asked for comes from that list: the consent text and
the landing page's "what is recorded" (``invigil.delivery.landing``), the
system check's device requirements, and the consent record itself, which
stores the list; the evidence routes refuse a kind of evidence whose
capture is not on the consented list (:data:`EVIDENCE_CAPTURE`). The player
captures what the same policy's detectors turn on, so what is captured and
what was consented to cannot drift apart (docs/proctoring.md, "Consent").
"""

from __future__ import annotations

from collections.abc import Iterable

from invigil import i18n
from invigil.i18n import N_, NP_
from invigil.proctoring.rules import Policy

# In the order the candidate reads them.
CAPTURES: tuple[str, ...] = (
    "camera",
    "microphone",
    "screen",
    "id_photo",
    "focus",
    "fullscreen",
    "devtools",
    "clipboard",
)
_DETECTED = ("face", "audio", "screen", "focus", "fullscreen", "devtools", "clipboard")
_CAPTURE_OF_DETECTOR = {"face": "camera", "audio": "microphone"}

# What a device requirement of the system check is needed for.
_NEEDS = {
    "camera": ("camera", "id_photo"),
    "microphone": ("microphone",),
    "screen": ("screen",),
    "fullscreen": ("fullscreen",),
}
DEVICES: tuple[str, ...] = tuple(_NEEDS)

# The capture an uploaded kind of evidence belongs to.
EVIDENCE_CAPTURE = {
    "snapshot": "camera",
    "id_photo": "id_photo",
    "recording_chunk": "screen",
    "room_check": "camera",  # a clip of the room, asked for live by a proctor
}


def captures(policy: Policy) -> tuple[str, ...]:
    """What ``policy`` has the candidate's page capture, in :data:`CAPTURES` order."""
    on = {
        _CAPTURE_OF_DETECTOR.get(name, name)
        for name in _DETECTED
        if getattr(policy.detectors, name)
    }
    if policy.id_photo:
        on.add("id_photo")
    return tuple(c for c in CAPTURES if c in on)


def billing_level(captured: Iterable[str]) -> str:
    """The proctoring level a price list prices (docs/formats/price-list.md):
    ``screen`` when the screen is recorded, ``webcam`` when the camera, the
    microphone or an ID photo is used, else ``unproctored`` (browser signals only)."""
    on = set(captured)
    if "screen" in on:
        return "screen"
    if on & {"camera", "microphone", "id_photo"}:
        return "webcam"
    return "unproctored"


def describe(capture: str, policy: Policy, locale: str = i18n.DEFAULT) -> str:
    """One capture as the candidate reads it, in ``locale``."""
    if capture == "camera":
        n = policy.snapshot_interval_seconds
        words = i18n.ngettext(locale, *_CAMERA, n)
        return words % {"seconds": i18n.local_number(n, locale)}
    return i18n.gettext(locale, _PLAIN[capture])


_CAMERA = NP_(
    "webcam snapshots every %(seconds)s second and when the face check notices something, "
    "checked for one visible face",
    "webcam snapshots every %(seconds)s seconds and when the face check notices something, "
    "checked for one visible face",
)


# Marked for translation: the landing page shows them in the candidate's language.
_PLAIN = {
    "microphone": N_("microphone: whether voices are heard (no continuous recording)"),
    "screen": N_("your screen, recorded while the exam runs"),
    "id_photo": N_("a photo of your identity document, taken before the exam starts"),
    "focus": N_("browser activity: leaving the exam tab or window"),
    "fullscreen": N_("browser activity: leaving full screen (the exam runs in full screen)"),
    "devtools": N_("browser activity: opening developer tools"),
    "clipboard": N_("browser activity: copy, paste and the context menu"),
}


def requirements(captured: Iterable[str]) -> dict[str, bool]:
    """The devices the system check asks for before the clock starts."""
    on = set(captured)
    return {device: any(c in on for c in needs) for device, needs in _NEEDS.items()}


def covers(consented: Iterable[str], evidence_kind: str) -> bool:
    """Whether consent to the captures ``consented`` covers evidence of
    ``evidence_kind`` (a kind no capture produces is covered by none)."""
    needed = EVIDENCE_CAPTURE.get(evidence_kind)
    return needed is not None and needed in set(consented)
