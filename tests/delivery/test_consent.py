"""Consent covers exactly what is captured: for every preset and for custom
policies generated over the capture switches, the consent text, the landing
page's "what is recorded", the consent record, the system check's device
requirements and what the player is configured to capture name the same
set; and evidence of a kind the candidate did not consent to is refused."""

from __future__ import annotations

import html
import random
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from invigil.delivery import attempt_detail
from invigil.delivery.models import Attempt, Consent
from invigil.evidence.models import EvidenceObject
from invigil.evidence.service import Evidence
from invigil.proctoring.disclosure import CAPTURES, describe
from invigil.proctoring.policy import PRESETS, Policy
from invigil.settings import Settings
from tests.conftest import BoundDatabase
from tests.delivery.test_attempts import begin, browser, invited, start
from tests.evidence.factories import jpeg, make_evidence

SWITCHES = ("face", "audio", "focus", "fullscreen", "devtools", "clipboard", "screen")
CAPTURE = re.compile(r'<li data-capture="([a-z_]+)">')
CONSENT_TEXT = re.compile(r'<div class="consent-text"[^>]*>(.*?)</div>', re.S)


def _custom(rng: random.Random, n: int) -> dict[str, Any]:
    return {
        "name": f"generated {n}",
        "detectors": {s: rng.random() < 0.5 for s in SWITCHES},
        "id_photo": rng.random() < 0.5,
        "snapshot_interval_seconds": rng.randint(10, 3600),
        "rules": [],
    }


NOTHING = {"name": "nothing", "detectors": dict.fromkeys(SWITCHES, False), "rules": []}
_rng = random.Random(17)  # seeded: the same policies on every run
CASES: list[tuple[str, dict[str, Any]]] = [
    *[(f"preset {name}", {"proctoring_preset": name}) for name in sorted(PRESETS)],
    # The review's case: the practice preset named, a custom policy capturing everything.
    (
        "practice + custom everything",
        {
            "proctoring_preset": "practice",
            "proctoring_policy": {
                "name": "watch it all",
                "detectors": {s: s in ("face", "audio", "screen", "focus") for s in SWITCHES},
                "id_photo": True,
                "rules": [],
            },
        },
    ),
    ("custom nothing", {"proctoring_policy": NOTHING}),
    *[(f"custom {n}", {"proctoring_policy": _custom(_rng, n)}) for n in range(1, 9)],
]


def player_captures(proctoring: dict[str, Any]) -> set[str]:
    """What the player (static/player/proctor.js, idphoto.js) captures with
    this configuration: snapshots with the face check's camera, the voice
    check's microphone, the shared screen, an ID photo before the clock, and
    the browser signals its detectors watch."""
    d = proctoring["detectors"]
    named = {"face": "camera", "audio": "microphone"}
    out = {named.get(s, s) for s in SWITCHES if d[s]}
    return out | ({"id_photo"} if proctoring["id_photo"] else set())


def player_devices(proctoring: dict[str, Any]) -> set[str]:
    """The devices the player opens for that capture."""
    d = proctoring["detectors"]
    wanted = {
        "camera": d["face"] or proctoring["id_photo"],
        "microphone": d["audio"],
        "screen": d["screen"],
        "fullscreen": d["fullscreen"],
    }
    return {device for device, on in wanted.items() if on}


@pytest.fixture
def evidence(app: FastAPI, tmp_path: Path) -> Evidence:
    ev = make_evidence(tmp_path)
    app.state.services.evidence = ev
    return ev


def _upload(client: TestClient, api: str, kind: str) -> int:
    if kind == "recording_chunk":
        r = client.post(f"{api}/uploads", json={"kind": kind})
    else:
        r = client.post(f"{api}/evidence/{kind}", content=jpeg())
    if r.status_code == 403:
        assert r.json()["type"] == "urn:invigil:problem:not-consented", r.text
    return r.status_code


@pytest.mark.parametrize(("label", "exam"), CASES, ids=[c[0] for c in CASES])
def test_consent_landing_check_and_player_name_the_same_captures(
    app: FastAPI,
    db: BoundDatabase,
    settings: Settings,
    evidence: Evidence,
    label: str,
    exam: dict[str, Any],
) -> None:
    made, token = invited(db, settings, **exam)
    client = browser(app)
    page = client.get(f"/take/{token}").text
    shown = CAPTURE.findall(page)
    consent_html = CONSENT_TEXT.search(page)
    assert consent_html is not None
    text = html.unescape(consent_html.group(1))

    assert start(client, token).status_code == 303
    state = client.get(f"/take/{token}/api/state").json()
    proctoring = state["proctoring"]
    policy = Policy.model_validate(
        exam.get("proctoring_policy") or PRESETS[exam["proctoring_preset"]]
    )
    with db.unit_of_work(made.invitation.tenant_id) as uow:
        consent = uow.scalar(select(Consent))
        assert consent is not None

    captured = player_captures(proctoring)
    assert set(shown) == captured, label  # "what is recorded"
    assert consent.captures == shown  # the record names it, in the page's order
    with db.unit_of_work(made.invitation.tenant_id) as uow:  # and the reviewer reads it
        attempt = uow.get(Attempt, uuid.UUID(state["attempt_id"]))
        steps = attempt_detail.detail(uow, attempt, with_result=False).timeline()
        [given] = [s for s in steps if s.what == "Consent given"]
        assert given.notes[-1] == "Captures agreed to: " + (
            ", ".join(shown) or "none beyond the answers"
        )
    for capture in CAPTURES:  # the consent text says each, and nothing else
        assert (describe(capture, policy) in text) == (capture in captured), (label, capture)
    assert consent.text.replace("\n\n", "") == text.replace("</p>", "").replace("<p>", "").strip()
    if not captured:
        assert "nothing is recorded beyond my answers" in text
    devices = {device for device, on in state["requirements"].items() if on}
    assert devices == player_devices(proctoring), label  # the system check

    # The server takes evidence of exactly the consented kinds.
    began = begin(client, token)
    assert began.status_code == 200, began.text
    api = f"/take/{token}/api"
    kinds = {"snapshot": "camera", "id_photo": "id_photo", "recording_chunk": "screen"}
    for kind, capture in kinds.items():
        status = _upload(client, api, kind)
        assert status == (201 if capture in captured else 403), (label, kind, status)


def test_an_upload_not_consented_stores_nothing(
    app: FastAPI, db: BoundDatabase, settings: Settings, evidence: Evidence
) -> None:
    made, token = invited(db, settings, proctoring_preset="practice")
    client = browser(app)
    assert start(client, token).status_code == 303
    assert client.post(f"/take/{token}/api/begin").status_code == 200
    api = f"/take/{token}/api"
    for kind in ("snapshot", "id_photo", "recording_chunk"):
        assert _upload(client, api, kind) == 403
    refused = client.post(f"{api}/evidence/snapshot", content=jpeg())
    assert "did not consent to snapshot evidence" in refused.json()["detail"]
    assert refused.json()["consented"] == ["focus"]
    with db.unit_of_work(made.invitation.tenant_id) as uow:
        assert uow.scalars(select(EvidenceObject)) == []
