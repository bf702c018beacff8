"""Consent covers exactly what is captured: for every preset and for custom
policies generated over the capture switches, the consent text, the landing
page's "what is recorded", the consent record, the system check's device
requirements and what the player is configured to capture name the same
set; and evidence of a kind the candidate did not consent to is refused."""

from __future__ import annotations

import hashlib
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

from invigil.audit.models import AuditEvent
from invigil.delivery import attempt_detail
from invigil.delivery.models import Attempt, Consent
from invigil.evidence.models import EvidenceObject
from invigil.evidence.service import Evidence
from invigil.proctoring.disclosure import CAPTURES, describe
from invigil.proctoring.policy import PRESETS, Policy
from invigil.settings import Settings
from invigil.tenants import service as tenants
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.delivery.factories import exam_with_every_type, kit_for, make_invitation, token_of
from tests.delivery.test_attempts import begin, browser, consent_form, invited, start
from tests.evidence.factories import jpeg, make_evidence
from tests.test_pages_matrix import web_client

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


# -- the candidate's language ----------------------------------------------------------

AUTHOR_EN = "Acme Hiring keeps your answers for the hiring decision only."
AUTHOR_DE = "Acme Hiring verwendet Ihre Antworten nur für die Einstellungsentscheidung."
SHA = re.compile(r'name="consent_sha256" value="([0-9a-f]{64})"')


def _bilingual(db: BoundDatabase, settings: Settings, **invite: Any) -> tuple[Any, str]:
    """A tenant offering English (its default) and German, an exam whose author
    wrote a consent text in both, and an invitation (``language=`` given)."""
    tenant = make_tenant(db, settings)
    with db.unit_of_work(tenant.id) as uow:
        tenants.set_languages(uow, ["en", "de"], "en")
    exam = exam_with_every_type(
        db,
        tenant.id,
        settings={"proctoring_preset": "standard"},
        consent_text=AUTHOR_EN,
        consent_translations={"de": AUTHOR_DE},
    )
    made = make_invitation(db, tenant.id, kit_for(settings), exam, **invite)
    return made, token_of(made)


def _shown(page: str) -> tuple[str, str]:
    """The consent text on the page (its paragraphs as recorded) and its lang."""
    found = re.search(r'<div class="consent-text"[^>]*lang="([^"]+)"[^>]*>(.*?)</div>', page, re.S)
    assert found is not None, page[:500]
    paragraphs = re.findall(r"<p>(.*?)</p>", found.group(2), re.S)
    return "\n\n".join(html.unescape(p) for p in paragraphs), found.group(1)


def _recorded(db: BoundDatabase, made: Any, action: str) -> tuple[Consent, dict[str, Any]]:
    with db.unit_of_work(made.invitation.tenant_id) as uow:
        consent = uow.scalar(select(Consent))
        entry = uow.scalar(select(AuditEvent).where(AuditEvent.action == action))
        assert consent is not None and entry is not None
        return consent, dict(entry.payload)


def test_a_german_candidate_reads_hashes_and_records_the_german_consent(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = _bilingual(db, settings, language="de")
    client = TestClient(
        app,
        raise_server_exceptions=False,
        follow_redirects=False,
        headers={"accept-language": "en-GB,en;q=0.9"},
    )
    page = client.get(f"/take/{token}").text
    text, lang = _shown(page)
    assert lang == "de"
    assert text.startswith(AUTHOR_DE + "\n\n") and AUTHOR_EN not in text
    assert "Für diese Prüfung gilt die Aufsichtsstufe „Standard“." in text
    assert "90 Tage lang aufbewahrt" in text  # the plural form, from the catalog
    assert text.endswith("Ich bin einverstanden, die Prüfung unter diesen Bedingungen abzulegen.")
    assert "I agree to take" not in text and "recorded" not in text
    sha = SHA.search(page)
    assert sha is not None and sha.group(1) == hashlib.sha256(text.encode()).hexdigest()

    assert start(client, token).status_code == 303
    consent, payload = _recorded(db, made, "consent.given")
    assert (consent.decision, consent.language, consent.text) == ("given", "de", text)
    assert consent.text_sha256 == sha.group(1)
    assert payload["language"] == "de" and payload["text_sha256"] == sha.group(1)

    # Staff read the language and the text as recorded.
    staff, _ = web_client(app, db, made.invitation.tenant_id, ["grader"])
    detail = staff.get(f"/delivery/attempts/{consent.attempt_id}")
    assert detail.status_code == 200, detail.text
    assert "Text shown in Deutsch (de)" in detail.text
    assert re.search(r'class="consent-text prewrap" lang="de"', detail.text)
    assert html.escape(AUTHOR_DE) in detail.text
    api = staff.get(
        f"/api/v1/attempts/{consent.attempt_id}",
        headers=bearer(app, db, make_user(db, made.invitation.tenant_id, ["grader"])),
    )
    assert api.status_code == 200, api.text
    assert api.json()["consent"]["language"] == "de"


def test_a_german_candidate_who_declines_is_recorded_in_german(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = _bilingual(db, settings, language="de")
    client = browser(app)
    text, lang = _shown(client.get(f"/take/{token}").text)
    declined = client.post(f"/take/{token}/decline", data={"consent_language": lang})
    assert declined.status_code == 200, declined.text
    consent, payload = _recorded(db, made, "consent.declined")
    assert (consent.decision, consent.language, consent.text) == ("declined", "de", text)
    assert payload["language"] == "de"
    assert payload["text_sha256"] == hashlib.sha256(text.encode()).hexdigest()


def test_switching_language_before_start_is_refused_not_recorded(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = _bilingual(db, settings, language="de")
    client = browser(app)
    german = client.get(f"/take/{token}").text
    form = consent_form(german)
    assert form["consent_language"] == "de"
    # In another tab, the candidate switches to English; then submits the German page.
    switched = client.post(f"/take/{token}/language", data={"language": "en"})
    assert switched.status_code == 303
    refused = client.post(f"/take/{token}/start", data=form)
    assert refused.status_code == 409, refused.text
    assert "The consent text changed since this page was opened" in refused.text
    text, lang = _shown(refused.text)  # the page now shows the English text to read
    assert lang == "en" and text.startswith(AUTHOR_EN)
    # Right hash, wrong language: refused as well (the record must name what was shown).
    english = consent_form(refused.text)
    assert (
        client.post(f"/take/{token}/start", data=english | {"consent_language": "de"}).status_code
        == 409
    )
    with db.unit_of_work(made.invitation.tenant_id) as uow:
        assert uow.scalars(select(Consent)) == [] and uow.scalars(select(Attempt)) == []
    assert client.post(f"/take/{token}/start", data=english).status_code == 303
    consent, _ = _recorded(db, made, "consent.given")
    assert (consent.language, consent.text) == ("en", text)


def test_the_camera_sentence_counts_in_the_candidates_language() -> None:
    every = Policy.model_validate(PRESETS["high_stakes"]).model_copy(
        update={"snapshot_interval_seconds": 3600}
    )
    assert "alle 3.600 Sekunden" in describe("camera", every, "de")
    assert "every 3,600 seconds" in describe("camera", every, "en")
